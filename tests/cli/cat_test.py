"""zipmedic cat: the selected entries' bytes on standard output, each checked before its last
bytes go out; a damaged entry ends the output (exit 1) unless --salvage."""
import io
import os
import tempfile
import unittest
import zipfile

from zmtest import Layout, fixture_path, read, run

PASSWORD = "zipmedic-pw"  # scripts/make-fixtures, PASSWORD


class Cat(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.data = read("infozip-file.zip")
        self.zip = zipfile.ZipFile(io.BytesIO(self.data))

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, data):
        p = os.path.join(self.tmp.name, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def content(self, *names):
        return b"".join(self.zip.read(n) for n in names)

    def damaged(self):
        lay = Layout(self.data)
        k = [i.filename for i in lay.infos].index("backup/data/a.bin")
        b = bytearray(self.data)
        b[lay.data_offset(k) + 500] ^= 0x20
        return self.write("damaged.zip", bytes(b))

    def test_one_entry_is_its_bytes(self):
        p = run("cat", fixture_path("infozip-file.zip"), "backup/records.jsonl")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, self.content("backup/records.jsonl"))
        self.assertEqual(p.stderr, b"")

    def test_a_folder_pattern_writes_its_files_in_directory_order(self):
        p = run("cat", fixture_path("infozip-file.zip"), "backup/data", "--exclude", "signatures.bin")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, self.content("backup/data/a.bin", "backup/data/b.bin"))

    def test_a_damaged_entry_ends_the_output_before_its_last_bytes(self):
        p = run("cat", self.damaged(), "backup/data")
        self.assertEqual(p.returncode, 1)
        whole = self.content("backup/data/a.bin")
        self.assertLess(len(p.stdout), len(whole))
        self.assertTrue(whole.startswith(p.stdout))
        err = p.stderr.decode()
        self.assertIn("backup/data/a.bin", err)
        self.assertIn("offset", err)
        self.assertIn("crc_mismatch", err)

    def test_salvage_writes_the_damaged_bytes_and_goes_on(self):
        p = run("cat", self.damaged(), "backup/data", "--salvage")
        self.assertEqual(p.returncode, 1)
        rest = self.content("backup/data/b.bin", "backup/data/signatures.bin")
        self.assertTrue(p.stdout.endswith(rest))
        self.assertEqual(len(p.stdout), len(self.content("backup/data/a.bin")) + len(rest))
        self.assertIn(b"--salvage", p.stderr)

    def test_a_pattern_that_matches_nothing_fails(self):
        p = run("cat", fixture_path("infozip-file.zip"), "backup/VERSION", "nothing/*")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, self.content("backup/VERSION"))
        self.assertIn(b"no entry matches nothing/*", p.stderr)

    def test_from_a_pipe_and_with_a_password(self):
        p = run("cat", "-", "backup/VERSION", input=self.data)
        self.assertEqual((p.returncode, p.stdout), (0, self.content("backup/VERSION")))
        enc = fixture_path("encrypted/infozip-zipcrypto-file.zip")
        z = zipfile.ZipFile(enc)
        name = max(z.infolist(), key=lambda i: i.file_size).filename
        p = run("cat", enc, name)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, b"")
        p = run("cat", enc, name, "--password", PASSWORD)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, z.read(name, pwd=PASSWORD.encode()))

    def test_no_directory_is_cannot_proceed(self):
        cut = self.write("cut.zip", self.data[: len(self.data) // 2])
        p = run("cat", cut, "backup/VERSION")
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"repair", p.stderr)


if __name__ == "__main__":
    unittest.main()
