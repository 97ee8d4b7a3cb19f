"""repair writes a non-ASCII name so that every reader shows the name the writer meant (issue 10,
the last bad repairs of the differential run, seed 11).

- unzip converts a name from an OEM code page when the directory says the host was FAT or HPFS
  (docs/readers.md, rule 71): a damaged "version made by" copied into the repair renames the entry.
- Python decodes a name without bit 11 as CP437: a local header that lost the bit must not take it
  away from the repaired record when the directory still had it.

Each case edits a real writer's archive (Python's, bsdtar's, Java's jar) as the differential run
did, repairs it to a new file and lists the result with unzip, 7-Zip and Python's zipfile."""
import io
import os
import shutil
import struct
import subprocess
import tempfile
import unittest
import zipfile

from zmtest import read, run, run_json

NAME = "backup/Bericht-übersicht.md"


def directory_record(data, name):
    """Offset of the central record of `name` (Python reads the directory, not zipmedic)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(name)
    at = data.find(b"PK\x01\x02" + struct.pack("<H", (info.create_system << 8) | info.create_version))
    while at != -1:
        n = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46:at + 46 + n] == name.encode():
            return at, info
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError("no directory record for " + name)


def flip_other_data(data, name="backup/data/a.bin"):
    """A flipped byte in another entry's stored data: verify finds damage and the repair must
    rebuild the directory, with the old one (whole) as a witness."""
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        off = z.getinfo(name).header_offset
    n, m = struct.unpack_from("<HH", data, off + 26)
    data[off + 30 + n + m + 100] ^= 0xFF


class RepairKeepsNames(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zipmedic-names-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write_input(self, data):
        src = os.path.join(self.tmp, "in.zip")
        with open(src, "wb") as f:
            f.write(data)
        return src

    def repaired(self, data):
        src = os.path.join(self.tmp, "in.zip")
        with open(src, "wb") as f:
            f.write(data)
        out = os.path.join(self.tmp, "out.zip")
        p, doc = run_json("repair", src, "-o", out)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        self.assertTrue(doc["output"]["written"], p.stderr)
        return out

    def assert_every_reader_shows(self, path, name):
        self.assertEqual(run("verify", path).returncode, 0, run("verify", path).stdout)
        with zipfile.ZipFile(path) as z:
            self.assertIn(name, z.namelist())
        env = dict(os.environ, LC_ALL="C.UTF-8")
        unzip = subprocess.run(["unzip", "-l", path], capture_output=True, env=env)
        self.assertEqual(unzip.returncode, 0, unzip.stdout)
        self.assertIn(name.encode(), unzip.stdout)
        seven = subprocess.run(["7z", "l", "-slt", path], capture_output=True, env=env)
        self.assertEqual(seven.returncode, 0, seven.stdout)
        self.assertIn(b"Path = " + name.encode() + b"\n", seven.stdout)

    def test_a_fat_host_in_a_damaged_directory_does_not_make_unzip_convert_a_utf8_name(self):
        # Python's streamed archive (bit 11, Unix host): the record's "version made by" becomes 0
        # (FAT, version 0) and its attributes 0, as in mutant 13792.
        data = bytearray(read("python-stream-deflate-zip64.zip"))
        at, _ = directory_record(bytes(data), NAME)
        struct.pack_into("<H", data, at + 4, 0)
        struct.pack_into("<I", data, at + 38, 0)
        out = self.repaired(bytes(data))
        self.assert_every_reader_shows(out, NAME)
        with zipfile.ZipFile(out) as z:
            i = z.getinfo(NAME)
            self.assertEqual(i.create_system, 3)
            # No Unix mode was left to keep: an ordinary file's, not a link's or nothing.
            self.assertEqual(i.external_attr >> 16, 0o100644)

    def test_an_hpfs_host_in_a_damaged_directory_is_replaced_by_a_unix_one(self):
        # The record says HPFS 6.0 (mutant 8585's edit), and another entry's data is damaged, so
        # the repair rebuilds the directory from the old one.
        data = bytearray(read("python-stream-deflate-zip64.zip"))
        at, info = directory_record(bytes(data), NAME)
        struct.pack_into("<H", data, at + 4, 0x63C)
        flip_other_data(data)
        out = self.repaired(bytes(data))
        self.assert_every_reader_shows(out, NAME)
        with zipfile.ZipFile(out) as z:
            i = z.getinfo(NAME)
            self.assertEqual(i.create_system, 3)
            # A Unix mode that was there stays.
            self.assertEqual(i.external_attr >> 16, info.external_attr >> 16)

    def test_bit_11_with_an_extra_field_keeps_the_host(self):
        # bsdtar's record keeps bit 11 and its timestamp and owner fields: unzip then takes the
        # name as UTF-8 on any host (rule 71), so the old host is not second-guessed.
        data = bytearray(read("bsdtar-file.zip"))
        at, _ = directory_record(bytes(data), NAME)
        struct.pack_into("<H", data, at + 4, 0x63C)
        flip_other_data(data)
        out = self.repaired(bytes(data))
        self.assert_every_reader_shows(out, NAME)
        with zipfile.ZipFile(out) as z:
            self.assertEqual(z.getinfo(NAME).create_system, 6)

    def test_an_ascii_name_keeps_its_host(self):
        # Nothing can be converted in an ASCII name, so the damaged host is not second-guessed.
        data = bytearray(read("bsdtar-file.zip"))
        at, _ = directory_record(bytes(data), "backup/VERSION")
        struct.pack_into("<H", data, at + 4, 0x63C)
        flip_other_data(data)
        out = self.repaired(bytes(data))
        with zipfile.ZipFile(out) as z:
            self.assertEqual(z.getinfo("backup/VERSION").create_system, 6)

    def test_a_local_header_that_lost_bit_11_does_not_take_it_from_the_repair(self):
        # Java's jar: the local header's flags 0x808 become 0x8 (mutant 9209); the directory keeps
        # bit 11, and Python must still decode the name as UTF-8.
        data = bytearray(read("java-jar.zip"))
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            off = z.getinfo(NAME).header_offset
        flags = struct.unpack_from("<H", data, off + 6)[0]
        self.assertTrue(flags & 0x800)
        struct.pack_into("<H", data, off + 6, flags & ~0x800)
        out = self.repaired(bytes(data))
        self.assert_every_reader_shows(out, NAME)
        with zipfile.ZipFile(out) as z:
            self.assertTrue(z.getinfo(NAME).flag_bits & 0x800)

    def test_an_entry_rescued_from_the_directory_keeps_the_local_bit_11(self):
        # bsdtar's pipe archive (mutant 14684 of seed 13): the record's flags 0x808 become 0x1010
        # and the descriptor's compressed size 0xffffffff, so the entry is kept on the directory's
        # claims, whose flags lost bit 11; the local header still has it.
        data = bytearray(read("bsdtar-pipe.zip"))
        at, _ = directory_record(bytes(data), NAME)
        self.assertTrue(struct.unpack_from("<H", data, at + 8)[0] & 0x800)
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            i = z.getinfo(NAME)
            off = i.header_offset
        struct.pack_into("<H", data, at + 8, 0x1010)
        n, m = struct.unpack_from("<HH", data, off + 26)
        dd = off + 30 + n + m + i.compress_size
        self.assertEqual(data[dd:dd + 4], b"PK\x07\x08")
        struct.pack_into("<I", data, dd + 8, 0xFFFFFFFF)
        out = self.repaired(bytes(data))
        self.assert_every_reader_shows(out, NAME)
        with zipfile.ZipFile(out) as z:
            self.assertTrue(z.getinfo(NAME).flag_bits & 0x800)

    def test_a_name_neither_witness_marked_utf8_does_not_gain_bit_11(self):
        # Info-ZIP on Unix writes UTF-8 names without bit 11: Python shows them as CP437, and a
        # repair that added the bit would change the name Python restores.
        data = bytearray(read("infozip-file.zip"))
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            before = sorted(n for n in z.namelist() if n != "backup/data/a.bin")  # damaged below
        flip_other_data(data)
        out = self.repaired(bytes(data))
        with zipfile.ZipFile(out) as z:
            self.assertEqual(sorted(z.namelist()), before)
            self.assertFalse(any(i.flag_bits & 0x800 for i in z.infolist()))
            self.assertTrue(all(i.create_system == 3 for i in z.infolist()))
        unzip = subprocess.run(["unzip", "-l", out], capture_output=True, env=dict(os.environ, LC_ALL="C.UTF-8"))
        self.assertIn(NAME.encode(), unzip.stdout)
    # A folder entry's local name damaged (seed 17): its length shortened by one (mutant 4549), or
    # its '/' deleted so that the next header's 'P' takes its place (mutant 4261). No record
    # follows that reading, and the old directory's record, whole, names the folder: the copy is
    # the folder again, not a file 'backup/emptydir' or 'backup/emptydirP'.
    def test_a_folder_whose_local_name_lost_its_slash_stays_a_folder(self):
        data = read("java-jar.zip")
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            off = z.getinfo("backup/emptydir/").header_offset
        n = struct.unpack_from("<H", data, off + 26)[0]
        self.assertEqual(data[off + 30:off + 30 + n], b"backup/emptydir/")
        shortened = bytearray(data)
        struct.pack_into("<H", shortened, off + 26, n - 1)
        deleted = data[:off + 30 + n - 1] + data[off + 30 + n:]
        for label, damaged in (("name length", bytes(shortened)), ("deleted byte", deleted)):
            with self.subTest(label):
                if os.path.exists(os.path.join(self.tmp, "out.zip")):
                    os.remove(os.path.join(self.tmp, "out.zip"))
                out = self.repaired(damaged)
                self.assertEqual(run("verify", out).returncode, 0)
                with zipfile.ZipFile(out) as z:
                    names = z.namelist()
                self.assertIn("backup/emptydir/", names)
                self.assertFalse([x for x in names if x.startswith("backup/emptydir") and x != "backup/emptydir/"],
                                 names)
                seven = subprocess.run(["7z", "l", "-slt", out], capture_output=True)
                self.assertIn(b"Path = backup/emptydir\nFolder = +", seven.stdout)

    # The tie-break above only breaks ties: a local name that is likelier stays the winner when no
    # record follows it (review of the change: 'backuq/VERSION' in the record, the next header's
    # signature damaged; the entry was left out as a tie).
    def test_a_likelier_local_name_still_wins_when_no_record_follows_it(self):
        data = bytearray(read("java-jar.zip"))
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            infos = sorted(z.infolist(), key=lambda i: i.header_offset)
        k = [i.filename for i in infos].index("backup/VERSION")
        at, _ = directory_record(bytes(data), "backup/VERSION")
        data[at + 46 + 5] = ord("q")  # backuq/VERSION: a folder no other entry uses
        data[infos[k + 1].header_offset + 1] = ord("X")  # the next local header's signature
        out = self.repaired(bytes(data))
        with zipfile.ZipFile(out) as z:
            self.assertIn("backup/VERSION", z.namelist())
            self.assertEqual(z.read("backup/VERSION"), zipfile.ZipFile(io.BytesIO(read("java-jar.zip"))).read(
                "backup/VERSION"))
            self.assertNotIn("backuq/VERSION", z.namelist())

    # The same one level down, where the old directory breaks off after the folder's record: a
    # local name length one too long reads the next header's 'P' into the name, and the record
    # was the last one the directory gave (its own comment length edited). The local
    # name is the record's and then the start of a signature, so the record's name is the right
    # one (seed 22, mutant 329: every reader showed a file 'backup/data/P').
    def test_a_local_name_that_ran_into_the_next_header_keeps_the_record_name(self):
        data = bytearray(read("java-jar.zip"))
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            off = z.getinfo("backup/data/").header_offset
        n = struct.unpack_from("<H", data, off + 26)[0]
        self.assertEqual(data[off + 30 + n:off + 30 + n + 4], b"PK\x03\x04")
        struct.pack_into("<H", data, off + 26, n + 1)
        at, _ = directory_record(bytes(data), "backup/data/")
        self.assertEqual(struct.unpack_from("<H", data, at + 32)[0], 0)
        struct.pack_into("<H", data, at + 32, 27)
        out = self.repaired(bytes(data))
        self.assertEqual(run("verify", out).returncode, 0)
        with zipfile.ZipFile(out) as z:
            names = z.namelist()
            self.assertEqual(z.getinfo("backup/data/").file_size, 0)
        self.assertNotIn("backup/data/P", names)
        self.assertIn("backup/data/b.bin", names)
        seven = subprocess.run(["7z", "l", "-slt", out], capture_output=True)
        self.assertIn(b"Path = backup/data\nFolder = +", seven.stdout)
        # In place the local header keeps its long name, which readers that check it against the
        # directory refuse: the entry is left out, not written under either name.
        src = os.path.join(self.tmp, "in.zip")
        p = run("repair", "--in-place", src)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        with zipfile.ZipFile(src) as z:
            self.assertFalse([x for x in z.namelist() if x.startswith("backup/data/") and "." not in x], z.namelist())
        self.assertEqual(run("verify", src).returncode, 0)

    # The other way round (a review of the rule above): the record's name length cut by one on an
    # entry whose name ends in 'P' and whose data gap bytes follow. The local name is the
    # record's plus 'P' and no record follows it, but no signature goes on after it: the local
    # name is the writer's and stays, copy and in place.
    def test_a_name_ending_in_p_before_gap_bytes_is_not_taken_for_a_run_on(self):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            z.writestr("docs/ARCHIVE.ZIP", b"inner zip bytes " * 8)
            z.writestr("docs/b.txt", b"hello\n" * 10)
        d = bytearray(buf.getvalue())
        second = d.find(b"PK\x03\x04", 1)
        d[second:second] = b"\0" * 16
        cd = d.find(b"PK\x01\x02")
        struct.pack_into("<I", d, d.find(b"PK\x01\x02", cd + 1) + 42, second + 16)
        struct.pack_into("<I", d, d.rfind(b"PK\x05\x06") + 16, cd)
        self.assertEqual(run("verify", self.write_input(bytes(d))).returncode, 0)
        n, = struct.unpack_from("<H", d, cd + 28)
        struct.pack_into("<H", d, cd + 28, n - 1)
        out = self.repaired(bytes(d))
        with zipfile.ZipFile(out) as z:
            self.assertEqual(sorted(z.namelist()), ["docs/ARCHIVE.ZIP", "docs/b.txt"])
        src = self.write_input(bytes(d))
        p = run("repair", "--in-place", src)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        with zipfile.ZipFile(src) as z:
            self.assertIn("docs/ARCHIVE.ZIP", z.namelist())


if __name__ == "__main__":
    unittest.main()
