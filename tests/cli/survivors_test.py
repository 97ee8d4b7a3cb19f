"""Repair's survivor promise: every entry whose local header and data are whole somewhere in the
damaged file comes back, the lost list names exactly the entries that did not, and an entry keeps
the type and mode its directory record gave it, or comes back with a safe one and a metadata_lost
warning saying so."""
import io
import os
import random
import stat
import subprocess
import sys
import unittest
import zipfile

from zmtest import SRC, ZIPMEDIC, Layout, TempDirTest, codes, fixture_path, need, read, run_json


def tree_of_texts(root, count=30):
    """An Info-ZIP-like tree of `count` text files of different lengths."""
    rng = random.Random(count)
    words = [b"backup", b"restore", b"archive", b"entry", b"deflate", b"header", b"offset", b"zipmedic"]
    os.makedirs(os.path.join(root, "t", "d"))
    for i in range(count):
        body = b" ".join(rng.choice(words) for _ in range(150 + 40 * i))
        with open(os.path.join(root, "t", "d", "f%02d.txt" % i), "wb") as f:
            f.write(body)


def entries_of(path):
    """name -> (crc, compressed bytes, unix mode) of an archive, read with Python's zipfile."""
    out = {}
    with open(path, "rb") as fh:
        data = fh.read()
    with zipfile.ZipFile(path) as z:
        for i in z.infolist():
            n, m = int.from_bytes(data[i.header_offset + 26:i.header_offset + 28], "little"), \
                int.from_bytes(data[i.header_offset + 28:i.header_offset + 30], "little")
            at = i.header_offset + 30 + n + m
            out[i.filename] = (i.CRC, data[at:at + i.compress_size], i.external_attr >> 16)
    return out


