"""restore: byte-identical trees from verified archives, refusals that write nothing."""
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import zipfile

from zmtest import FIXTURES, Layout, fixture_path, fixtures, read, replace_name, run, run_json

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import sysreptor_tree  # noqa: E402

TREE = os.path.join(FIXTURES, "tree")


def files_under(root):
    out = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            out[os.path.relpath(p, root)] = p
    return out


class Restore(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zipmedic-restore-")

    def tearDown(self):
        subprocess.run(["umount", os.path.join(self.tmp, "tiny")], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_every_writer_restores_byte_identically(self):
        for fx in fixtures():
            if fx.startswith("zipstream"):
                continue
            # One file of its own, not the tree; methods_test.py restores it.
            if fx == "7zip-deflate64-far.zip":
                continue
            # 7-Zip cannot open it (a stub its offsets do not count), so verify calls it damaged
            # and restore refuses it; verify_test covers it.
            if fx == "sfx-shifted.zip":
                continue
            with self.subTest(fixture=fx):
                out = os.path.join(self.tmp, fx)
                p = run("restore", fixture_path(fx), "-C", out, "--quiet")
                self.assertEqual(p.returncode, 0, p.stderr)
                want, got = files_under(TREE), files_under(out)
                self.assertEqual(sorted(got), sorted(want))
                for rel in want:
                    self.assertTrue(filecmp.cmp(want[rel], got[rel], shallow=False), rel)
                # Modification times come back as the archive records them (DOS times have
                # 2-second steps; a checkout's own mtimes say nothing, git does not keep them).
                with zipfile.ZipFile(fixture_path(fx)) as z:
                    recorded = time.mktime(z.getinfo("backup/VERSION").date_time + (0, 0, -1))
                self.assertLess(abs(os.path.getmtime(got["backup/VERSION"]) - recorded), 2.01)

    def test_sysreptor_backup_restores_byte_identically(self):
        out = os.path.join(self.tmp, "sr")
        p = run("restore", fixture_path("zipstream-ng-sysreptor.zip"), "-C", out, "--quiet")
        self.assertEqual(p.returncode, 0, p.stderr)
        for name, data in sysreptor_tree.entries(scale=0.5):
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(f.read(), data, name)

    def assert_refused_and_nothing_written(self, data):
        src = os.path.join(self.tmp, "bad.zip")
        with open(src, "wb") as f:
            f.write(data)
        before = sorted(os.listdir(self.tmp))
        out = os.path.join(self.tmp, "out")
        p, doc = run_json("restore", src, "-C", out)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"refused", p.stderr)
        self.assertEqual(doc["restore"]["outcome"], "refused")
        self.assertFalse(os.path.exists(out))
        self.assertEqual(sorted(os.listdir(self.tmp)), before)
        return p

    def test_cut_archive_is_refused(self):
        data = read("zipstream-ng-sysreptor.zip")
        self.assert_refused_and_nothing_written(data[: len(data) * 6 // 10])
        p = run("restore", os.path.join(self.tmp, "bad.zip"), "-C", os.path.join(self.tmp, "out"), "--partial")
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"repair first", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "out")))

    def test_dot_dot_entry_is_refused(self):
        data = read("infozip-file.zip")
        lay = Layout(data)
        k = [i for i, x in enumerate(lay.infos) if x.filename.endswith("a.bin")][0]
        old = lay.infos[k].filename.encode()
        p = self.assert_refused_and_nothing_written(replace_name(data, lay, k, b"../" + old[3:]))
        self.assertIn(b"--partial", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(os.path.dirname(self.tmp), old[3:].decode())))

    def test_partial_restores_what_verified_and_leaves_out_the_rest(self):
        data = bytearray(read("infozip-file.zip"))
        lay = Layout(bytes(data))
        k = [i for i, x in enumerate(lay.infos) if x.filename.endswith("a.bin")][0]
        data[lay.data_offset(k) + 100] ^= 1
        src = os.path.join(self.tmp, "flip.zip")
        with open(src, "wb") as f:
            f.write(bytes(data))
        out = os.path.join(self.tmp, "out")
        p, doc = run_json("restore", src, "-C", out, "--partial")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(doc["restore"]["entries_skipped"], 1)
        self.assertFalse(os.path.exists(os.path.join(out, "backup/data/a.bin")))
        self.assertTrue(filecmp.cmp(os.path.join(out, "backup/data/b.bin"), os.path.join(TREE, "backup/data/b.bin"),
                                    shallow=False))

    def test_full_filesystem_is_detected_before_writing(self):
        tiny = os.path.join(self.tmp, "tiny")
        os.makedirs(tiny)
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", tiny], capture_output=True)
        if m.returncode != 0:  # a platform limit, not a missing tool: mount needs root (CAP_SYS_ADMIN)
            self.skipTest("cannot mount a small tmpfs here: " + m.stderr.decode())
        p, doc = run_json("restore", fixture_path("infozip-file.zip"), "-C", os.path.join(tiny, "out"))
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"not enough space", p.stderr)
        self.assertGreater(doc["restore"]["bytes_needed"], doc["restore"]["bytes_available"])
        self.assertEqual(os.listdir(tiny), [])


class Timestamps(unittest.TestCase):
    """A restored file's modification time comes from the extended timestamp (0x5455, Info-ZIP) or
    NTFS (0x000a, 7-Zip) field, not from the DOS time, which is the writer's local time with 2 s
    steps: restored under another time zone, the DOS time would be off by hours."""

    STAMPS = {"d/odd.txt": 1790000001_000000000, "d/frac.bin": 1790000003_250000000}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zipmedic-times-")
        src = os.path.join(self.tmp, "src")
        os.makedirs(os.path.join(src, "d"))
        for name, ns in self.STAMPS.items():
            with open(os.path.join(src, name), "wb") as f:
                f.write(name.encode() * 50)
            os.utime(os.path.join(src, name), ns=(ns, ns))
        self.src = src

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def restore(self, archive):
        out = os.path.join(self.tmp, "out-" + os.path.basename(archive))
        env = dict(os.environ, TZ="America/New_York")
        p = subprocess.run([os.environ.get("ZIPMEDIC", "zipmedic"), "restore", archive, "-C", out, "-q"],
                           capture_output=True, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        return {n: os.stat(os.path.join(out, n)).st_mtime_ns for n in self.STAMPS}

    def test_infozip_extended_timestamp_sets_the_whole_second(self):
        archive = os.path.join(self.tmp, "iz.zip")
        subprocess.run(["zip", "-qr", archive, "d"], cwd=self.src, env=dict(os.environ, TZ="UTC"), check=True)
        with open(archive, "rb") as f:
            self.assertIn(b"UT", f.read())  # 0x5455, written by default
        got = self.restore(archive)
        for name, ns in self.STAMPS.items():
            self.assertEqual(got[name], ns // 10**9 * 10**9, name)  # 0x5455 holds whole seconds

    def test_7zip_ntfs_time_sets_the_exact_time(self):
        archive = os.path.join(self.tmp, "sz.zip")
        subprocess.run(["7z", "a", "-bso0", "-bsp0", "-tzip", "-mtc=on", archive, "d"], cwd=self.src,
                       env=dict(os.environ, TZ="UTC"), check=True)
        with zipfile.ZipFile(archive) as z:
            self.assertTrue(all(i.extra[:2] == b"\x0a\x00" for i in z.infolist()))  # NTFS first
        got = self.restore(archive)
        for name, ns in self.STAMPS.items():
            self.assertEqual(got[name], ns, name)  # FILETIME: 100 ns steps


if __name__ == "__main__":
    unittest.main()
