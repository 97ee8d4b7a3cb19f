"""The damage matrix: real writers' archives, damaged in the ways backups get damaged, repaired in
copy and in-place mode, and read back by unzip, 7-Zip, bsdtar and Python's zipfile."""
import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from zmtest import Layout, read, run_json  # noqa: E402

WRITERS = ["infozip-file.zip", "infozip-pipe.zip", "python-stream-deflate-zip64.zip", "python-stream-stored.zip",
           "bsdtar-file.zip", "bsdtar-pipe.zip", "7zip-deflate.zip", "zipstream-ng-sysreptor.zip", "java-jar.zip"]


def damages(data, lay):
    """(name, damaged bytes, damaged ranges in the ORIGINAL's offsets, shift of offsets)."""
    n = len(data)
    first, last_end = lay.starts[0], lay.cd_start
    span = last_end - first
    big = max(range(len(lay.infos)), key=lambda k: lay.infos[k].compress_size)
    out = []
    for pct in (25, 50, 75):
        x = first + span * pct // 100
        out.append(("cut-%d%%" % pct, data[:x], [(x, n)], 0))
    k = len(lay.starts) // 2
    x = lay.starts[k] + 10
    out.append(("cut-in-local-header", data[:x], [(x, n)], 0))
    # The last bytes of an entry: its data descriptor when it has one.
    s, e = lay.extent(big)
    out.append(("cut-in-descriptor", data[:e - 6], [(e - 6, n)], 0))
    out.append(("cut-before-directory", data[:lay.cd_start], [(lay.cd_start, n)], 0))
    mid_cd = (lay.cd_start + lay.eocd) // 2
    out.append(("cut-in-directory", data[:mid_cd], [(mid_cd, n)], 0))
    out.append(("end-record-chopped", data[:n - 10], [(n - 10, n)], 0))
    h = first + span * 2 // 5
    cut = first + span * 4 // 5
    b = bytearray(data[:cut])
    b[h:h + 4096] = bytes(len(b[h:h + 4096]))
    out.append(("hole-4k-then-cut", bytes(b), [(h, h + 4096), (cut, n)], 0))
    b = bytearray(data)
    b[lay.cd_start:lay.eocd] = bytes(lay.eocd - lay.cd_start)
    out.append(("zeroed-directory", bytes(b), [(lay.cd_start, lay.eocd)], 0))
    b = bytearray(data)
    p = lay.data_offset(big) + lay.infos[big].compress_size // 2
    b[p] ^= 0x01
    out.append(("flipped-data-byte", bytes(b), [(p, p + 1)], 0))
    x = first + span * 7 // 10
    out.append(("prefix-1000-then-cut", b"\x7fELF-ish stub " * 71 + b"!" * 6 + data[:x], [(x, n)], 1000))
    return out


def intact_names(lay, ranges):
    keep = set()
    for k, info in enumerate(lay.infos):
        s, e = lay.extent(k)
        if all(e <= a or s >= b for a, b in ranges):
            keep.add(info.filename)
    return keep


class Readers:
    @staticmethod
    def check_all(test, path, tmp):
        r = subprocess.run(["unzip", "-tqq", path], capture_output=True)
        test.assertEqual(r.returncode, 0, b"unzip -t: " + r.stdout + r.stderr)
        r = subprocess.run(["7z", "t", "-bso0", "-bsp0", path], capture_output=True)
        test.assertEqual(r.returncode, 0, b"7z t: " + r.stdout + r.stderr)
        out = os.path.join(tmp, "bsdtar-x")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        r = subprocess.run(["bsdtar", "-xf", path, "-C", out], capture_output=True)
        test.assertEqual(r.returncode, 0, b"bsdtar -x: " + r.stderr)
        with zipfile.ZipFile(path) as z:
            test.assertIsNone(z.testzip())
            return {i.filename: z.read(i) for i in z.infolist()}


class DamageMatrix(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zipmedic-matrix-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def repair_and_check(self, writer, case, damaged, ranges, mode):
        lay = Layout(read(writer))
        src = os.path.join(self.tmp, "damaged.zip")
        with open(src, "wb") as f:
            f.write(damaged)
        if mode == "copy":
            out = os.path.join(self.tmp, "repaired.zip")
            p, doc = run_json("repair", src, "-o", out, "--salvage-partial", "--force")  # out is reused
        else:
            out = src
            p, doc = run_json("repair", "--in-place", src)
        want = intact_names(lay, ranges)
        if not want and p.returncode == 3:
            return 0
        self.assertIn(p.returncode, (0, 1), p.stderr)
        if mode == "in-place":
            with open(src, "rb") as f:
                self.assertEqual(f.read(len(damaged)), damaged, "in-place repair changed existing bytes")
        got = Readers.check_all(self, out, self.tmp)
        for name in want:
            self.assertIn(name, got, "intact entry lost")
            self.assertEqual(got[name], lay.contents[name], "intact entry changed: " + name)
        originals = set(lay.contents)
        for name in got:
            self.assertTrue(name in originals or (name.endswith(".partial") and name[:-8] in originals), name)
        lost = set(lay.contents) - set(got)
        self.assertEqual(p.returncode, 1 if lost else 0, (lost, p.stderr))
        return len(want)

    def test_matrix(self):
        total = 0
        for writer in WRITERS:
            data = read(writer)
            lay = Layout(data)
            for case, damaged, ranges, shift in damages(data, lay):
                for mode in ("copy", "in-place"):
                    with self.subTest(writer=writer, damage=case, mode=mode):
                        total += self.repair_and_check(writer, case, damaged, ranges, mode)
        self.assertGreater(total, 500)


class SysReptorCut(unittest.TestCase):
    def test_zipstream_backup_cut_before_directory_restores_backup_jsonl(self):
        data = read("zipstream-ng-sysreptor.zip")
        lay = Layout(data)
        with tempfile.TemporaryDirectory() as tmp:
            for mode in ("copy", "in-place"):
                src = os.path.join(tmp, "backup.zip")
                with open(src, "wb") as f:
                    f.write(data[:lay.cd_start])
                out = os.path.join(tmp, "fixed.zip") if mode == "copy" else src
                args = ["repair", src, "-o", out] if mode == "copy" else ["repair", "--in-place", src]
                p, doc = run_json(*args)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(doc["repair"]["entries_lost"], 0)
                self.assertFalse(doc["repair"]["looks_finished"])
                # SysReptor's restore: Python's zipfile opens the archive and reads backup.jsonl.
                with zipfile.ZipFile(out) as z:
                    self.assertEqual(z.read("backup.jsonl"), lay.contents["backup.jsonl"])
                    self.assertEqual(z.namelist()[-1], "stats.json")


if __name__ == "__main__":
    unittest.main()