class DeletedInsideData(TempDirTest):
    """Bytes deleted inside one entry's data: the walk must not trust that entry's sizes and jump
    past the next local header."""

    def setUp(self):
        super().setUp()
        tree_of_texts(self.tmp)
        self.zip = os.path.join(self.tmp, "a.zip")
        subprocess.run([need("zip"), "-qr", self.zip, "t"], cwd=self.tmp, check=True)
        self.orig = entries_of(self.zip)
        with zipfile.ZipFile(self.zip) as z:
            self.infos = sorted(z.infolist(), key=lambda i: i.header_offset)

    def repair(self, damaged):
        src = self.write("damaged.zip", damaged)
        out = os.path.join(self.tmp, "out.zip")
        if os.path.exists(out):
            os.unlink(out)
        p, doc = run_json("repair", src, "-o", out)
        return p, doc, entries_of(out)

    def test_fifty_bytes_deleted_lose_only_that_entry(self):
        with open(self.zip, "rb") as f:
            data = f.read()
        rng = random.Random(50)
        for trial in range(10):
            k = rng.randrange(2, len(self.infos) - 1)
            info = self.infos[k]
            start = info.header_offset + 30 + len(info.orig_filename.encode()) + len(info.extra)
            at = rng.randrange(start, start + info.compress_size - 50)
            p, doc, got = self.repair(data[:at] + data[at + 50:])
            with self.subTest(trial=trial, entry=info.filename, at=at):
                self.assertEqual(p.returncode, 1)
                self.assertEqual(doc["repair"]["lost"], [info.filename])
                self.assertEqual(set(got), set(self.orig) - {info.filename})
                for name, g in got.items():
                    self.assertEqual(g[:2], self.orig[name][:2], name)
                    # The old directory's records moved with the deletion; found by name and
                    # data, they still give each entry its mode.
                    self.assertEqual(g[2], self.orig[name][2], name)
                self.assertNotIn("cd_lfh_mismatch", codes(doc))
                self.assertNotIn("metadata_lost", codes(doc))

    def test_bytes_inserted_or_repeated_lose_only_that_entry(self):
        with open(self.zip, "rb") as f:
            data = f.read()
        info = max(self.infos, key=lambda i: i.compress_size)
        start = info.header_offset + 30 + len(info.orig_filename.encode()) + len(info.extra)
        at = start + info.compress_size // 2
        # 97 bytes inserted; 150 bytes of its data repeated (a download resumed too early).
        for damaged in (data[:at] + bytes(range(97)) + data[at:], data[:at] + data[at - 150:]):
            p, doc, got = self.repair(damaged)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(doc["repair"]["lost"], [info.filename])
            self.assertEqual(set(got), set(self.orig) - {info.filename})

    def test_two_archives_joined(self):
        with open(self.zip, "rb") as f:
            data = f.read()
        other = io.BytesIO()
        with zipfile.ZipFile(other, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("second/one.txt", b"one " * 100)
            z.writestr("second/two.txt", b"two " * 100)
        p, doc, got = self.repair(data + other.getvalue())
        self.assertEqual(p.returncode, 0, doc["findings"])
        self.assertEqual(set(got), set(self.orig) | {"second/one.txt", "second/two.txt"})
        self.assertEqual(doc["repair"]["lost"], [])


    def test_damaged_name_length_is_lost_under_its_records_name(self):
        # A byte inserted inside a local header's CRC (a resumed download): its name length reads
        # the name length's low byte as its high one, and the "name" runs on over the data and
        # the next headers. Records after the insertion shift by one, the damaged entry's record
        # does not: it still names the entry, and the lost list says that name once, not 4 KiB
        # of bytes (fuzz-repair seed 1000, case 4378).
        with open(self.zip, "rb") as f:
            data = f.read()
        info = self.infos[len(self.infos) // 2]
        at = info.header_offset + 15
        p, doc, got = self.repair(data[:at] + b"\x5a" + data[at:])
        self.assertEqual(p.returncode, 1)
        self.assertEqual(doc["repair"]["lost"], [info.filename])
        self.assertEqual(set(got), set(self.orig) - {info.filename})


class JoinedDirectoryRecords(TempDirTest):
    """Bytes deleted inside the central directory, from one record's name to as far into the
    next: the two read as one record that parses, with the first one's fields and data and a name
    made of both. It cannot outvote the entry's intact local name (fuzz-repair seed 1000, case 178:
    7-Zip's 'backup/data/b.bin' and 'backup/data/signatures.bin' read as 'backupnatures.bin')."""

    def test_entry_kept_under_its_local_name(self):
        buf = io.BytesIO()
        names = ["dir/a.txt", "dir/b.bin", "dir/signatures.bin", "dir/z.txt"]
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for i, name in enumerate(names):
                zi = zipfile.ZipInfo(name, (2026, 1, 2, 3, 4, 6))
                zi.external_attr = 0o100640 << 16
                zi.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(zi, (name.encode() + b" ") * (40 + 30 * i))
        data = buf.getvalue()
        zip_path = self.write("whole.zip", data)
        orig = entries_of(zip_path)
        recs = {}
        q = data.find(b"PK\x01\x02")
        while data[q:q + 4] == b"PK\x01\x02":
            n, m, c = (int.from_bytes(data[q + o:q + o + 2], "little") for o in (28, 30, 32))
            recs[data[q + 46:q + 46 + n].decode()] = (q, 46 + n + m + c)
            q += 46 + n + m + c
        # From after "dir" in b.bin's record, as many bytes as signatures.bin's record holds: the
        # joined record ends where z.txt's starts, and names "dires.bin".
        at = recs["dir/b.bin"][0] + 46 + 3
        damaged = data[:at] + data[at + recs["dir/signatures.bin"][1]:]
        self.assertIn(b"dires.bin", damaged)
        out = os.path.join(self.tmp, "out.zip")
        p, doc = run_json("repair", self.write("joined.zip", damaged), "-o", out)
        self.assertEqual(p.returncode, 0, doc["findings"])
        self.assertEqual(doc["repair"]["lost"], [])
        got = entries_of(out)
        self.assertEqual(set(got), set(names))
        for name in names:
            self.assertEqual(got[name][:2], orig[name][:2], name)
        # b.bin's mode is the joined record's own fixed field; signatures.bin has no record left.
        self.assertEqual(got["dir/b.bin"][2], 0o100640)
        self.assertEqual(got["dir/signatures.bin"][2], 0o100600)
        self.assertIn("metadata_lost", codes(doc))



class RepeatedRange(TempDirTest):
    """A download resumed at the wrong offset repeats a range: the file holds a first copy of some
    entries cut where the resume began, then every entry whole. A bit-3 Deflate entry cut there
    decodes on through the repeated local headers as if they were its data; the whole copies
    inside what it took are survivors (fuzz-repair seed 31, case 1003)."""

    def test_the_whole_copies_inside_a_stream_that_ran_on_come_back(self):
        data = read("infozip-pipe.zip")
        orig = entries_of(fixture_path("infozip-pipe.zip"))
        with zipfile.ZipFile(fixture_path("infozip-pipe.zip")) as z:
            rec = [i for i in z.infolist() if i.filename == "backup/records.jsonl"][0]
        self.assertTrue(rec.flag_bits & 8)
        cut = rec.header_offset + 30 + len(rec.filename) + 3000  # inside its Deflate data
        damaged = data[:cut] + data
        out = os.path.join(self.tmp, "out.zip")
        # One thread and two: a worker takes a bit-3 entry up to a descriptor candidate instead.
        for threads in ("1", "2"):
            with self.subTest(threads=threads):
                if os.path.exists(out):
                    os.unlink(out)
                p, doc = run_json("repair", self.write("repeated.zip", damaged), "-o", out, "--threads", threads)
                self.assertEqual(p.returncode, 0, doc["findings"])
                self.assertEqual(doc["repair"]["lost"], [])
                got = entries_of(out)
                self.assertEqual(set(got), set(orig))
                for name in orig:
                    self.assertEqual(got[name][:2], orig[name][:2], name)
        # the cut first copy is the damage scan reports, and no whole entry is inside a stretch
        p, doc = run_json("scan", self.write("repeated.zip", damaged))
        self.assertEqual(p.returncode, 1)
        self.assertIn("decode_error", codes(doc, "backup/records.jsonl"))
        self.assertGreaterEqual([e["status"] for e in doc["entries"]].count("ok"), len(orig))

    def test_an_archive_inside_an_entry_whose_descriptor_is_damaged_stays_inside(self):
        # The other side of the rule above: a streamed entry (bit 3) holding a stored archive, its
        # descriptor's CRC damaged. Deflate keeps the inner local headers verbatim (stored
        # blocks), yet the descriptor's sizes are the stream's own: the entry is damaged
        # and the inner entries are not taken for the outer archive's.
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w", zipfile.ZIP_STORED) as z:
            for i in range(3):
                z.writestr("inner-%d.bin" % i, random.Random(i).randbytes(3000))

        class Unseekable(io.RawIOBase):
            def __init__(self):
                self.buf = bytearray()

            def writable(self):
                return True

            def write(self, b):
                self.buf += b
                return len(b)

        sink = Unseekable()
        # Deflate at level 0: stored blocks, as zlib writes for data it cannot shrink.
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, compresslevel=0) as z:
            z.writestr("outer/nested.zip", inner.getvalue())
            z.writestr("outer/after.txt", b"after " * 100)
        data = bytes(sink.buf)
        desc = data.find(b"PK\x07\x08")
        self.assertGreater(desc, 0)
        damaged = bytearray(data)
        damaged[desc + 4] ^= 0x55  # the descriptor's CRC
        path = self.write("nested.zip", bytes(damaged))
        for threads in ("1", "2"):
            with self.subTest(threads=threads):
                p, doc = run_json("scan", path, "--threads", threads)
                self.assertEqual(p.returncode, 1)
                names = [e["name"] for e in doc["entries"]]
                self.assertEqual(names, ["outer/nested.zip", "outer/after.txt"])

class InPlaceResult(TempDirTest):
    """An archive repaired in place keeps a damaged entry's bytes where they were."""

    def test_scan_of_an_archive_cut_and_repaired_in_place(self):
        # Cut inside its largest entry: the scan says where that entry's data runs into the
        # appended directory instead of calling it cut by the end of the file.
        data = read("infozip-file.zip")
        lay = Layout(data)
        k = max(range(len(lay.infos)), key=lambda i: lay.infos[i].compress_size)
        s, e = lay.extent(k)
        path = self.write("cut.zip", data[:s + (e - s) // 2])
        p, doc = run_json("repair", "--in-place", path)
        self.assertEqual(p.returncode, 1)
        p, doc = run_json("scan", path)
        self.assertNotIn("entry_truncated", codes(doc))
        cut = [f for f in doc["findings"] if f["entry"] == lay.infos[k].filename]
        self.assertTrue(cut and "runs into the central directory at offset" in cut[0]["message"], cut)
        self.assertIsNone(doc["scan"].get("cut_entry"))

    def bsdtar_from_a_pipe(self, path):
        out = os.path.join(self.tmp, "x%d" % len(os.listdir(self.tmp)))
        os.makedirs(out)
        with open(path, "rb") as f:
            cat = subprocess.Popen(["cat"], stdin=f, stdout=subprocess.PIPE)
            p = subprocess.run([need("bsdtar"), "-xf", "-", "-C", out], stdin=cat.stdout, capture_output=True)
            cat.stdout.close()
            cat.wait()
        return p.returncode

    def test_verify_warns_that_streaming_readers_stop_at_damaged_bytes_in_the_middle(self):
        # bsdtar's streamed archive, bytes of a.bin overwritten: in place, its bytes stay between
        # entries that came back, where bsdtar reading a pipe meets them.
        data = bytearray(read("bsdtar-pipe.zip"))
        lay = Layout(bytes(data))
        k = [i.filename for i in lay.infos].index("backup/data/a.bin")
        at = lay.data_offset(k) + 100
        data[at:at + 50] = bytes(50)
        path = self.write("damaged.zip", bytes(data))
        p, doc = run_json("repair", "--in-place", path)
        self.assertEqual(p.returncode, 1)
        p, doc = run_json("verify", path)
        self.assertEqual(p.returncode, 0)
        warn = [f for f in doc["findings"] if f["code"] == "unreferenced_local_header"]
        self.assertEqual(len(warn), 1)
        self.assertIn("streaming readers (bsdtar from a pipe, Java's ZipInputStream, unzip from stdin)",
                      warn[0]["message"])
        self.assertIn("stop at offset %d" % lay.starts[k], warn[0]["message"])
        self.assertIn("repair -o OUT writes an archive without it", warn[0]["message"])
        self.assertNotEqual(self.bsdtar_from_a_pipe(path), 0)
        out = os.path.join(self.tmp, "copy.zip")
        run_json("repair", path, "-o", out)
        self.assertEqual(self.bsdtar_from_a_pipe(out), 0)


class KeptMetadata(TempDirTest):
    """A never-finished bsdtar backup of a tree with symbolic links, a 0640 file and 0700 folders:
    bsdtar writes the Unix modes only in the central directory."""

    def setUp(self):
        super().setUp()
        root = os.path.join(self.tmp, "etc")
        os.makedirs(os.path.join(root, "private"))
        os.makedirs(os.path.join(root, "public"))
        for i in range(12):
            with open(os.path.join(root, "public", "conf%02d" % i), "wb") as f:
                f.write(b"setting = %d\n" % i * (20 + i))
        with open(os.path.join(root, "shadow"), "wb") as f:
            f.write(b"root:*:19000:0:99999:7:::\n")
        os.chmod(os.path.join(root, "shadow"), 0o640)
        os.chmod(os.path.join(root, "private"), 0o700)
        for i in range(3):
            os.symlink("../public/conf%02d" % i, os.path.join(root, "private", "link%d" % i))
        self.zip = os.path.join(self.tmp, "etc.zip")
        subprocess.run([need("bsdtar"), "--format", "zip", "-cf", self.zip, "etc"], cwd=self.tmp, check=True)
        with open(self.zip, "rb") as f:
            self.data = f.read()
        self.orig = entries_of(self.zip)
        self.cd = self.data.find(b"PK\x01\x02")

    def repair(self, damaged):
        out = os.path.join(self.tmp, "out.zip")
        p, doc = run_json("repair", self.write("cut.zip", damaged), "-o", out)
        return p, doc, entries_of(out)

    def test_cut_before_the_directory(self):
        p, doc, got = self.repair(self.data[:self.cd])
        self.assertEqual(p.returncode, 0)
        self.assertEqual(set(got), set(self.orig))
        for name, (_, _, mode) in got.items():
            self.assertEqual(mode, 0o40700 if name.endswith("/") else 0o100600, name)
        lost = [f for f in doc["findings"] if f["code"] == "metadata_lost"]
        self.assertEqual(len(lost), 1)
        self.assertEqual(lost[0]["severity"], "warning")
        self.assertIn("%d entries had their type and permissions only in the lost directory" % len(got),
                      lost[0]["message"])
        self.assertIn("3 were probably symbolic links", lost[0]["message"])
        # The text report says it too.
        p = subprocess.run([ZIPMEDIC, "repair", self.write("cut2.zip", self.data[:self.cd]), "-o",
                            os.path.join(self.tmp, "out2.zip")], capture_output=True)
        self.assertIn(b"metadata_lost", p.stdout + p.stderr)

    def test_cut_in_the_middle_of_the_directory(self):
        # Cut after the directory's first half of records: those keep their entries' modes.
        records = []
        p = self.cd
        while self.data[p:p + 4] == b"PK\x01\x02":
            n, m, c = (int.from_bytes(self.data[p + o:p + o + 2], "little") for o in (28, 30, 32))
            records.append((p, self.data[p + 46:p + 46 + n].decode()))
            p += 46 + n + m + c
        half = len(records) // 2
        cut_at = records[half][0] + 20
        p, doc, got = self.repair(self.data[:cut_at])
        self.assertEqual(set(got), set(self.orig))
        described = {name for _, name in records[:half]}
        for name, (_, _, mode) in got.items():
            want = self.orig[name][2] if name in described else (0o40700 if name.endswith("/") else 0o100600)
            self.assertEqual(mode, want, name)
        kinds = {stat.S_IFMT(self.orig[n][2]) for n in described}
        self.assertIn(stat.S_IFLNK, kinds | {stat.S_IFMT(got[n][2]) for n in described})
        lost = [f for f in doc["findings"] if f["code"] == "metadata_lost"]
        self.assertEqual(len(lost), 1)
        self.assertTrue(lost[0]["message"].startswith("%d entr" % (len(got) - half)), lost[0]["message"])


class DamageBesideSurvivors(TempDirTest):
    """Damage in one entry's header or record, next to entries that are whole: the whole ones
    come back with their bytes, and the lost list names exactly the entries whose headers were hit
    (scripts/fuzz-repair, seed 2026)."""

    def repair(self, fixture, damaged):
        out = os.path.join(self.tmp, "out.zip")
        if os.path.exists(out):
            os.unlink(out)
        p, doc = run_json("repair", self.write("damaged.zip", damaged), "-o", out)
        return p, doc, out

    @staticmethod
    def layout(data):
        """Names and local header offsets in file order, without decoding (Python lacks xz and
        PPMd, so zmtest.Layout cannot read these)."""
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = sorted(z.infolist(), key=lambda i: i.header_offset)
        return [i.filename for i in infos], [i.header_offset for i in infos]

    @staticmethod
    def record_of(data, name):
        """The offset of the directory record that names `name`."""
        end = data.rfind(b"PK\x05\x06")
        p = int.from_bytes(data[end + 16:end + 20], "little")
        while data[p:p + 4] == b"PK\x01\x02":
            n, m, c = (int.from_bytes(data[p + o:p + o + 2], "little") for o in (28, 30, 32))
            if data[p + 46:p + 46 + n] == name.encode():
                return p
            p += 46 + n + m + c
        raise AssertionError(name)

    def assert_back(self, fixture, out, names):
        """Each named entry is in `out` with its writer's CRC and compressed bytes."""
        orig, got = entries_of(fixture_path(fixture)), entries_of(out)
        self.assertEqual(set(got), set(names))
        for name in names:
            self.assertEqual(got[name][:2], orig[name][:2], name)

    def test_an_empty_entrys_cut_extra_length_does_not_hide_the_entries_after_it(self):
        # codec_zip's xz archive (case 387): 200 bytes deleted from the extra length of the empty
        # 'backup/empty.txt' on, through the next entry's header. The length then reads two bytes
        # of xz data, an extra block of kilobytes that does not parse and runs over whole entries.
        fx = "codec_zip-xz-stream.zip"
        data = read(fx)
        names, starts = self.layout(data)
        k = names.index("backup/empty.txt")
        at = starts[k] + 28
        damaged = data[:at] + data[at + 200:]
        hit = [n for n, s in zip(names, starts) if at <= s < at + 200]
        self.assertEqual(hit, ["backup/records.jsonl"])
        # Its data (none) would start past the header of 'backup/data/', two entries on.
        extra_len = int.from_bytes(damaged[at:at + 2], "little")
        self.assertGreater(at + 2 + len("backup/empty.txt") + extra_len, starts[k + 2] - 200)
        p, doc, out = self.repair(fx, damaged)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(doc["repair"]["lost"], hit)
        self.assert_back(fx, out, [n for n in names if n not in hit])

    def test_an_empty_folders_record_that_claims_bytes_from_no_bytes_keeps_it(self):
        # 7-Zip's LZMA archive (case 3921): two bytes of the directory record of the empty
        # 'backup/emptydir/' overwritten inside its uncompressed size (153,550,848 bytes, from 0
        # compressed). Its local header and the next one are whole: it comes back, nothing is lost.
        fx = "7zip-lzma.zip"
        data = bytearray(read(fx))
        names, _ = self.layout(bytes(data))
        rec = self.record_of(bytes(data), "backup/emptydir/")
        self.assertEqual(bytes(data[rec + 20:rec + 28]), bytes(8))
        data[rec + 26:rec + 28] = b"\x27\x09"
        p, doc, out = self.repair(fx, bytes(data))
        self.assertEqual(p.returncode, 0, doc["findings"])
        self.assertEqual(doc["repair"]["lost"], [])
        self.assert_back(fx, out, names)

    def test_a_ppmd_entry_whose_signed_descriptor_ends_it_survives_the_next_header_cut(self):
        # 7-Zip's PPMd archive to a pipe (case 4007): 7 bytes deleted from just after the
        # signature of 'backup/VERSION'. The entry before it ends with a signed descriptor whose
        # size is its stream's: it is whole, and 7-Zip reads the copy (every CRC checked).
        fx = "7zip-ppmd-stdout.zip"
        data = read(fx)
        names, starts = self.layout(data)
        at = starts[names.index("backup/VERSION")] + 1
        self.assertEqual(data[at - 17:at - 13], b"PK\x07\x08")
        p, doc, out = self.repair(fx, data[:at] + data[at + 7:])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(doc["repair"]["lost"], ["backup/VERSION"])
        self.assert_back(fx, out, [n for n in names if n != "backup/VERSION"])
        seven = subprocess.run([need("7z"), "t", out], capture_output=True)
        self.assertEqual(seven.returncode, 0, seven.stdout[-400:])


class RepairFuzzSeed(unittest.TestCase):
    """A seeded short run of scripts/fuzz-repair (the long one is run by hand)."""

    def test_seeded_run(self):
        p = subprocess.run([sys.executable, os.path.join(SRC, "scripts", "fuzz-repair"), "--seed", "24", "--count",
                            "40", "--zipmedic", ZIPMEDIC], capture_output=True, timeout=300)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr).decode(errors="replace")[-3000:])
        self.assertIn(b"40 damaged archives, 0 failed", p.stdout)


if __name__ == "__main__":
    unittest.main()
