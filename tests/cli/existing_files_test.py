"""Files that are already there (issue 11): inputs, outputs, restore targets, --force, pipes, and a
JSON report on every exit path."""
import hashlib
import json
import os
import random
import stat
import subprocess
import sys
import threading
import time
import unittest
import zipfile

import jsonschema

from zmtest import SRC, TempDirTest, ZIPMEDIC, Layout, codes, fixture_path, name_of, read, report, run, run_json

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from zipstream_like import ZipstreamLike  # noqa: E402


def cut_inside_backup_jsonl():
    """zipstream-ng's SysReptor fixture cut in the middle of backup.jsonl (deflate, bit 3): the
    download that stopped."""
    data = read("zipstream-ng-sysreptor.zip")
    lay = Layout(data)
    k = [i.filename for i in lay.infos].index("backup.jsonl")
    s, e = lay.extent(k)
    return data[:(s + e) // 2]


def schema():
    with open(os.path.join(SRC, "docs", "report.schema.json")) as f:
        return json.load(f)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class InputIsSacred(TempDirTest):
    def setUp(self):
        super().setUp()
        self.src = self.write("in.zip", cut_inside_backup_jsonl())
        self.digest = sha(self.src)

    def assert_refused(self, *args):
        p = run("repair", *args)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"is the input", p.stderr)
        self.assertEqual(sha(self.src), self.digest)
        self.assertEqual([n for n in os.listdir(self.tmp) if "zipmedic-tmp" in n], [])

    def test_output_that_is_the_input_by_path_symlink_or_hard_link_is_refused(self):
        link = os.path.join(self.tmp, "link.zip")
        os.symlink(self.src, link)
        hard = os.path.join(self.tmp, "hard.zip")
        os.link(self.src, hard)
        for out in (self.src, os.path.join(self.tmp, ".", "in.zip"), link, hard):
            for force in ((), ("--force",)):
                with self.subTest(out=out, force=force):
                    self.assert_refused(self.src, "-o", out, *force)

    def test_standard_output_redirected_to_the_input_is_refused(self):
        with open(self.src, "ab") as f:
            p = subprocess.run([ZIPMEDIC, "repair", self.src, "-o", "-"], stdout=f, stderr=subprocess.PIPE,
                               timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(sha(self.src), self.digest)


class ExistingOutput(TempDirTest):
    def test_existing_output_is_refused_without_force_and_replaced_with_it(self):
        src = self.write("in.zip", cut_inside_backup_jsonl())
        out = self.write("out.zip", b"someone's file")
        p = run("repair", src, "-o", out)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--force", p.stderr)
        self.assertEqual(open(out, "rb").read(), b"someone's file")
        p = run("repair", src, "-o", out, "--force", "--quiet")
        self.assertEqual(p.returncode, 1, p.stderr)  # one entry lost: the cut one
        with zipfile.ZipFile(out) as z:
            self.assertIsNone(z.testzip())

    def test_force_through_a_symlink_replaces_the_file_and_keeps_the_link(self):
        src = self.write("in.zip", cut_inside_backup_jsonl())
        target = self.write("target.zip", b"old")
        link = os.path.join(self.tmp, "link.zip")
        os.symlink("target.zip", link)
        p = run("repair", src, "-o", link, "--force", "--quiet")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertTrue(os.path.islink(link))
        with zipfile.ZipFile(target) as z:
            self.assertIsNone(z.testzip())

    def test_directory_and_dangling_link_outputs_are_usage_errors(self):
        src = self.write("in.zip", cut_inside_backup_jsonl())
        dangling = os.path.join(self.tmp, "dangling.zip")
        os.symlink("nowhere/x.zip", dangling)
        for out in (self.tmp, dangling):
            with self.subTest(out=out):
                self.assertEqual(run("repair", src, "-o", out, "--force").returncode, 2)
        self.assertTrue(os.path.islink(dangling))


class StreamOutputs(TempDirTest):
    def test_dash_writes_the_archive_to_stdout_and_the_report_to_stderr(self):
        src = self.write("in.zip", cut_inside_backup_jsonl())
        p = run("repair", src, "-o", "-", "--json")
        self.assertEqual(p.returncode, 1, p.stderr)
        out = self.write("from-stdout.zip", p.stdout)
        with zipfile.ZipFile(out) as z:
            self.assertIsNone(z.testzip())
            self.assertNotIn("backup.jsonl", z.namelist())
        doc = report(p.stderr)  # the report is all that goes to stderr
        self.assertEqual(doc["output"]["mode"], "stream")
        jsonschema.validate(doc, schema())
        self.assertEqual(doc["output"]["verdict"], "ok")
        self.assertEqual(sorted(os.listdir(self.tmp)), ["from-stdout.zip", "in.zip"])

    def test_character_device_is_written_as_it_is_and_stays_a_device(self):
        src = self.write("in.zip", cut_inside_backup_jsonl())
        node = os.path.join(self.tmp, "null")
        try:
            os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # what /dev/null is
        except PermissionError:  # a platform limit, not a missing tool: an unprivileged user or container
            self.skipTest("mknod needs CAP_MKNOD")
        for force in ((), ("--force",)):
            with self.subTest(force=force):
                p = run("repair", src, "-o", node, "--quiet", *force)
                self.assertEqual(p.returncode, 1, p.stderr)
                st = os.lstat(node)
                self.assertTrue(stat.S_ISCHR(st.st_mode))
                self.assertEqual((os.major(st.st_rdev), os.minor(st.st_rdev)), (1, 3))
        self.assertEqual(sorted(os.listdir(self.tmp)), ["in.zip", "null"])

    def test_fifo_with_a_reader_gets_the_archive_and_stays_a_fifo(self):
        src = self.write("in.zip", cut_inside_backup_jsonl())
        fifo = os.path.join(self.tmp, "pipe")
        os.mkfifo(fifo)
        got = []

        def reader():
            with open(fifo, "rb") as f:
                got.append(f.read())

        t = threading.Thread(target=reader)
        t.start()
        p = run("repair", src, "-o", fifo, "--quiet")
        t.join(timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        with zipfile.ZipFile(self.write("got.zip", got[0])) as z:
            self.assertIsNone(z.testzip())

    def test_dev_stdout_is_the_descriptor_not_a_path_to_replace(self):
        src = self.write("in.zip", cut_inside_backup_jsonl())
        out = os.path.join(self.tmp, "redirected.zip")
        with open(out, "wb") as f:
            p = subprocess.run([ZIPMEDIC, "repair", src, "-o", "/dev/stdout", "--quiet"], stdout=f,
                               stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["in.zip", "redirected.zip"])
        with zipfile.ZipFile(out) as z:
            self.assertIsNone(z.testzip())


class InPlaceIdempotent(TempDirTest):
    def test_a_second_in_place_repair_changes_nothing_and_exits_0(self):
        for name, data in (("zipstream", cut_inside_backup_jsonl()),
                           ("infozip", read("infozip-file.zip")[:len(read("infozip-file.zip")) * 2 // 3])):
            with self.subTest(archive=name):
                src = self.write(name + ".zip", data)
                p = run("repair", "--in-place", "--quiet", src)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertEqual(run("verify", "--quiet", src).returncode, 0)
                once = open(src, "rb").read()
                for _ in range(2):
                    p, doc = run_json("repair", "--in-place", src)
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertEqual(open(src, "rb").read(), once)
                    self.assertFalse(doc["output"]["written"])
                    self.assertEqual(doc["verdict"], "ok")
                    self.assertNotIn("eocd_missing", codes(doc))

    def test_whole_archives_with_warnings_stay_byte_identical(self):
        data = read("infozip-file.zip")
        lay = Layout(data)
        # Bytes between the last entry and the directory: a gap_bytes warning, still whole.
        padded = data[:lay.cd_start] + b"\0" * 64 + data[lay.cd_start:]
        b = bytearray(padded)
        end = padded.rfind(b"PK\x05\x06")
        cd_off = int.from_bytes(b[end + 16:end + 20], "little")
        b[end + 16:end + 20] = (cd_off + 64).to_bytes(4, "little")
        src = self.write("padded.zip", bytes(b))
        p, doc = run_json("verify", src)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("gap_bytes", codes(doc))
        p = run("repair", "--in-place", src)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(open(src, "rb").read(), bytes(b))


class KillDuringInPlace(TempDirTest):
    """kill -9 at 24 moments spread over an in-place repair of an ~80 MB archive cut inside its last
    entry: the original bytes never change, and one more run finishes the job."""

    def make_archive(self):
        path = os.path.join(self.tmp, "big.zip")
        rnd = random.Random(11)
        with open(path, "wb") as f:
            w = ZipstreamLike(f, level=1)
            for i in range(150):
                # Compressible lines and incompressible noise: about 0.55 MB of archive per entry.
                lines = b"".join(b'{"model": "findings", "pk": %d, "text": "lorem ipsum"}\n' % (i * 5000 + k)
                                 for k in range(5000))
                w.write_entry("backup-%03d.jsonl" % i, [lines, rnd.randbytes(500_000)])
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size - 100_000)
        return path

    def test_sigkill_at_24_points_never_changes_the_original_and_a_rerun_finishes(self):
        big = self.make_archive()
        original = open(big, "rb").read()
        self.assertGreater(len(original), 75_000_000)
        digest = hashlib.sha256(original).digest()
        copy = big + ".probe"
        runs = []
        for _ in range(3):
            with open(copy, "wb") as f:
                f.write(original)
            t = time.monotonic()
            p = subprocess.run([ZIPMEDIC, "repair", "--in-place", "--quiet", "-t", "1", copy], capture_output=True)
            runs.append(time.monotonic() - t)
            self.assertEqual(p.returncode, 1, p.stderr)
        os.remove(copy)
        # The shortest run: on a shared machine a run takes 0.05 to 0.11 s here with every core
        # (one thread makes it longer, so that the kills spread wider than the scheduler's noise),
        # and a kill after the end is no kill. The machine's load changes while the kills run: a
        # kill that came after the end shrinks the estimate of the run's length, and its 24th is
        # tried again, so that every one of the 24 lands inside a run.
        window = min(runs)
        landed = 0
        rnd = random.Random(5)
        for k in range(120):
            if landed == 24:
                break
            with open(big, "wb") as f:
                f.write(original)
            # Spread over the run: kill number n lands at a random moment of the n-th 24th of the
            # run time.
            delay = window * (landed + rnd.random()) / 24
            proc = subprocess.Popen([ZIPMEDIC, "repair", "--in-place", "--quiet", "-t", "1", big],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            proc.kill()
            proc.wait(timeout=60)
            if proc.returncode == -9:
                landed += 1
            else:
                window *= 0.8
            with open(big, "rb") as f:
                self.assertEqual(hashlib.sha256(f.read(len(original))).digest(), digest, "kill %d" % k)
            # A second run finishes the job, whatever the kill left after the original bytes.
            p = run("repair", "--in-place", "--quiet", big)
            self.assertIn(p.returncode, (0, 1), p.stderr)
            with open(big, "rb") as f:
                self.assertEqual(hashlib.sha256(f.read(len(original))).digest(), digest, "rerun %d" % k)
            p, doc = run_json("verify", big)
            self.assertEqual(p.returncode, 0, "kill %d at %.3f s: %s" % (k, delay, p.stderr))
            self.assertEqual(doc["verdict"], "ok")
        self.assertEqual(landed, 24, "too few kills landed during a repair (runs %s, window %.3f s)" % (runs, window))
        with zipfile.ZipFile(big) as z:
            self.assertIsNone(z.testzip())
            self.assertEqual(len(z.namelist()), 149)


class Restore(TempDirTest):
    def make_zip(self, name, members):
        path = os.path.join(self.tmp, name)
        with zipfile.ZipFile(path, "w") as z:
            for m in members:
                if isinstance(m, tuple) and m[0] == "symlink":
                    info = zipfile.ZipInfo(m[1])
                    info.create_system = 3
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                    z.writestr(info, m[2])
                else:
                    z.writestr(m[0], m[1])
        return path

    def test_existing_file_is_not_overwritten_without_force(self):
        src = self.make_zip("a.zip", [("notes.txt", b"from the backup"), ("d/b.txt", b"b")])
        out = os.path.join(self.tmp, "out")
        os.makedirs(out)
        mine = self.write("out/notes.txt", b"the user's edits")
        p, doc = run_json("restore", src, "-C", out)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(doc["restore"]["outcome"], "refused")
        self.assertEqual(doc["restore"]["entries_restored"], 0)
        self.assertIn("restore_target_exists", codes(doc, "notes.txt"))
        self.assertIn(b"--force", p.stderr)
        self.assertEqual(open(mine, "rb").read(), b"the user's edits")
        self.assertFalse(os.path.exists(os.path.join(out, "d")))
        p, doc = run_json("restore", src, "-C", out, "--force")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(doc["restore"]["entries_restored"], 2)
        self.assertEqual(open(mine, "rb").read(), b"from the backup")

    def test_existing_symlink_in_the_target_is_not_written_through(self):
        src = self.make_zip("a.zip", [("d/b.txt", b"b")])
        out = os.path.join(self.tmp, "out")
        elsewhere = os.path.join(self.tmp, "elsewhere")
        os.makedirs(out)
        os.makedirs(elsewhere)
        os.symlink(elsewhere, os.path.join(out, "d"))
        p, doc = run_json("restore", src, "-C", out)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("restore_through_symlink", codes(doc, "d/b.txt"))
        self.assertEqual(os.listdir(elsewhere), [])
        self.assertTrue(os.path.islink(os.path.join(out, "d")))

    def test_archive_writing_through_its_own_symlink_is_refused_whole_even_with_force(self):
        outside = os.path.join(self.tmp, "outside")
        os.makedirs(outside)
        src = self.make_zip("escape.zip", [("symlink", "escape", outside), ("escape/pwned.txt", b"pwned"),
                                           ("harmless.txt", b"x")])
        for force in ((), ("--force",)):
            with self.subTest(force=force):
                out = os.path.join(self.tmp, "out" + "".join(force))
                p, doc = run_json("restore", src, "-C", out, *force)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(b"refused", p.stderr)
                self.assertEqual(doc["restore"]["outcome"], "refused")
                self.assertEqual(doc["restore"]["entries_restored"], 0)
                self.assertIn("restore_through_symlink", codes(doc, "escape/pwned.txt"))
                self.assertFalse(os.path.exists(out))
                self.assertEqual(os.listdir(outside), [])

    def test_summary_counts_what_was_written(self):
        src = self.make_zip("a.zip", [("x/", b""), ("x/1.txt", b"1"), ("2.txt", b"2")])
        out = os.path.join(self.tmp, "out")
        os.makedirs(os.path.join(out, "x"))  # an existing directory is used as it is
        p, doc = run_json("restore", src, "-C", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(doc["restore"]["entries_restored"], 3)
        p = run("restore", src, "-C", out, "--force")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"restored 3 entries", p.stderr)


class Pipes(TempDirTest):
    def test_repair_dash_reads_a_pipe_and_leaves_no_spool(self):
        out = os.path.join(self.tmp, "out.zip")
        p, doc = run_json("repair", "-", "-o", out, input=cut_inside_backup_jsonl())
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(doc["archive"]["path"], "<stdin>")
        with zipfile.ZipFile(out) as z:
            self.assertIsNone(z.testzip())
        self.assertEqual(os.listdir(self.tmp), ["out.zip"])
        self.assertFalse(os.path.exists("-"))

    def test_repair_dash_in_place_is_a_usage_error(self):
        p = run("repair", "--in-place", "-", input=b"")
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"pipe", p.stderr)

    def test_restore_dash_spools_then_verifies_then_extracts(self):
        out = os.path.join(self.tmp, "out")
        p, doc = run_json("restore", "-", "-C", out, input=read("infozip-file.zip"))
        self.assertEqual(p.returncode, 0, p.stderr)
        with zipfile.ZipFile(fixture_path("infozip-file.zip")) as z:
            files = [i for i in z.infolist() if not i.is_dir()]
            self.assertEqual(doc["restore"]["entries_restored"], len(z.infolist()))
            for i in files:
                with open(os.path.join(out, name_of(i)), "rb") as f:
                    self.assertEqual(f.read(), z.read(i))
        p = run("restore", "-", "-C", os.path.join(self.tmp, "cut"), input=cut_inside_backup_jsonl())
        self.assertEqual(p.returncode, 1)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "cut")))

    def test_spool_stops_when_the_filesystem_is_too_small(self):
        tiny = os.path.join(self.tmp, "tiny")
        os.makedirs(tiny)
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", tiny], capture_output=True)
        if m.returncode != 0:  # a platform limit, not a missing tool: mount needs root (CAP_SYS_ADMIN)
            self.skipTest("cannot mount a small tmpfs here")
        try:
            p = subprocess.run([ZIPMEDIC, "repair", "-", "-o", os.path.join(tiny, "o.zip"), "--json"],
                               input=read("zipstream-ng-sysreptor.zip") * 4, capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 3, p.stderr)
            self.assertIn(b"not enough space", p.stderr)
            self.assertEqual(os.listdir(tiny), [])
        finally:
            subprocess.run(["umount", tiny], capture_output=True)


class JsonOnEveryExit(TempDirTest):
    def test_exit_3_still_prints_one_unreadable_report_saying_why(self):
        key_header = b'\xc2YPT{"cipher": "AES-GCM", "nonce": "AAAAAAAAAAAAAAAAAAAAAA==", "key_id": null}\0'
        cases = {
            "cannot_open": os.path.join(self.tmp, "missing.zip"),
            "empty_file": self.write("empty.zip", b""),
            "not_a_zip": self.write("noise.bin", bytes(random.Random(1).randrange(256) for _ in range(999))
                                    .replace(b"PK", b"pk")),
            "key_needed": self.write("b.zip.crypt", key_header + bytes(64)),
        }
        for code, path in cases.items():
            for args in (("verify", path), ("scan", path), ("repair", path, "-o", os.path.join(self.tmp, "o.zip")),
                         ("restore", path, "-C", os.path.join(self.tmp, "r"))):
                with self.subTest(code=code, command=args[0]):
                    p, doc = run_json(*args)
                    self.assertEqual(p.returncode, 3, p.stderr)
                    self.assertIsNotNone(doc, "no JSON on stdout")
                    self.assertEqual(doc["command"], args[0])
                    self.assertEqual(doc["verdict"], "unreadable")
                    self.assertEqual([f["code"] for f in doc["findings"]], [code])
                    jsonschema.validate(doc, schema())
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "o.zip")))

    def test_empty_pipe_gives_an_unreadable_report(self):
        p, doc = run_json("verify", "-", input=b"")
        self.assertEqual(p.returncode, 3)
        self.assertEqual(codes(doc), {"empty_file"})


if __name__ == "__main__":
    unittest.main()
