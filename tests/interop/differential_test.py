"""Reader agreement (issue 10, item 5): the differential fuzzer of differential.py.

The harness tests run first: the six readers, the record parser, the mutator and the checks must
themselves be right before their verdict on zipmedic means anything. The short run (a fixed seed,
a few hundred mutants) then checks zipmedic against the readers and fails listing every failure
class; scripts/fuzz-readers is the long run. It needs Go and a JDK, which scripts/setup installs:
without them it fails (a reader that did not run agrees with nothing).
"""
import io
import os
import stat
import struct
import sys
import tempfile
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import differential as diff  # noqa: E402
from zmtest import TempDirTest as TempDir  # noqa: E402

SHORT_RUN_MUTANTS = int(os.environ.get("ZIPMEDIC_DIFF_MUTANTS", "400"))
SHORT_RUN_SEED = "short-1"


class Readers(TempDir):
    @classmethod
    def setUpClass(cls):
        cls.fixtures = diff.load_fixtures()

    def setUp(self):
        super().setUp()
        self.readers = diff.ReaderSet(self.tmp)

    def tearDown(self):
        self.readers.close()
        super().tearDown()

    def test_every_reader_returns_the_entries_of_a_whole_archive(self):
        # 7-Zip's deflate archive: flagged UTF-8 names, a directory, an empty file; every reader
        # supports its methods, so each must return exactly what Python's zipfile reads.
        for name in ("7zip-deflate.zip", "zipstream-ng-sysreptor.zip"):
            ref = diff.Reference(self.fixtures[name])
            got = self.readers.read(diff.os.path.join(diff.FIXTURES, name))
            for reader in diff.READERS:
                with self.subTest(fixture=name, reader=reader):
                    self.assertTrue(got[reader]["ok"], got[reader]["error"])
                    self.assertEqual(sorted(diff.reader_key(e, reader) for e in got[reader]["entries"]),
                                     sorted(ref.entries))

    def test_every_reader_refuses_an_archive_cut_in_half(self):
        data = self.fixtures["bsdtar-pipe.zip"]
        got = self.readers.read(self.write("cut.zip", data[:len(data) // 2]))
        for reader in diff.READERS:
            with self.subTest(reader=reader):
                self.assertFalse(got[reader]["ok"], got[reader])
                self.assertTrue(got[reader]["error"])

    def test_a_flipped_data_byte_is_a_refusal_or_other_bytes(self):
        # Stored entry in the middle of Info-ZIP's archive: a reader that checks the CRC refuses,
        # one that does not (Java's ZipFile) returns bytes whose CRC the harness recomputes.
        data = self.fixtures["infozip-file.zip"]
        z = zipfile.ZipFile(io.BytesIO(data))
        info = next(i for i in z.infolist() if i.filename.endswith("a.bin"))
        n, m = struct.unpack_from("<HH", data, info.header_offset + 26)
        b = bytearray(data)
        b[info.header_offset + 30 + n + m + 5] ^= 0x20
        got = self.readers.read(self.write("flip.zip", bytes(b)))
        want = ("backup/data/a.bin", info.file_size, "%08x" % info.CRC)
        for reader in diff.READERS:
            with self.subTest(reader=reader):
                r = got[reader]
                self.assertTrue(not r["ok"] or want not in [diff.reader_key(e, reader) for e in r["entries"]], r)

    def test_a_symlink_entry_is_read_as_its_target_by_the_extracting_tools(self):
        # unzip, 7-Zip and bsdtar extract; what they write for a symlink is its target, and the
        # harness must not follow it (its target could be anything on this machine). 7-Zip rewrites
        # an absolute target into its output folder, so the target here is relative.
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            info = zipfile.ZipInfo("link")
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "VERSION")
        got = self.readers.read(self.write("link.zip", buf.getvalue()))
        for reader in ("unzip", "7z", "bsdtar"):
            with self.subTest(reader=reader):
                self.assertTrue(got[reader]["ok"], got[reader]["error"])
                self.assertEqual([diff.reader_key(e) for e in got[reader]["entries"]],
                                 [("link", 7, "%08x" % diff.zlib.crc32(b"VERSION"))])


class Mutator(unittest.TestCase):
    def test_records_are_where_pythons_zipfile_says(self):
        for name, data in diff.load_fixtures().items():
            with self.subTest(fixture=name):
                rec = diff.Records(data)
                infos = sorted(zipfile.ZipFile(io.BytesIO(data)).infolist(), key=lambda i: i.header_offset)
                self.assertEqual(len(rec.cd), len(infos))
                starts = sorted(p for p, _, _ in rec.lfh)
                base = rec.cd_start - zipfile.ZipFile(io.BytesIO(data)).start_dir
                self.assertEqual(starts, [i.header_offset + base for i in infos])
                self.assertTrue(all(data[p:p + 4] == b"PK\x03\x04" for p in starts))
                self.assertEqual(len(rec.dd), sum(1 for i in infos if i.flag_bits & 8))
                crcs = {i.CRC for i in infos}
                for p, wide, sig in rec.dd:
                    crc_at = p + (4 if sig else 0)
                    self.assertIn(struct.unpack_from("<I", data, crc_at)[0], crcs)
                self.assertEqual(data[rec.eocd:rec.eocd + 4], b"PK\x05\x06")

    def test_mutants_are_deterministic_and_reach_every_record_type(self):
        fixtures = diff.load_fixtures()
        names = sorted(fixtures)
        kinds = set()
        # Enough mutants that the one fixture with ZIP64 end records is edited in every field even as
        # fixtures are added (1,500 stopped reaching the locator at 30 fixtures).
        for i in range(4000):
            m = diff.make_mutant(names, fixtures, "cover", i)
            kinds.add(m["kind"].split(".")[0] if "." in m["kind"] else m["kind"])
            if i % 97 == 0:
                self.assertEqual(diff.make_mutant(names, fixtures, "cover", i)["data"], m["data"])
                if m["kind"] != "none":
                    self.assertNotEqual(m["data"], fixtures[m["fixture"]], m["detail"])
        self.assertGreaterEqual(kinds, {"none", "lfh", "cd", "dd", "eocd", "z64eocd", "z64loc", "multi-field",
                                        "cut", "insert", "delete", "prefix", "suffix", "name", "extra"})
        self.assertNotEqual(diff.make_mutant(names, fixtures, "a", 50)["data"],
                            diff.make_mutant(names, fixtures, "b", 50)["data"])


FAKE_ZIPMEDIC = r'''#!/usr/bin/env python3
# A zipmedic that calls every archive whole and lists an entry no archive holds; from a pipe it
# says damaged. The checks must catch both lies.
import json, sys
if "-" in sys.argv[1:]:
    sys.exit(1)
print(json.dumps({"verdict": "ok", "findings": [], "entries": [
    {"name": "invented.txt", "method": "stored", "uncompressed_size": 3, "crc32": "352441c2", "status": "ok"}]}))
'''


class Checks(TempDir):
    def test_a_lying_verify_is_caught_by_every_reader_and_by_the_pipe(self):
        fake = self.write("fake-zipmedic", FAKE_ZIPMEDIC.encode())
        os.chmod(fake, 0o755)
        saved, diff.ZIPMEDIC = diff.ZIPMEDIC, fake
        try:
            fixtures = {"7zip-deflate.zip": diff.load_fixtures()["7zip-deflate.zip"]}
            summary = diff.run(1, "lie", jobs=1, out_dir=os.path.join(self.tmp, "out"), fixture_data=fixtures)
        finally:
            diff.ZIPMEDIC = saved
        classes = set(summary["classes"])
        for reader in diff.READERS:
            self.assertIn("verify-ok-differs/%s/none" % reader, classes)
        self.assertIn("pipe/none/0->1", classes)
        self.assertIn("scan-ok-foreign/none", classes)
        kept = summary["classes"]["pipe/none/0->1"]["files"][0]
        with open(kept, "rb") as f:
            self.assertEqual(f.read(), fixtures["7zip-deflate.zip"])


class ReaderAgreement(unittest.TestCase):
    def test_short_run_finds_no_failure(self):
        out = os.environ.get("ZIPMEDIC_DIFF_OUT") or tempfile.mkdtemp(prefix="zipmedic-diff-failures-")
        summary = diff.run(SHORT_RUN_MUTANTS, SHORT_RUN_SEED, jobs=min(2, os.cpu_count() or 1), out_dir=out)
        self.assertGreater(summary["verify_ok"], SHORT_RUN_MUTANTS // 5, "too few mutants verified to judge")
        self.assertEqual(summary["classes"], {}, "\n" + diff.table(summary) + "\nmutants kept in " + out)


if __name__ == "__main__":
    unittest.main()
