"""Deflate64 (9), zstd (93), xz (95) and PPMd (98) from the command line: each fixture verifies, a flipped
byte in its data is named, and a cut copy repaired keeps every whole entry (7z reads the result).

Python's zipfile decodes none of these methods, so entries are located from its directory listing
only and contents are checked by CRC (zipmedic's and 7-Zip's)."""
import os
import struct
import subprocess
import unittest
import zipfile
import zlib

from zmtest import TempDirTest, codes, fixture_path, read, run, run_json

# fixture -> the method its compressed entries use, as zipmedic names it
METHOD_FIXTURES = {
    "7zip-deflate64.zip": "deflate64",
    "7zip-deflate64-far.zip": "deflate64",
    "7zip-deflate64-stdout.zip": "deflate64",
    "codec_zip-zstd.zip": "zstd",
    "codec_zip-zstd-stream.zip": "zstd",
    "codec_zip-xz.zip": "xz",
    "codec_zip-xz-stream.zip": "xz",
    "7zip-ppmd.zip": "ppmd",
    "7zip-ppmd-stdout.zip": "ppmd",
}


def entries_of(data):
    """(info, data_start, data_end) per entry in file order, from the central directory and the
    local headers' name and extra lengths (APPNOTE 4.3.7)."""
    import io
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        infos = sorted(z.infolist(), key=lambda i: i.header_offset)
    out = []
    for i in infos:
        n, m = struct.unpack("<HH", data[i.header_offset + 26:i.header_offset + 30])
        start = i.header_offset + 30 + n + m
        out.append((i, start, start + i.compress_size))
    return out


def seven_zip_test(path):
    return subprocess.run(["7z", "t", "-bso0", "-bsp0", path], capture_output=True)


