"""Split archives (issue 12, part 3): Info-ZIP's `zip -s` sets (NAME.z01 ... NAME.zip, disk numbers,
the spanning signature) and 7-Zip's `-v` pieces (NAME.zip.001 ...), made here by the writers
themselves. Whole sets verify from any volume; a deleted or cut volume is named; repair -o joins what
survives into one ZIP that every reader takes; --in-place is refused; restore extracts from the set."""
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import tempfile
import unittest
import zipfile
import zlib

import jsonschema

from zmtest import SRC, TempDirTest, run, run_json



def slurp(path):
    with open(path, "rb") as f:
        return f.read()


with open(os.path.join(SRC, "docs", "report.schema.json")) as _f:
    SCHEMA = json.load(_f)


def make_tree(root):
    """About 250 KB, mostly incompressible, so that a 64 KiB split gives four volumes and entries
    start on volumes after the first."""
    rnd = random.Random(12)
    files = {
        "set/small.txt": b"hello\n",
        "set/mid.bin": rnd.randbytes(30000),
        "set/notes.txt": b"line\n" * 2000,
        "set/big.bin": rnd.randbytes(150000),
        "set/zz-after.bin": rnd.randbytes(40000),
        "set/zz-last.txt": b"last\n" * 100,
    }
    for name, data in files.items():
        p = os.path.join(root, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    return files


def directory_disks(last_volume):
    """The disk number start of every record in the directory of an Info-ZIP set whose directory is
    on its last volume (read with struct, not with zipmedic)."""
    data = slurp(last_volume)
    end = data.rfind(b"PK\x05\x06")
    this_disk, cd_disk = struct.unpack("<HH", data[end + 4:end + 8])
    if this_disk != cd_disk:
        return None
    cd_size, cd_off = struct.unpack("<II", data[end + 12:end + 20])
    p, disks = cd_off, []
    while data[p:p + 4] == b"PK\x01\x02":
        n, m, c, disk = struct.unpack("<HHHH", data[p + 28:p + 36])
        disks.append(disk)
        p += 46 + n + m + c
    return disks


def seven_zip_tests(path):
    return subprocess.run(["7z", "t", "-bso0", "-bsp0", path], capture_output=True).returncode


class SplitSets(TempDirTest):
    @classmethod
    def setUpClass(cls):
        cls.made = tempfile.TemporaryDirectory()
        root = cls.made.name
        tree = os.path.join(root, "tree")
        cls.files = make_tree(tree)
        subprocess.run(["zip", "-qr", "-s", "64k", os.path.join(root, "iz.zip"), "set"], cwd=tree, check=True)
        subprocess.run(["7z", "a", "-bso0", "-bsp0", "-v64k", os.path.join(root, "sz.zip"), "set"], cwd=tree,
                       check=True)
        cls.iz = sorted(n for n in os.listdir(root) if n.startswith("iz."))
        cls.sz = sorted(n for n in os.listdir(root) if n.startswith("sz."))
        cls.src = root

    @classmethod
    def tearDownClass(cls):
        cls.made.cleanup()

    def setUp(self):
        super().setUp()
        for n in self.iz + self.sz:
            shutil.copy(os.path.join(self.src, n), os.path.join(self.tmp, n))

    def p(self, name):
        return os.path.join(self.tmp, name)

    def verify(self, name, *extra):
        proc, doc = run_json("verify", self.p(name), *extra)
        jsonschema.validate(doc, SCHEMA)
        return proc, doc

    def test_writers_made_sets_of_four_volumes_with_entries_on_later_disks(self):
        self.assertEqual(self.iz, ["iz.z01", "iz.z02", "iz.z03", "iz.zip"])
        self.assertEqual(self.sz, ["sz.zip.001", "sz.zip.002", "sz.zip.003", "sz.zip.004"])
        with open(self.p("iz.z01"), "rb") as f:
            self.assertEqual(f.read(4), b"PK\x07\x08")  # APPNOTE 8.5.3's spanning signature
        disks = directory_disks(self.p("iz.zip"))
        self.assertIsNotNone(disks)
        self.assertGreater(max(disks), 0)
        self.assertEqual(seven_zip_tests(self.p("iz.zip")), 0)
        self.assertEqual(seven_zip_tests(self.p("sz.zip.001")), 0)

    def assert_whole(self, proc, doc, volumes):
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(doc["verdict"], "ok")
        self.assertEqual([f["code"] for f in doc["findings"] if f["severity"] != "info"], [])
        self.assertIn("readers_lack_feature", {f["code"] for f in doc["findings"]})
        self.assertEqual([os.path.basename(v["path"]) for v in doc["volumes"]["volumes"]], volumes)
        self.assertTrue(all(v["present"] for v in doc["volumes"]["volumes"]))
        rows = {e["name"]: e for e in doc["entries"] if not e["name"].endswith("/")}
        self.assertEqual(set(rows), set(self.files))
        for name, data in self.files.items():
            self.assertEqual(rows[name]["status"], "ok")
            self.assertEqual(int(rows[name]["crc32"], 16), zlib.crc32(data), name)
            self.assertEqual(rows[name]["uncompressed_size"], len(data), name)

    def test_infozip_set_verifies_ok_from_the_zip_and_from_any_z_volume(self):
        for start in ("iz.zip", "iz.z01", "iz.z02", "iz.z03"):
            with self.subTest(start=start):
                proc, doc = self.verify(start)
                self.assert_whole(proc, doc, self.iz)
                self.assertEqual(doc["volumes"]["kind"], "pkware")
                self.assertEqual(os.path.basename(doc["archive"]["path"]), "iz.zip")

    def test_7zip_volumes_verify_ok_from_any_piece(self):
        for start in ("sz.zip.001", "sz.zip.003", "sz.zip.004"):
            with self.subTest(start=start):
                proc, doc = self.verify(start)
                self.assert_whole(proc, doc, self.sz)
                self.assertEqual(doc["volumes"]["kind"], "numbered")

    def test_text_report_names_the_set_and_its_volumes(self):
        proc = run("verify", self.p("iz.z02"))
        self.assertEqual(proc.returncode, 0)
        out = proc.stdout.decode()
        self.assertIn("verify: %s" % self.p("iz.zip"), out)
        self.assertIn("volumes: iz.z01, iz.z02, iz.z03, iz.zip", out)

    def test_every_volume_named_on_the_command_line_reads_the_set_once(self):
        # What `zipmedic verify iz.* sz.zip.*` passes: one verdict per set, not per volume.
        proc = run("verify", *[self.p(n) for n in self.iz + self.sz])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.decode().splitlines()
        self.assertEqual(len(lines), 3, lines)
        self.assertTrue(lines[0].startswith("ok") and lines[0].split()[1] == self.p("iz.zip"), lines[0])
        self.assertTrue(lines[1].startswith("ok") and lines[1].split()[1] == self.p("sz.zip"), lines[1])
        self.assertIn("2 archives: 2 ok", lines[2])
        proc, doc = run_json("verify", *[self.p(n) for n in self.iz])
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(len(doc["volumes"]["volumes"]), 4)  # one report, as for one archive

    def test_scan_walks_across_volume_boundaries(self):
        for start in ("iz.zip", "sz.zip.001"):
            with self.subTest(start=start):
                proc, doc = run_json("scan", self.p(start))
                jsonschema.validate(doc, SCHEMA)
                self.assertEqual(proc.returncode, 0, doc["findings"])
                names = {e["name"] for e in doc["entries"] if e["status"] == "ok"}
                self.assertTrue(set(self.files) <= names)

    def test_missing_middle_volume_is_named(self):
        for gone, start in (("iz.z02", "iz.zip"), ("sz.zip.002", "sz.zip.001")):
            with self.subTest(gone=gone):
                os.remove(self.p(gone))
                proc, doc = self.verify(start)
                self.assertEqual(proc.returncode, 1)
                self.assertEqual(doc["verdict"], "damaged")
                missing = [f for f in doc["findings"] if f["code"] == "volume_missing"]
                self.assertEqual(len(missing), 1)
                self.assertIn(gone, missing[0]["message"])
                self.assertEqual([v["present"] for v in doc["volumes"]["volumes"]], [True, False, True, True])
                # Entries wholly in the volumes that are there still verify.
                self.assertIn("ok", {e["status"] for e in doc["entries"] if e["name"] == "set/small.txt"})
                self.assertIn(gone, proc.stderr.decode())  # the first error, shown on stderr

    def test_missing_last_volume_is_named_and_repair_keeps_the_whole_entries(self):
        os.remove(self.p("iz.zip"))
        proc, doc = self.verify("iz.z02")
        self.assertEqual(proc.returncode, 1)
        missing = [f["message"] for f in doc["findings"] if f["code"] == "volume_missing"]
        self.assertEqual(len(missing), 1)
        self.assertIn("iz.zip", missing[0])
        out = self.p("one.zip")
        proc, doc = run_json("repair", self.p("iz.z01"), "-o", out)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        kept = {e["name"] for e in doc["entries"] if e["status"] == "ok"} - {"set/"}
        self.assertIn("set/zz-after.bin", kept)  # begins on the first volume, ends on the second
        self.assert_readers_accept(out, kept)

    def test_last_volume_alone_names_the_volumes_it_needs(self):
        for n in ("iz.z01", "iz.z02", "iz.z03"):
            os.remove(self.p(n))
        proc, doc = self.verify("iz.zip")
        self.assertEqual(proc.returncode, 1)
        missing = [f["message"] for f in doc["findings"] if f["code"] == "volume_missing"]
        self.assertEqual(len(missing), 3)
        for n, m in zip(("iz.z01", "iz.z02", "iz.z03"), missing):
            self.assertIn(n, m)

    def test_zip_s_archive_that_fit_one_volume_is_ordinary_with_its_spanning_signature(self):
        small = os.path.join(self.tmp, "small")
        os.makedirs(small)
        with open(os.path.join(small, "a.txt"), "wb") as f:
            f.write(b"tiny\n")
        subprocess.run(["zip", "-q", "-s", "64k", "one.zip", "a.txt"], cwd=small, check=True)
        self.assertEqual(sorted(os.listdir(small)), ["a.txt", "one.zip"])
        with open(os.path.join(small, "one.zip"), "rb") as f:
            self.assertEqual(f.read(4), b"PK\x07\x08")
        proc, doc = run_json("verify", os.path.join(small, "one.zip"))
        self.assertEqual(proc.returncode, 0, doc["findings"])
        self.assertNotIn("volumes", doc)
        prefix = [f for f in doc["findings"] if f["code"] == "prefix_bytes"]
        self.assertEqual(len(prefix), 1)
        self.assertIn("spanning signature", prefix[0]["message"])

    def test_a_name_ending_in_digits_without_a_first_piece_is_an_ordinary_file(self):
        os.rename(self.p("sz.zip.001"), self.p("plain.2026"))
        proc, doc = self.verify("plain.2026")
        self.assertNotIn("volumes", doc)
        self.assertIn("eocd_missing", {f["code"] for f in doc["findings"]})

    def test_cut_last_volume_is_named(self):
        for last, start in (("iz.zip", "iz.z01"), ("sz.zip.004", "sz.zip.001")):
            with self.subTest(last=last):
                os.truncate(self.p(last), os.path.getsize(self.p(last)) // 2)
                proc, doc = self.verify(start)
                self.assertEqual(proc.returncode, 1)
                cut = [f for f in doc["findings"] if f["code"] == "volume_truncated"]
                self.assertEqual(len(cut), 1)
                self.assertIn(last, cut[0]["message"])
                self.assertIn("eocd_missing", {f["code"] for f in doc["findings"]})

    def test_cut_middle_volume_is_named(self):
        os.truncate(self.p("iz.z02"), 40000)
        proc, doc = self.verify("iz.zip")
        self.assertEqual(proc.returncode, 1)
        cut = [f for f in doc["findings"] if f["code"] == "volume_truncated"]
        self.assertEqual(len(cut), 1)
        self.assertIn("iz.z02", cut[0]["message"])
        self.assertIn("40000", cut[0]["message"])

    def assert_readers_accept(self, path, expect):
        """unzip, 7-Zip, bsdtar and Python read the joined archive, with the tree's bytes."""
        self.assertEqual(subprocess.run(["unzip", "-tq", path], capture_output=True).returncode, 0)
        self.assertEqual(seven_zip_tests(path), 0)
        listed = subprocess.run(["bsdtar", "-tf", path], capture_output=True, text=True)
        self.assertEqual(listed.returncode, 0)
        with zipfile.ZipFile(path) as z:
            self.assertIsNone(z.testzip())
            got = {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}
        self.assertEqual(set(got), set(expect))
        self.assertEqual(set(listed.stdout.split()) - {"set/"}, set(expect))
        for name in expect:
            self.assertEqual(got[name], self.files[name], name)
        proc, doc = run_json("verify", path)
        self.assertEqual(proc.returncode, 0, doc["findings"])
        self.assertNotIn("volumes", doc)

    def test_repair_joins_a_whole_set_into_one_zip(self):
        for start in ("iz.z03", "sz.zip.002"):
            with self.subTest(start=start):
                out = self.p("joined-%s.zip" % start)
                proc, doc = run_json("repair", self.p(start), "-o", out)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(doc["repair"]["entries_lost"], 0)
                with open(out, "rb") as f:
                    self.assertEqual(f.read(4), b"PK\x03\x04")  # no spanning signature
                self.assert_readers_accept(out, self.files)

    def test_repair_with_a_volume_deleted_keeps_the_entries_in_the_others(self):
        for gone, start in (("iz.z02", "iz.zip"), ("sz.zip.002", "sz.zip.004")):
            with self.subTest(gone=gone):
                os.remove(self.p(gone))
                out = self.p("joined-%s.zip" % gone)
                proc, doc = run_json("repair", self.p(start), "-o", out)
                self.assertEqual(proc.returncode, 1, proc.stderr)
                self.assertIn("volume_missing", {f["code"] for f in doc["findings"]})
                kept = {e["name"] for e in doc["entries"] if e["status"] == "ok"} - {"set/"}
                self.assertIn("set/small.txt", kept)
                self.assertTrue(doc["repair"]["lost"])
                self.assert_readers_accept(out, kept)

    def test_repair_with_the_last_volume_cut_keeps_every_whole_entry(self):
        for last, start in (("iz.zip", "iz.z01"), ("sz.zip.004", "sz.zip.001")):
            with self.subTest(last=last):
                os.truncate(self.p(last), os.path.getsize(self.p(last)) // 2)
                out = self.p("joined-%s.zip" % last)
                proc, doc = run_json("repair", self.p(start), "-o", out)
                self.assertEqual(proc.returncode, 1, proc.stderr)
                self.assertIn("volume_truncated", {f["code"] for f in doc["findings"]})
                kept = {e["name"] for e in doc["entries"] if e["status"] == "ok"} - {"set/"}
                self.assertGreaterEqual(len(kept), 4)
                self.assert_readers_accept(out, kept)

    def digests(self):
        return {n: hashlib.sha256(slurp(self.p(n))).hexdigest() for n in self.iz + self.sz}

    def test_in_place_repair_of_a_set_is_refused(self):
        before = self.digests()
        for start in ("iz.zip", "iz.z02", "sz.zip.003"):
            with self.subTest(start=start):
                proc = run("repair", "--in-place", self.p(start))
                self.assertEqual(proc.returncode, 2)
                err = proc.stderr.decode()
                self.assertIn("split archive", err)
                self.assertIn("iz.zip" if start.startswith("iz") else "sz.zip", err)
        self.assertEqual(self.digests(), before)

    def test_repair_output_may_not_be_a_volume(self):
        before = self.digests()
        proc = run("repair", self.p("iz.zip"), "-o", self.p("iz.z01"), "--force")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("iz.z01", proc.stderr.decode())
        self.assertEqual(self.digests(), before)

    def restored(self, target):
        out = {}
        for d, _, names in os.walk(target):
            for n in names:
                full = os.path.join(d, n)
                out[os.path.relpath(full, target)] = slurp(full)
        return out

    def test_restore_from_a_set_is_byte_identical(self):
        for start in ("iz.z02", "sz.zip.001"):
            with self.subTest(start=start):
                target = self.p("out-" + start)
                proc, doc = run_json("restore", self.p(start), "-C", target)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(doc["restore"]["outcome"], "restored")
                self.assertEqual(self.restored(target), self.files)

    def test_restore_from_a_set_with_a_volume_missing_is_refused(self):
        os.remove(self.p("iz.z03"))
        target = self.p("out")
        proc, doc = run_json("restore", self.p("iz.zip"), "-C", target)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(doc["restore"]["outcome"], "refused")
        self.assertIn("volume_missing", {f["code"] for f in doc["findings"]})
        self.assertFalse(os.path.exists(target) and os.listdir(target))

    def test_partial_restore_from_a_set_with_a_volume_missing_restores_what_verified(self):
        os.remove(self.p("iz.z02"))
        target = self.p("out")
        proc, doc = run_json("restore", "--partial", self.p("iz.zip"), "-C", target)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(doc["restore"]["outcome"], "restored")
        ok = {e["name"] for e in doc["entries"] if e["status"] == "ok" and not e["name"].endswith("/")}
        # Entries on the volumes before and after the missing one, the last volume's among them.
        self.assertIn("set/small.txt", ok)
        self.assertIn("set/zz-last.txt", ok)
        self.assertLess(len(ok), len(self.files))
        self.assertEqual(self.restored(target), {n: self.files[n] for n in ok})
        self.assertEqual(doc["restore"]["entries_restored"], len(ok) + 1)  # and the directory set/


if __name__ == "__main__":
    unittest.main()
