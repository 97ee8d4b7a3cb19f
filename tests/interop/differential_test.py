"""Reader agreement (issue 10, item 5): the differential fuzzer of differential.py.

The harness tests run first: the six readers, the record parser, the mutator and the checks must
themselves be right before their verdict on zipmedic means anything. The short run (a fixed seed,
a few hundred mutants) then checks zipmedic against the readers and fails listing every failure
class; scripts/fuzz-readers is the long run. Both read every mutant verify calls damaged (exit 1)
with the six readers as well, to catch false alarms. On 2 shared cores the 400-mutant run took
41-45 s with that and 56-64 s without (the machine's load varies more than the readers cost), so
the short run checks every exit-1 mutant, as the long run does; run(false_alarm_every=N) would
read only every Nth. It needs Go and a JDK, which scripts/setup installs:
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
        self.assertEqual((summary["wrong_exit0"], summary["false_alarms"]), (1, 0))
        kept = summary["classes"]["pipe/none/0->1"]["files"][0]
        with open(kept, "rb") as f:
            self.assertEqual(f.read(), fixtures["7zip-deflate.zip"])


FAKE_ALARM = r'''#!/usr/bin/env python3
# A zipmedic that calls every archive damaged with one error finding, CODE, that names the readers
# REFUSE as refusing; repair cannot proceed. On a fixture every reader reads whole, that is a false alarm
# unless CODE is one of zipmedic's own safety rules.
import json, sys
if sys.argv[1] == "repair":
    sys.exit(3)
print(json.dumps({"verdict": "damaged", "entries": [], "findings": [
    {"code": "CODE", "severity": "error", "entry": None, "offset": 0, "message": "invented",
     "readers": {"refuse": REFUSE, "warn": [], "lack": []}},
    {"code": "trailing_bytes", "severity": "warning", "entry": None, "offset": 0, "message": "invented",
     "readers": {"refuse": [], "warn": [], "lack": []}}]}))
sys.exit(1)
'''


class FalseAlarms(TempDir):
    def fake(self, code, refuse=diff.json.dumps(["unzip", "7zip", "libarchive", "python", "go", "java"])):
        fake = self.write("fake-%s" % code, FAKE_ALARM.replace("CODE", code).replace("REFUSE", refuse).encode())
        os.chmod(fake, 0o755)
        return fake

    def run_fake(self, code, fixture, count=1, every=1, **kw):
        fake = self.fake(code, **kw)
        saved, diff.ZIPMEDIC = diff.ZIPMEDIC, fake
        try:
            fixtures = {fixture: diff.load_fixtures()[fixture]}
            return diff.run(count, "alarm", jobs=1, out_dir=os.path.join(self.tmp, "out-" + code),
                            fixture_data=fixtures, false_alarm_every=every)
        finally:
            diff.ZIPMEDIC = saved

    def test_exit_1_on_an_archive_every_reader_reads_whole_is_a_false_alarm(self):
        summary = self.run_fake("crc_mismatch", "7zip-deflate.zip")
        self.assertEqual(set(summary["classes"]), {"false-alarm/crc_mismatch/none"}, diff.table(summary))
        self.assertEqual((summary["false_alarms"], summary["wrong_exit0"]), (1, 0))
        self.assertIn("false alarm", diff.table(summary))
        note = summary["classes"]["false-alarm/crc_mismatch/none"]["example"]["failure"]
        self.assertIn("crc_mismatch(error; refuse unzip,7zip,libarchive", note)
        self.assertIn("java reads the original's entries", note)

    def test_a_reader_lacking_the_fixtures_method_is_left_out(self):
        # Go and Java have no bzip2: their refusal is no damage, the others' reads decide.
        summary = self.run_fake("crc_mismatch", "7zip-bzip2.zip", refuse='["unzip", "python"]')
        self.assertEqual(set(summary["classes"]), {"false-alarm/crc_mismatch/none"}, diff.table(summary))
        self.assertIn("go lacks bzip2", summary["classes"]["false-alarm/crc_mismatch/none"]["example"]["failure"])

    def test_a_refusal_claimed_for_a_reader_that_lacks_a_method_is_not_judged(self):
        # Go stops at the first bzip2 entry: whether it would refuse what the finding describes
        # (no entry named: the whole archive) is unseen.
        summary = self.run_fake("crc_mismatch", "7zip-bzip2.zip", refuse='["go"]')
        self.assertEqual(summary["classes"], {}, diff.table(summary))
        self.assertEqual(summary["infos"].get("false-alarm-unjudged/crc_mismatch/none"), 1, summary["infos"])

    def test_lack_errors_are_told_from_refusals(self):
        self.assertTrue(diff.lack_error("bsdtar", "test exit 1: a: Unsupported ZIP compression method (9: "
                                        "deflation-64-bit): x | bsdtar: Error exit delayed from previous errors."))
        self.assertFalse(diff.lack_error("bsdtar", "test exit 1: a: Unsupported ZIP compression method (9: d) | "
                                         "b: ZIP bad CRC | bsdtar: Error exit delayed from previous errors."))
        self.assertTrue(diff.lack_error("unzip", "test exit 81: "))
        self.assertFalse(diff.lack_error("unzip", "test exit 2: "))
        self.assertTrue(diff.lack_error("python", "NotImplementedError: That compression method is not supported"))
        self.assertFalse(diff.lack_error("python", "BadZipFile: Bad CRC-32 for file 'a'"))
        self.assertTrue(diff.lack_error("go", "a/b.md: zip: unsupported compression algorithm"))
        self.assertTrue(diff.lack_error("java", "java.util.zip.ZipException: invalid CEN header (bad compression "
                                        "method: 12)"))
        self.assertFalse(diff.lack_error("7z", "test exit 2: "))

    def test_a_safety_rule_no_reader_checks_is_no_false_alarm(self):
        for code in ("duplicate_name", "unsafe_path", "entry_unconfirmed", "password_needed"):
            with self.subTest(code=code):
                summary = self.run_fake(code, "7zip-deflate.zip")
                self.assertEqual(summary["classes"], {}, diff.table(summary))

    def test_the_safety_rules_are_codes_no_reader_checks(self):
        with open(os.path.join(diff.SRC, "src", "report", "codes.def")) as f:
            table = f.read()
        for code in diff.SAFETY_CODES:
            with self.subTest(code=code):
                self.assertRegex(table, r"ZM_CODE\(%s, (error|warning), OWN," % code)

    def test_exit_1_is_no_false_alarm_when_a_reader_refuses(self):
        fake = self.fake("crc_mismatch")
        fixtures = {"bsdtar-pipe.zip": diff.load_fixtures()["bsdtar-pipe.zip"]}
        data = fixtures["bsdtar-pipe.zip"]
        saved, diff.ZIPMEDIC = diff.ZIPMEDIC, fake
        checker = diff.Checker(fixtures, self.tmp)
        try:
            fails, _, facts = checker.check({"index": 0, "fixture": "bsdtar-pipe.zip", "kind": "cut",
                                             "detail": "cut in half", "data": data[:len(data) // 2]})
        finally:
            checker.close()
            diff.ZIPMEDIC = saved
        self.assertFalse([c for c, _ in fails if c.startswith("false-alarm/")], fails)
        self.assertFalse(facts["readers"]["python"]["ok"])

    def test_only_every_nth_damaged_mutant_is_read_when_asked(self):
        # Mutant 0 is the fixture, mutants 1 and 2 edits of it; with every=2 mutant 1 is not read.
        summary = self.run_fake("crc_mismatch", "7zip-deflate.zip", count=3, every=2)
        read = sorted(i for c, e in summary["classes"].items() if c.startswith("false-alarm/") for i in e["mutants"])
        self.assertEqual(read[:1], [0])
        self.assertNotIn(1, read)


class ReaderAgreement(unittest.TestCase):
    def test_short_run_finds_no_failure(self):
        out = os.environ.get("ZIPMEDIC_DIFF_OUT") or tempfile.mkdtemp(prefix="zipmedic-diff-failures-")
        summary = diff.run(SHORT_RUN_MUTANTS, SHORT_RUN_SEED, jobs=min(2, os.cpu_count() or 1), out_dir=out)
        self.assertGreater(summary["verify_ok"], SHORT_RUN_MUTANTS // 5, "too few mutants verified to judge")
        self.assertEqual(summary["classes"], {}, "\n" + diff.table(summary) + "\nmutants kept in " + out)


if __name__ == "__main__":
    unittest.main()