class Methods(TempDirTest):
    def test_each_fixture_verifies_ok_from_a_file_and_a_pipe_and_scans_ok(self):
        for fx, method in METHOD_FIXTURES.items():
            with self.subTest(fixture=fx):
                p, doc = run_json("verify", fixture_path(fx))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(doc["verdict"], "ok")
                # 7-Zip stores what does not compress (the random .bin files).
                used = {e["method"] for e in doc["entries"] if e["uncompressed_size"] > 0}
                self.assertIn(method, used)
                self.assertLessEqual(used, {method, "stored"})
                with zipfile.ZipFile(fixture_path(fx)) as z:
                    self.assertEqual({e["name"]: int(e["crc32"], 16) for e in doc["entries"]},
                                     {i.filename: i.CRC for i in z.infolist()})
                pp, pdoc = run_json("verify", "-", input=read(fx))
                self.assertEqual(pp.returncode, 0, pp.stderr)
                self.assertEqual(pdoc["entries"], doc["entries"])
                # scan walks the local headers only: for the bit-3 fixtures it finds each entry's
                # end by decoding to the end of the stream, then the descriptor right after it.
                sp, sdoc = run_json("scan", fixture_path(fx))
                self.assertEqual(sp.returncode, 0, sp.stderr)
                self.assertEqual([(e["name"], e["crc32"], e["compressed_size"]) for e in sdoc["entries"]],
                                 [(e["name"], e["crc32"], e["compressed_size"]) for e in doc["entries"]])

    def test_a_flipped_byte_in_an_entrys_data_is_named(self):
        for fx in METHOD_FIXTURES:
            data = read(fx)
            # The largest compressed entry; a byte in the middle of its data is flipped.
            info, start, end = max(entries_of(data), key=lambda t: t[0].compress_size)
            at = (start + end) // 2
            bad = bytearray(data)
            bad[at] ^= 0x20
            path = self.write("flip-" + fx, bytes(bad))
            for args in (("verify", path), ("scan", path)):
                with self.subTest(fixture=fx, command=args[0]):
                    p, doc = run_json(*args)
                    self.assertEqual(p.returncode, 1, p.stderr)
                    self.assertEqual(doc["verdict"], "damaged")
                    named = {f["entry"] for f in doc["findings"]}
                    self.assertIn(info.filename, named)
                    # A bit-3 entry whose decoder stops early is judged against the descriptor.
                    self.assertTrue(codes(doc, info.filename) & {"crc_mismatch", "decode_error", "size_mismatch",
                                                                 "descriptor_mismatch"}, doc["findings"])
                    others = [e for e in doc["entries"] if e["name"] != info.filename]
                    self.assertTrue(all(e["status"] == "ok" for e in others), others)
            with self.subTest(fixture=fx, command="verify -"):
                p, doc = run_json("verify", "-", input=bytes(bad))
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(info.filename, {f["entry"] for f in doc["findings"]})

    def test_a_cut_copy_repaired_keeps_every_whole_entry_and_7z_reads_it(self):
        for fx in METHOD_FIXTURES:
            data = read(fx)
            ents = entries_of(data)
            # Cut in the middle of the largest entry's data, or of its directory for a one-entry
            # archive: the entries before the cut are whole, the cut one is lost.
            k = max(range(len(ents)), key=lambda j: ents[j][0].compress_size)
            if len(ents) == 1:
                cut = ents[0][2] + 10
            else:
                cut = (ents[k][1] + ents[k][2]) // 2
            whole = {i.filename: i.CRC for i, _, end in ents if end <= cut}
            self.assertTrue(whole)
            with self.subTest(fixture=fx):
                out = os.path.join(self.tmp, "repaired-" + fx)
                p, doc = run_json("repair", self.write("cut-" + fx, data[:cut]), "-o", out)
                # Exit 1 when an entry is lost; 0 when only the directory was (all entries kept).
                self.assertEqual(p.returncode, 1 if len(whole) < len(ents) else 0, p.stderr)
                self.assertEqual(doc["output"]["verdict"], "ok")
                with zipfile.ZipFile(out) as z:
                    kept = {i.filename: i.CRC for i in z.infolist()}
                self.assertEqual({n: c for n, c in kept.items() if n in whole}, whole)
                self.assertEqual(set(kept) - set(whole), set(), "only whole entries are kept")
                vp, vdoc = run_json("verify", out)
                self.assertEqual(vp.returncode, 0, vp.stderr)
                t = seven_zip_test(out)
                self.assertEqual(t.returncode, 0, t.stdout + t.stderr)

    def test_seven_zip_reads_every_fixture(self):
        # The fixtures themselves are what real readers accept, not only what zipmedic accepts.
        for fx in METHOD_FIXTURES:
            with self.subTest(fixture=fx):
                t = seven_zip_test(fixture_path(fx))
                self.assertEqual(t.returncode, 0, t.stdout + t.stderr)

    def test_an_entry_that_decodes_past_the_cap_is_not_ok(self):
        # The directory promises a tenth of what the data holds: the decode stops at the cap
        # instead of inflating everything (zip-bomb guard), and the entry is named.
        data = bytearray(read("7zip-deflate64-far.zip"))
        info, start, end = entries_of(bytes(data))[0]
        cd = bytes(data).rfind(b"PK\x01\x02")
        lfh = info.header_offset
        small = struct.pack("<I", info.file_size // 10)
        data[lfh + 22:lfh + 26] = small
        data[cd + 24:cd + 28] = small
        p, doc = run_json("verify", self.write("bomb.zip", bytes(data)))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("size_mismatch", codes(doc, "far.bin"))


class Restore(TempDirTest):
    def test_zstd_xz_and_ppmd_entries_restore_byte_identically(self):
        tree = os.path.join(os.path.dirname(fixture_path("x")), "tree")
        for fx in ("codec_zip-zstd.zip", "codec_zip-xz-stream.zip", "7zip-ppmd.zip"):
            with self.subTest(fixture=fx):
                out = os.path.join(self.tmp, fx)
                p = run("restore", fixture_path(fx), "-C", out, "--quiet")
                self.assertEqual(p.returncode, 0, p.stderr)
                for d, _, fs in os.walk(os.path.join(tree, "backup")):
                    for f in fs:
                        rel = os.path.relpath(os.path.join(d, f), tree)
                        with open(os.path.join(tree, rel), "rb") as a, open(os.path.join(out, rel), "rb") as b:
                            self.assertEqual(a.read(), b.read(), rel)

    def test_deflate64_restores_byte_identically(self):
        # libarchive (3.6.2) has no Deflate64 ("Unsupported ZIP compression method"); restore
        # decodes every method with codec/, as verify does.
        for fx in ("7zip-deflate64.zip", "7zip-deflate64-stdout.zip", "7zip-deflate64-far.zip"):
            with self.subTest(fixture=fx):
                out = os.path.join(self.tmp, fx)
                p = run("restore", fixture_path(fx), "-C", out, "--quiet")
                self.assertEqual(p.returncode, 0, p.stderr)
                with zipfile.ZipFile(fixture_path(fx)) as z:
                    files = [i for i in z.infolist() if not i.is_dir()]
                    self.assertIn(9, {i.compress_type for i in files})  # small ones are stored
                    for i in files:
                        with open(os.path.join(out, i.filename), "rb") as f:
                            data = f.read()
                        self.assertEqual(len(data), i.file_size, i.filename)
                        self.assertEqual(zlib.crc32(data), i.CRC, i.filename)

    def test_zipcrypto_deflate64_restores_with_the_password(self):
        # 7-Zip keeps method 9 in a ZipCrypto entry's header: codec/ decrypts and decodes it.
        tree = os.path.join(os.path.dirname(fixture_path("x")), "tree")
        archive = os.path.join(self.tmp, "zc64.zip")
        subprocess.run(["7z", "a", "-bso0", "-bsp0", "-tzip", "-mm=Deflate64", "-mem=ZipCrypto", "-psecret",
                        archive, "backup"], cwd=tree, check=True)
        with zipfile.ZipFile(archive) as z:
            packed = [i for i in z.infolist() if i.compress_type == 9]
            self.assertTrue(packed and all(i.flag_bits & 1 for i in packed))
        out = os.path.join(self.tmp, "out")
        p = run("restore", archive, "-C", out, "--quiet", "--password", "secret")
        self.assertEqual(p.returncode, 0, p.stderr)
        for i in packed:
            with open(os.path.join(tree, i.filename), "rb") as a, open(os.path.join(out, i.filename), "rb") as b:
                self.assertEqual(a.read(), b.read(), i.filename)


if __name__ == "__main__":
    unittest.main()
