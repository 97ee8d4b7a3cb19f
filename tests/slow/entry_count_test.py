"""Issue 13: a repair holds no entry in memory, and ten million entries verify and repair within
1 GiB. The archives are made here by a writer of raw records (every entry the same tiny deflated
payload under its own name), since Python's zipfile takes minutes for ten million."""
import array
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
from zmtest import ZIPMEDIC as ZIPMEDIC_BIN  # noqa: E402

PAYLOAD = b'{"id": 1, "ok": true, "note": "x"}\n'


def write_archive(path, count, name_of, directory=True):
    """Info-ZIP's layout with ZIP64 end records, entry i named name_of(i); returns where the
    directory starts."""
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = co.compress(PAYLOAD) + co.flush()
    crc = zlib.crc32(PAYLOAD)
    offsets = array.array("Q")
    with open(path, "wb", buffering=1 << 24) as f:
        pos = 0
        for i in range(count):
            n = name_of(i).encode()
            offsets.append(pos)
            rec = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, 8, 0, 0x21, crc, len(data), len(PAYLOAD),
                              len(n), 0) + n + data
            f.write(rec)
            pos += len(rec)
        cd_start = pos
        if not directory:
            return cd_start
        for i, off in enumerate(offsets):
            n = name_of(i).encode()
            big = off >= 0xFFFFFFFF
            extra = struct.pack("<HHQ", 1, 8, off) if big else b""
            rec = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x31E, 45 if big else 20, 0x800, 8, 0, 0x21, crc,
                              len(data), len(PAYLOAD), len(n), len(extra), 0, 0, 0, 0o100644 << 16,
                              0xFFFFFFFF if big else off) + n + extra
            f.write(rec)
            pos += len(rec)
        cd_size = pos - cd_start
        f.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, cd_size, cd_start))
        f.write(struct.pack("<IIQI", 0x07064B50, 0, pos, 1))
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    return cd_start


class EntryCount(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zipmedic-slow-", dir=os.environ.get("ZIPMEDIC_SLOW_DIR"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def measured(self, *args):
        """zipmedic's exit status, JSON report and peak RSS in KiB."""
        out = os.path.join(self.tmp, "report.json")
        rss = os.path.join(self.tmp, "rss")
        # /usr/bin/time starts zipmedic from a small process: a child forked from this one would
        # count this process's pages (its lists of names) as its own.
        with open(out, "wb") as f:
            p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss, ZIPMEDIC_BIN, "--json", *args], stdout=f,
                               stderr=subprocess.PIPE, timeout=3000)
        with open(out) as f:
            doc = json.load(f)
        os.remove(out)
        with open(rss) as f:
            return p.returncode, doc, int(f.read().split()[-1])

    def test_a_million_entries_repaired_in_bounded_memory(self):
        # The directory of a million entries cut off (a backup never finished): repair rebuilds
        # it within 192 MiB, and what needs every entry still sees every entry: the second of
        # two entries of one name and the same bytes, 700,000 apart, is the same entry met twice
        # (a repeated range): it comes back once and nothing is lost.
        n = 1000000
        names = ["sysreptor/uploadedfiles/project-0000000000000000000000/screenshot-%07d.json" % i for i in range(n)]
        names[700001] = names[3]
        path = os.path.join(self.tmp, "unfinished.zip")
        write_archive(path, n, names.__getitem__, directory=False)
        out = os.path.join(self.tmp, "repaired.zip")
        rc, doc, peak = self.measured("repair", "-o", out, path)
        self.assertEqual(rc, 0, doc["findings"][:3])
        self.assertLessEqual(peak, 192 * 1024, "peak RSS %d KiB" % peak)
        self.assertEqual(doc["repair"]["lost"], [])
        self.assertEqual(doc["repair"]["entries_recovered"], n - 1)
        self.assertEqual(len(doc["entries"]), n - 1)
        self.assertEqual(doc["entries"][-1]["name"], names[-1])
        with zipfile.ZipFile(out) as z:
            infos = z.infolist()
            self.assertEqual(len(infos), n - 1)
            self.assertEqual(infos[700001].filename, names[700002])
            self.assertEqual(z.read(infos[-1]), PAYLOAD)
        rc, doc, peak = self.measured("verify", out)
        self.assertEqual(rc, 0, doc["findings"][:3])

    def test_ten_million_entries_verify_and_repair_within_a_gibibyte(self):
        n = 10000000
        path = os.path.join(self.tmp, "ten-million.zip")
        cd = write_archive(path, n, lambda i: "backup/uploads/%03d/file-%08d.json" % (i // 100000, i))
        rc, doc, peak = self.measured("verify", path)
        self.assertEqual(rc, 0, doc["findings"][:3])
        self.assertEqual(doc["stats"]["entries"], n)
        self.assertLessEqual(peak, 1024 * 1024, "verify: peak RSS %d KiB" % peak)
        with open(path, "r+b") as f:
            f.truncate(cd)
        out = os.path.join(self.tmp, "repaired.zip")
        rc, doc, peak = self.measured("repair", "-o", out, path)
        self.assertEqual(rc, 0, doc["findings"][:3])
        self.assertEqual(doc["repair"]["entries_recovered"], n)
        self.assertLessEqual(peak, 1024 * 1024, "repair: peak RSS %d KiB" % peak)
        self.assertEqual(doc["output"]["verdict"], "ok")


if __name__ == "__main__":
    unittest.main()
