"""repair takes each field from the witness that verified (issue 10, "repair from every witness").

Each case is a named edit of one field in zipstream-ng's archive (SysReptor's writer), whose old
central directory is intact and agrees with the data."""
import io
import os
import shutil
import struct
import subprocess
import tempfile
import unittest
import zipfile

from zmtest import fixture_path, read, run, run_json

FIXTURE = "zipstream-ng-sysreptor.zip"


def original():
    with zipfile.ZipFile(fixture_path(FIXTURE)) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def info(name):
    with zipfile.ZipFile(io.BytesIO(read(FIXTURE))) as z:
        return z.getinfo(name) if name else z.infolist()


class RepairFromEveryWitness(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zipmedic-witness-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def repaired(self, data, *mode):
        src = os.path.join(self.tmp, "in.zip")
        with open(src, "wb") as f:
            f.write(data)
        out = os.path.join(self.tmp, "out.zip")
        if os.path.exists(out):
            os.unlink(out)
        p, doc = run_json("repair", src, *(mode or ("-o", out)))
        self.assertIn(p.returncode, (0, 1), p.stderr)
        return p, doc, (out if not mode else src)

    def assert_identical_entries(self, path, expect_names):
        orig = original()
        with zipfile.ZipFile(path) as z:
            names = [i.filename for i in z.infolist()]
            self.assertEqual(sorted(names), sorted(expect_names))
            for i in z.infolist():
                self.assertEqual(z.read(i), orig[i.filename], i.filename)
        self.assertEqual(run("verify", path).returncode, 0)

    def assert_holds(self, path, orig, names):
        """`path` holds exactly `names`, each with the bytes it had in `orig`."""
        with zipfile.ZipFile(path) as z:
            self.assertEqual(sorted(i.filename for i in z.infolist()), sorted(names))
            for i in z.infolist():
                self.assertEqual(z.read(i), orig[i.filename], i.filename)

    def test_a_cleared_bit_3_does_not_turn_an_entry_into_an_empty_one(self):
        # The local header of backup.jsonl with bit 3 cleared: its zero sizes then read as an empty
        # stored... deflated entry. The directory's sizes and CRC verify against the bytes.
        b = bytearray(read(FIXTURE))
        off = info("backup.jsonl").header_offset
        flags = struct.unpack_from("<H", b, off + 6)[0]
        struct.pack_into("<H", b, off + 6, flags & ~8)
        p, doc, out = self.repaired(bytes(b))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_identical_entries(out, list(original()))
        # In place the damaged local header stays, so the entry cannot be kept there, and says so.
        p, doc, same = self.repaired(bytes(b), "--in-place")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("backup.jsonl", doc["repair"]["lost"])
        self.assertEqual(open(same, "rb").read()[:len(b)], bytes(b))

    def test_a_damaged_local_name_is_replaced_by_the_directorys_verified_one(self):
        # A control byte in the local name: the directory's name is the likelier one.
        b = bytearray(read(FIXTURE))
        victim = info(None)[1]
        b[victim.header_offset + 30] = 0x01
        p, doc, out = self.repaired(bytes(b))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_identical_entries(out, list(original()))

    def test_two_equally_likely_names_leave_the_entry_out_rather_than_guess(self):
        # 'migrations.json' locally 'Migrations.json': both names are sound and both records agree
        # with the data, so which one was damaged cannot be told; no name that did not pass is
        # written, and the report says why.
        b = bytearray(read(FIXTURE))
        victim = info(None)[1]
        b[victim.header_offset + 30] ^= 0x20
        p, doc, out = self.repaired(bytes(b))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(doc["repair"]["lost"], ["Migrations.json"])
        why = [f for f in doc["findings"] if f["code"] == "cd_lfh_mismatch"]
        self.assertIn("cannot be told", why[0]["message"])
        self.assert_identical_entries(out, [n for n in original() if n != victim.filename])

    def test_a_slash_in_a_local_name_makes_a_folder_no_other_entry_has(self):
        # Info-ZIP behind a stub: 'backup/empty.txt' locally 'backup/e/pty.txt' (short run mutant
        # 39). The directory's name lies in a folder other entries use, the local one in a folder
        # of its own: a copy takes the directory's name; in place the local header stays, so the
        # entry is left out rather than listed under the damaged name.
        data = bytearray(read("sfx-adjusted.zip"))
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            victim = z.getinfo("backup/empty.txt")
            orig = {i.filename: z.read(i) for i in z.infolist()}
        at = victim.header_offset + 30 + 8
        self.assertEqual(data[at], ord("m"))
        data[at] = ord("/")
        for mode, expect in (((), sorted(orig)),
                             (("--in-place",), sorted(n for n in orig if n != victim.filename))):
            p, doc, out = self.repaired(bytes(data), *mode)
            self.assert_holds(out, orig, expect)
            seven = subprocess.run(["7z", "l", "-slt", out], capture_output=True)
            self.assertNotIn(b"e/pty.txt", seven.stdout, mode)

    def test_a_binary_comment_in_a_damaged_directory_record_is_not_copied(self):
        # Give the first directory record a 6-byte comment of binary bytes ("PK\1\2" among them) and
        # cut the archive's last entry off so that a repair must rebuild the directory.
        data = read(FIXTURE)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
        eocd = data.rfind(b"PK\x05\x06")
        cd_size, cd_off = struct.unpack_from("<II", data, eocd + 12)
        first = bytearray(data[cd_off:cd_off + 46])
        n, m, k = struct.unpack_from("<HHH", first, 28)
        rest = data[cd_off + 46:cd_off + 46 + n + m]
        struct.pack_into("<H", first, 32, 6)
        record = bytes(first) + rest + b"PK\x01\x02\xff\xfe"
        tail = data[cd_off + 46 + n + m + k:eocd]
        directory = record + tail
        end = bytearray(data[eocd:eocd + 22])
        struct.pack_into("<I", end, 12, len(directory))
        whole = data[:cd_off] + directory + bytes(end)
        with zipfile.ZipFile(io.BytesIO(whole)) as z:  # the damage is there, as Python reads it
            self.assertEqual(z.infolist()[0].comment, b"PK\x01\x02\xff\xfe")
        # A flipped byte in the last entry's data: the repair must rebuild the directory.
        broken = bytearray(whole)
        broken[infos[-1].header_offset + 30 + len(infos[-1].filename) + 2] ^= 0xFF
        p, doc, out = self.repaired(bytes(broken))
        self.assertTrue(doc["output"]["written"], p.stderr)
        with zipfile.ZipFile(out) as z:
            self.assertGreater(len(z.infolist()), 5)
            for i in z.infolist():
                self.assertEqual(i.comment, b"", i.filename)
        self.assertEqual(run("verify", out).returncode, 0)

    def test_an_lzma_entry_gets_bit_1_as_its_stream_is(self):
        # 7-Zip's LZMA entries end with a marker and set bit 1 (4.4.4); the local header of one
        # says 0x4 instead of 0x2 (mutant 14594 of the differential run). liblzma reads the stream
        # either way, 7-Zip refuses a copy whose bit 1 is clear ("Headers Error").
        data = bytearray(read("7zip-lzma.zip"))
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            victim = z.getinfo("backup/records.jsonl")
            orig = {i.filename: z.read(i) for i in z.infolist()}
        self.assertEqual(victim.compress_type, 14)
        self.assertEqual(struct.unpack_from("<H", data, victim.header_offset + 6)[0], 0x2)
        struct.pack_into("<H", data, victim.header_offset + 6, 0x4)
        p, doc, out = self.repaired(bytes(data))
        self.assertEqual(p.returncode, 0, p.stderr)
        with zipfile.ZipFile(out) as z:
            self.assertEqual(z.getinfo(victim.filename).flag_bits & 0x6, 0x2)
            for i in z.infolist():
                self.assertEqual(z.read(i), orig[i.filename], i.filename)
        seven = subprocess.run(["7z", "t", out], capture_output=True)
        self.assertEqual(seven.returncode, 0, seven.stdout)
        self.assertEqual(run("verify", out).returncode, 0)

    def test_a_deflate_stream_marked_deflate64_is_written_as_deflate(self):
        # Info-ZIP's pipe archive: one local header's method 8 becomes 9 (mutant 2696 of seed 11),
        # and the directory cannot be read. The stream decodes alike both ways, so the repaired
        # record says Deflate, which Python, Go, Java and libarchive read (they lack Deflate64).
        data = bytearray(read("infozip-pipe.zip"))
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            victim = z.getinfo("backup/VERSION")
            orig = {i.filename: z.read(i) for i in z.infolist()}
        self.assertEqual(victim.compress_type, 8)
        struct.pack_into("<H", data, victim.header_offset + 8, 9)
        eocd = data.rfind(b"PK\x05\x06")
        struct.pack_into("<I", data, eocd + 16, len(data))  # the directory's offset: unreadable
        p, doc, out = self.repaired(bytes(data))
        with zipfile.ZipFile(out) as z:
            self.assertEqual(z.getinfo(victim.filename).compress_type, 8)
        self.assert_holds(out, orig, orig)
        bsdtar = subprocess.run(["bsdtar", "-xOf", out], capture_output=True)
        self.assertEqual(bsdtar.returncode, 0, bsdtar.stderr)
        self.assertEqual(run("verify", out).returncode, 0)

    def test_a_local_header_the_old_directory_contradicts_is_left_out(self):
        # Python's streamed stored archive: four bytes deleted at the start of the last entry's
        # name (mutant 8565 of seed 11). The header then takes four data bytes into its name and
        # meets the descriptor-like run the data starts with: an empty entry of a name the
        # archive never held. The directory, read where it now ends, names another entry there.
        data = bytearray(read("python-stream-stored.zip"))
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            victim = z.getinfo("backup/data/signatures.bin")
            orig = {i.filename: z.read(i) for i in z.infolist()}
        at = victim.header_offset + 30
        self.assertEqual(bytes(data[at:at + 4]), b"back")
        del data[at:at + 4]
        p, doc, out = self.repaired(bytes(data))
        said = [f["message"] for f in doc["findings"] if f["code"] == "cd_lfh_mismatch"]
        self.assertTrue(any("names 'backup/data/signatures.bin'" in m for m in said), said)
        self.assert_holds(out, orig, [n for n in orig if n != victim.filename])
        self.assertEqual(run("verify", out).returncode, 0)

    def test_a_ppmd_stream_that_lost_its_last_byte_is_not_rescued(self):
        # 7-Zip's PPMd archive to a pipe: the last byte of an entry's stream deleted (mutant 166 of
        # seed 14). The descriptor's 'P' becomes the stream's last byte: libarchive decodes the
        # same bytes, 7-Zip refuses the stream (its range coder does not end at 0). The directory,
        # read where it now ends, must not bring the entry back with that byte.
        data = bytearray(read("7zip-ppmd-stdout.zip"))
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            victim = z.getinfo("backup/data/signatures.bin")
        n, m = struct.unpack_from("<HH", data, victim.header_offset + 26)
        end = victim.header_offset + 30 + n + m + victim.compress_size
        self.assertEqual(bytes(data[end:end + 4]), b"PK\x07\x08")
        del data[end - 1]
        p, doc, out = self.repaired(bytes(data))
        self.assertIn(victim.filename, doc["repair"]["lost"])
        seven = subprocess.run(["7z", "t", out], capture_output=True)
        self.assertEqual(seven.returncode, 0, seven.stdout[-400:])

    def test_a_name_that_lost_its_first_byte_takes_the_directorys_from_a_moved_directory(self):
        # Info-ZIP's archive with the first byte of 'backup/empty.txt' deleted from its local
        # header (seed 15, mutant 3030): the name reads 'ackup/empty.txtU' (the extra field's
        # first byte) and every offset after it is one too high. The directory, read where it now
        # ends, is a sound witness of that record: a copy takes its name; in place the damaged
        # header stays, so the entry is left out rather than listed under a name never written.
        data = bytearray(read("infozip-file.zip"))
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            victim = z.getinfo("backup/empty.txt")
            orig = {i.filename: z.read(i) for i in z.infolist()}
        at = victim.header_offset + 30
        self.assertEqual(data[at], ord("b"))
        del data[at]
        for mode in ((), ("--in-place",)):
            p, doc, out = self.repaired(bytes(data), *mode)
            with zipfile.ZipFile(out) as z:
                names = [i.filename for i in z.infolist()]
            self.assertNotIn("ackup/empty.txtU", names, mode)
            self.assertEqual(victim.filename in names, not mode, (mode, names))
            for n in names:
                self.assertIn(n, orig)

    def test_a_ppmd_stream_whose_end_moved_is_left_out(self):
        # 7-Zip's PPMd archives (seed 16): a byte added at the end of the last stream (mutant
        # 10219, no record right after it), or the last byte and "PK\7" of its descriptor deleted
        # (mutant 5621, the stream takes the '\x08' and an unsigned descriptor seems to follow).
        # Both decode to the right bytes; 7-Zip refuses both. Every other entry is kept, whole.
        for fixture, victim_name, edit in (
                ("7zip-ppmd.zip", "backup/records.jsonl", "insert"),
                ("7zip-ppmd-stdout.zip", "backup/VERSION", "delete")):
            data = bytearray(read(fixture))
            with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:  # Python lacks PPMd: listed only
                victim = z.getinfo(victim_name)
                names = z.namelist()
            n, m = struct.unpack_from("<HH", data, victim.header_offset + 26)
            end = victim.header_offset + 30 + n + m + victim.compress_size
            if edit == "insert":
                data[end - 1:end - 1] = b"2"
            else:
                self.assertEqual(bytes(data[end:end + 4]), b"PK\x07\x08")
                del data[end - 1:end + 3]
            p, doc, out = self.repaired(bytes(data))
            self.assertIn(victim_name, doc["repair"]["lost"], fixture)
            with zipfile.ZipFile(out) as z:
                self.assertEqual(sorted(z.namelist()), sorted(k for k in names if k != victim_name))
            seven = subprocess.run(["7z", "t", out], capture_output=True)  # every CRC checked
            self.assertEqual(seven.returncode, 0, seven.stdout[-400:])


    def test_a_descriptor_like_run_at_the_data_start_does_not_make_an_entry_empty(self):
        # seed 21, mutant 16826: four bytes deleted at the start of a stored bit-3 entry whose data
        # holds "PK\7\8" and zeros; the walk then met a descriptor of no bytes at all. The old
        # directory's record says 3,040 bytes: the entry is lost, not written empty, copy and in place.
        name = "backup/data/signatures.bin"
        data = read("python-stream-deflate-zip64.zip")
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            orig = {i.filename: z.read(i) for i in z.infolist()}
            i = z.getinfo(name)
        self.assertEqual(i.compress_type, zipfile.ZIP_STORED)
        self.assertTrue(i.flag_bits & 8)
        n, m = struct.unpack_from("<HH", data, i.header_offset + 26)
        start = i.header_offset + 30 + n + m
        damaged = data[:start] + data[start + 4:]
        p, doc, out = self.repaired(damaged)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(name, doc["repair"]["lost"])
        self.assert_holds(out, orig, [k for k in orig if k != name])
        self.assertEqual(run("verify", out).returncode, 0)
        p, doc, same = self.repaired(damaged, "--in-place")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assert_holds(same, orig, [k for k in orig if k != name])


if __name__ == "__main__":
    unittest.main()
