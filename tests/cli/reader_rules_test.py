"""Reader rules (docs/readers.md, rules 12, 26, 34, 55, 65, 67 and 71-73): each
archive is a fixture with one field edited (or one a real tool made), verify must name the readers
that read it otherwise, and the reader is run to show that it does (scripts/setup installs every
one: a missing reader fails the test, as a skipped check would hide a rule nobody confirmed)."""
import os
import shutil
import stat
import struct
import subprocess
import unittest
import zipfile
import zlib
import io

from zmtest import Layout, TempDirTest, codes, fixtures, need, read, replace_name, run, run_json


def read_path(path):
    with open(path, "rb") as f:
        return f.read()


def index_of(lay, suffix):
    return next(i for i, x in enumerate(lay.infos) if x.filename.endswith(suffix))


def set_cd(data, lay, k, offset, fmt, value):
    """Entry k's directory record with the field at `offset` (4.3.12) set to value."""
    b = bytearray(data)
    struct.pack_into(fmt, b, lay.cd_record(k) + offset, value)
    return bytes(b)


def set_attr(data, lay, k, attr, made_by=None):
    data = set_cd(data, lay, k, 38, "<I", attr)
    return data if made_by is None else set_cd(data, lay, k, 4, "<H", made_by)


def with_comment(data, comment_len):
    """The archive with an archive comment of `comment_len` bytes (4.3.16)."""
    b = bytearray(data)
    struct.pack_into("<H", b, b.rfind(b"PK\x05\x06") + 20, comment_len)
    return bytes(b) + b"c" * comment_len


def with_zip64_end(data, entries_on_disk=None, locator_disk=0):
    """`data` with a ZIP64 end record and locator before its end record, whose own fields then say
    0xFFFF/0xFFFFFFFF (4.3.14-4.3.15); `entries_on_disk` edits that count (libarchive then walks,
    rule 47), `locator_disk` the locator's disk (rule 12)."""
    end = data.rfind(b"PK\x05\x06")
    entries, = struct.unpack_from("<H", data, end + 10)
    cd_size, cd_off = struct.unpack_from("<II", data, end + 12)
    eocd = bytearray(data[end:])
    struct.pack_into("<HHII", eocd, 8, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    on_disk = entries if entries_on_disk is None else entries_on_disk
    z64 = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, on_disk, entries, cd_size, cd_off)
    loc = struct.pack("<4sIQI", b"PK\x06\x07", locator_disk, end, 1)
    return data[:end] + z64 + loc + bytes(eocd)


def findings(doc, code):
    return [f for f in doc["findings"] if f["code"] == code]


class ReaderRules(TempDirTest):
    def verify(self, data, name="x.zip"):
        path = self.write(name, data)
        p, doc = run_json("verify", path)
        return path, p, doc

    def assert_damaged(self, data, code, readers, entry=None):
        path, p, doc = self.verify(data)
        self.assertEqual(p.returncode, 1, p.stderr.decode())
        hits = [f for f in findings(doc, code) if entry is None or f["entry"] == entry]
        self.assertTrue(hits, (code, sorted(codes(doc))))
        self.assertEqual(sorted(hits[0]["readers"]["refuse"]), sorted(readers), hits[0])
        # A pipe gives the file's verdict.
        with open(path, "rb") as f:
            self.assertEqual(run("verify", "-", input=f.read()).returncode, 1)
        return path, doc

    def test_a_header_signature_inside_a_script_stub_does_not_make_7zip_open_it(self):
        # Rule 43 with "PK\3\4" put into the shell-script stub of a shifted self-extractor
        # (seed 15, mutant 10075): the bytes before the archive now hold something like a local
        # header, and 7-Zip still cannot open the archive.
        data = bytearray(read("sfx-shifted.zip"))
        data[231:231] = b"PK\x03\x04"
        # (The four bytes alone, followed by the stub's text, are no longer taken for a local
        # header: the walk asks a header for a known method and a clean name.)
        path, doc = self.assert_damaged(bytes(data), "prefix_unrecognised", ["7zip"])
        need("7z")
        seven = subprocess.run(["7z", "t", path], capture_output=True)
        self.assertNotEqual(seven.returncode, 0)

    def extract(self, tool, path):
        out = os.path.join(self.tmp, "out-" + tool)
        os.makedirs(out, exist_ok=True)
        cmd = {"unzip": ["unzip", "-qq", "-o", path, "-d", out], "7z": ["7z", "x", "-y", "-bd", "-o" + out, path],
               "bsdtar": ["bsdtar", "-xf", path, "-C", out]}[tool]
        p = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL)
        return p, out

    # Rule 65: the attributes of an empty file say directory (Unix mode 040755, host 3).
    def test_an_empty_file_marked_as_a_directory_is_a_directory_for_7zip_and_libarchive(self):
        data = read("infozip-file.zip")
        lay = Layout(data)
        k = index_of(lay, "empty.txt")
        path, _ = self.assert_damaged(set_attr(data, lay, k, 0o40755 << 16), "entry_kind_differs",
                                      ["7zip", "libarchive"], lay.infos[k].filename)
        for tool in ("7z", "bsdtar"):
            need(tool)
            p, out = self.extract(tool, path)
            self.assertTrue(os.path.isdir(os.path.join(out, lay.infos[k].filename)), tool)

    # Rule 65 with the MS-DOS bit alone, as Windows tools mark folders: 7-Zip and libarchive make a
    # folder of the empty entry, the others an empty file; no byte differs, so it is a warning.
    def test_an_empty_file_with_the_ms_dos_directory_bit_is_a_warning(self):
        data = read("java-jar.zip")  # host 0 (MS-DOS), as jar writes
        lay = Layout(data)
        k = next(i for i, x in enumerate(lay.infos) if x.file_size == 0 and not x.filename.endswith("/"))
        name = lay.infos[k].filename
        path, p, doc = self.verify(set_attr(data, lay, k, 0x10))
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        hits = findings(doc, "entry_kind_differs")
        self.assertEqual([(f["entry"], f["severity"], sorted(f["readers"]["warn"]), f["readers"]["refuse"]) for f in hits],
                         [(name, "warning", ["7zip", "libarchive"], [])])
        self.assertEqual(run("verify", "--strict", path).returncode, 1)
        for tool in ("7z", "bsdtar", "unzip"):
            need(tool)
            q, out = self.extract(tool, path)
            self.assertEqual(os.path.isdir(os.path.join(out, name)), tool != "unzip", tool)

    # Rule 78: a file named "d/." is written as "d/_" by unzip and 7-Zip; "." alone is not written
    # by libarchive either. "a/./b" and a folder "e/./" are read alike.
    def test_a_file_whose_last_component_is_a_dot_is_written_elsewhere_by_unzip_and_7zip(self):
        def archive(name):
            b = io.BytesIO()
            with zipfile.ZipFile(b, "w") as z:
                z.writestr(name, b"" if name.endswith("/") else b"hello")
                z.writestr("ok.txt", b"x")
            return b.getvalue()
        path, _ = self.assert_damaged(archive("d/."), "name_invalid", ["unzip", "7zip"], "d/.")
        for tool in ("unzip", "7z"):
            need(tool)
            p, out = self.extract(tool, path)
            self.assertFalse(os.path.isfile(os.path.join(out, "d", ".")), tool)
            self.assertTrue(os.path.isdir(os.path.join(out, "d")), tool)
            self.assertEqual(sorted(os.listdir(os.path.join(out, "d"))), ["_"], tool)
        self.assert_damaged(archive("."), "name_invalid", ["unzip", "7zip", "libarchive"], ".")
        for name in ("a/./b.txt", "e/./", "f."):
            with self.subTest(name=name):
                self.assertEqual(run("verify", self.write("ok.zip", archive(name))).returncode, 0)

    # Rule 4 through a ZIP64 end record: 0xFFFF in the classic record's disk fields defers to it
    # (4.4.1.4), and every reader reads the archive; without one, 7-Zip looks for another volume.
    def test_a_zip64_archive_whose_classic_end_record_says_disk_65535_is_read_by_all(self):
        data = read("infozip-pipe.zip")
        for z64, fields in ((True, (4,)), (True, (4, 6)), (False, (4, 6))):
            b = bytearray(with_zip64_end(data) if z64 else data)
            end = b.rfind(b"PK\x05\x06")
            for f in fields:
                struct.pack_into("<H", b, end + f, 0xFFFF)
            with self.subTest(zip64=z64, fields=fields):
                path = self.write("d.zip", bytes(b))
                need("7z")
                seven = subprocess.run(["7z", "t", path], capture_output=True, stdin=subprocess.DEVNULL)
                if z64:
                    self.assertEqual(run("verify", path).returncode, 0)
                    self.assertEqual(seven.returncode, 0, seven.stdout[-300:])
                    for cmd in (["unzip", "-tqq", path], ["bsdtar", "-tf", path],
                                ["/usr/bin/python3", "-m", "zipfile", "-t", path]):
                        need(cmd[0])
                        self.assertEqual(subprocess.run(cmd, capture_output=True).returncode, 0, cmd)
                else:
                    self.assert_damaged(bytes(b), "disk_number_nonzero", ["7zip"])
                    self.assertNotEqual(seven.returncode, 0)

    # Rule 23 alone: a classic 0xFFFF disk number defers to the ZIP64 end record's, which names
    # disk 1: one disk_number_nonzero (the ZIP64 record's), not a second for the classic record.
    def test_a_zip64_disk_behind_a_classic_65535_is_one_finding(self):
        b = bytearray(with_zip64_end(read("infozip-pipe.zip")))
        end = b.rfind(b"PK\x05\x06")
        struct.pack_into("<H", b, end + 4, 0xFFFF)
        z64 = b.rfind(b"PK\x06\x06")
        struct.pack_into("<II", b, z64 + 16, 1, 1)
        path, doc = self.assert_damaged(bytes(b), "disk_number_nonzero", ["unzip", "libarchive", "7zip"])
        self.assertEqual(len(findings(doc, "disk_number_nonzero")), 1, findings(doc, "disk_number_nonzero"))
        need("unzip")
        self.assertNotEqual(subprocess.run(["unzip", "-tqq", path], capture_output=True).returncode, 0)

    # Rule 72: DOS attribute 0x08 on a file of an MS-DOS host (Java's jar writes host 0).
    def test_a_volume_label_attribute_makes_unzip_skip_the_entry(self):
        data = read("java-jar.zip")
        lay = Layout(data)
        k = index_of(lay, "VERSION")
        path, _ = self.assert_damaged(set_attr(data, lay, k, 0x08), "entry_kind_differs", ["unzip"],
                                      lay.infos[k].filename)
        need("unzip")
        p, out = self.extract("unzip", path)
        self.assertEqual(p.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(out, lay.infos[k].filename)))
        self.assertTrue(os.path.exists(os.path.join(out, lay.infos[index_of(lay, "a.bin")].filename)))

    # Rule 75: the reparse-point bit (0x400) on a small file of a FAT or NTFS host (seed 17,
    # mutant 15209: java-jar.zip's attributes 0 -> 0xffffffe1). 7-Zip takes the data for link data.
    def test_a_reparse_point_attribute_on_a_small_file_is_damage_for_7zip_and_repair_drops_it(self):
        data = read("java-jar.zip")
        lay = Layout(data)
        k = index_of(lay, "signatures.bin")
        name = lay.infos[k].filename
        self.assertLess(lay.infos[k].file_size, 4096)
        path, _ = self.assert_damaged(set_attr(data, lay, k, 0xFFFFFFE1), "entry_kind_differs", ["7zip"], name)
        need("7z")
        p, _ = self.extract("7z", path)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"reparse", p.stdout + p.stderr)
        # Another host (Unix: 7-Zip takes only the high half) or a file of 4 KiB is read as it is.
        k2 = index_of(lay, "a.bin")
        self.assertGreaterEqual(lay.infos[k2].file_size, 4096)
        for made_by, which, attr in (((3 << 8) | 20, k, 0x400 | (0o100644 << 16)), ((0 << 8) | 20, k2, 0x400)):
            b = set_attr(data, lay, which, attr, made_by)
            with self.subTest(made_by=made_by):
                self.assertEqual(run("verify", self.write("ok.zip", b)).returncode, 0)
        # repair keeps the entry, its bytes and its name, without the bit.
        out = os.path.join(self.tmp, "fixed.zip")
        p = run("repair", path, "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(run("verify", out).returncode, 0)
        fixed = Layout(read_path(out))
        j = index_of(fixed, "signatures.bin")
        self.assertEqual(fixed.infos[j].external_attr & 0x400, 0)
        self.assertEqual(fixed.infos[j].CRC, lay.infos[k].CRC)
        need("7z")
        self.assertEqual(self.extract("7z", out)[0].returncode, 0)

    # Rule 67: a link made by `zip -y` is what its writer meant: a warning, exit 0.
    def test_a_symlink_made_by_zip_stays_ok_with_its_warning(self):
        need("zip")
        src = os.path.join(self.tmp, "tree")
        os.makedirs(src)
        with open(os.path.join(src, "target.txt"), "w") as f:
            f.write("data\n")
        os.symlink("target.txt", os.path.join(src, "link"))
        out = os.path.join(self.tmp, "links.zip")
        subprocess.run(["zip", "-q", "-y", "-r", out, "."], cwd=src, check=True)
        p, doc = run_json("verify", out)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        self.assertEqual([f["entry"] for f in findings(doc, "symlink_entry")], ["link"])
        self.assertNotIn("entry_kind_differs", codes(doc))

    def test_a_symlink_with_no_target_or_on_a_host_some_readers_ignore_is_damage(self):
        data = read("infozip-file.zip")
        lay = Layout(data)
        k = index_of(lay, "empty.txt")
        # Host 3, 0 bytes: no extractor can write a link with an empty target.
        self.assert_damaged(set_attr(data, lay, k, 0o120777 << 16), "entry_kind_differs",
                            ["unzip", "7zip", "libarchive"], lay.infos[k].filename)
        # Host 3, binary data: the link's target is cut at the first NUL byte.
        k = index_of(lay, "signatures.bin")
        content = lay.contents[lay.infos[k].filename]
        self.assertIn(b"\0", content)
        path, _ = self.assert_damaged(set_attr(data, lay, k, 0o120777 << 16), "entry_kind_differs",
                                      ["unzip", "7zip", "libarchive"], lay.infos[k].filename)
        need("bsdtar")
        link = os.path.join(self.extract("bsdtar", path)[1], lay.infos[k].filename)
        self.assertEqual(os.fsencode(os.readlink(link)), content[:content.index(b"\0")])
        # Host 0 (Java's jar): only 7-Zip makes a link; the others write a file.
        data = read("java-jar.zip")
        lay = Layout(data)
        k = index_of(lay, "VERSION")
        path, _ = self.assert_damaged(set_attr(data, lay, k, 0o120777 << 16), "entry_kind_differs", ["7zip"],
                                      lay.infos[k].filename)
        need("7z")
        need("unzip")
        self.assertTrue(os.path.islink(os.path.join(self.extract("7z", path)[1], lay.infos[k].filename)))
        self.assertFalse(os.path.islink(os.path.join(self.extract("unzip", path)[1], lay.infos[k].filename)))

    # Rule 73: a socket (and the undefined Unix types) come out of libarchive as other bytes.
    def test_a_unix_file_type_libarchive_writes_otherwise_is_damage(self):
        data = read("infozip-file.zip")
        lay = Layout(data)
        k = index_of(lay, "a.bin")
        path, _ = self.assert_damaged(set_attr(data, lay, k, 0o140644 << 16), "entry_kind_differs", ["libarchive"],
                                      lay.infos[k].filename)
        need("bsdtar")
        p, out = self.extract("bsdtar", path)
        with open(os.path.join(out, lay.infos[k].filename), "rb") as f:
            self.assertNotEqual(f.read(), lay.contents[lay.infos[k].filename])

    # Rule 55: libarchive makes folders of a file name's backslashes; a directory's keeps it.
    def test_a_backslash_in_a_file_name_is_a_folder_for_libarchive(self):
        # Rule 55: the same consistent bytes, which libarchive writes under folders and 7-Zip
        # under the name as it is: a warning naming libarchive; --strict fails it.
        data = read("infozip-file.zip")
        lay = Layout(data)
        k = index_of(lay, "VERSION")
        old = lay.infos[k].filename.encode()
        new = old.replace(b"/", b"\\")
        path, p, doc = self.verify(replace_name(data, lay, k, new))
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        hits = [f for f in findings(doc, "name_invalid") if f["entry"] == new.decode()]
        self.assertEqual([(f["severity"], f["readers"]) for f in hits],
                         [("warning", {"refuse": [], "warn": ["libarchive"], "lack": []})])
        self.assertEqual(run("verify", "--strict", path).returncode, 1)
        p, out = self.extract("bsdtar", path)
        self.assertTrue(os.path.isfile(os.path.join(out, old.decode())))
        p, out = self.extract("7z", path)
        self.assertTrue(os.path.isfile(os.path.join(out, new.decode())))
        # With a slash in the name (a directory's trailing one, or a folder before it), every
        # reader keeps the backslash.
        for suffix, edit in (("emptydir/", (b"p/e", b"p\\e")), ("a.bin", (b"data/", b"data\\"))):
            d = index_of(lay, suffix)
            name = lay.infos[d].filename.encode()
            p, doc = run_json("verify", self.write("kept.zip", replace_name(data, lay, d, name.replace(*edit))))
            self.assertEqual(p.returncode, 0, p.stdout.decode())
            need("bsdtar")
            p, out = self.extract("bsdtar", self.write("kept.zip", replace_name(data, lay, d, name.replace(*edit))))
            self.assertTrue(os.path.lexists(os.path.join(out, name.replace(*edit).decode())))

    # Rule 71: unzip converts one copy of a non-ASCII name from an OEM code page and not the other.
    def test_a_made_by_that_makes_unzip_convert_one_copy_of_a_name_is_a_warning(self):
        # Rule 71: unzip converts one copy of the name from an OEM code page and not the other,
        # warns "mismatching local filename", exits 1 (its status for warnings) and tests the
        # entry's bytes OK under the directory's copy; the other readers read it as before. The
        # same bytes under a name decoded another way: a warning naming unzip, and exit 1 only
        # under --strict.
        for fixture, made_by in (("java-jar.zip", 0x0028), ("7zip-deflate.zip", 0x0014)):
            with self.subTest(fixture=fixture, made_by=made_by):
                data = read(fixture)
                lay = Layout(data)
                k = index_of(lay, ".md")
                path, p, doc = self.verify(set_cd(data, lay, k, 4, "<H", made_by))
                self.assertEqual(p.returncode, 0, p.stdout.decode())
                hits = findings(doc, "cd_lfh_mismatch")
                self.assertEqual([(f["severity"], f["readers"]) for f in hits],
                                 [("warning", {"refuse": [], "warn": ["unzip"], "lack": []})])
                strict = run("verify", "--strict", path)
                self.assertEqual(strict.returncode, 1)
                # The warning that failed the run is the one line on stderr.
                self.assertIn(b": cd_lfh_mismatch: ", strict.stderr)
                with open(path, "rb") as f:
                    self.assertEqual(run("verify", "--strict", "-", input=f.read()).returncode, 1)
                unzip = subprocess.run([need("unzip"), "-t", path], capture_output=True)
                self.assertEqual(unzip.returncode, 1)
                self.assertIn(b"mismatching \"local\" filename", unzip.stdout + unzip.stderr)
                self.assertRegex(unzip.stdout, rb"testing: .*\.md +OK")
                seven = subprocess.run([need("7z"), "t", path], capture_output=True)
                self.assertEqual(seven.returncode, 0, seven.stdout)
        # The writers' own values are left alone (host 0, version 2.0; host 3, version 6.3).
        for fixture in ("java-jar.zip", "7zip-deflate.zip"):
            self.assertEqual(run("verify", self.write("w.zip", read(fixture))).returncode, 0)

    def test_unicode_path_fields_are_judged_as_each_reader_takes_them(self):
        # Rule 57, measured: unzip and 7-Zip take the directory's field (version 1, CRC of the
        # header's name), libarchive the local one whatever its version, Python, Go and Java none.
        def field(text, crc=None, version=1):
            t = text.encode()
            return struct.pack("<HHBI", 0x7075, 5 + len(t), version, zlib.crc32(b"x.conf") if crc is None else crc) + t

        def archive(cd_extra=b"", lfh_extra=b""):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                zi = zipfile.ZipInfo("x.conf")
                zi.extra = lfh_extra
                z.writestr(zi, b"data\n")
            d = buf.getvalue()
            end = d.rfind(b"PK\x05\x06")
            size, off = struct.unpack_from("<II", d, end + 12)
            cd = d[off:off + size]
            n, m = struct.unpack_from("<HH", cd, 28)
            cd = cd[:30] + struct.pack("<H", len(cd_extra)) + cd[32:46 + n] + cd_extra + cd[46 + n + m:]
            eocd = bytearray(d[end:])
            struct.pack_into("<I", eocd, 12, len(cd))
            return d[:off] + cd + bytes(eocd)

        cases = [
            # (name, cd field, local field, exit, code, readers, names unzip/7z/bsdtar/python)
            ("agreeing", field("y.conf"), field("y.conf"), 0, "name_charset_differs",
             {"refuse": [], "warn": ["unzip", "7zip", "libarchive"], "lack": []}, ("y.conf", "y.conf", "y.conf", "x.conf")),
            ("directory only", field("y.conf"), b"", 1, "name_invalid",
             {"refuse": ["unzip", "7zip"], "warn": [], "lack": []}, ("y.conf", "y.conf", "x.conf", "x.conf")),
            ("local only", b"", field("y.conf"), 1, "name_invalid",
             {"refuse": ["libarchive"], "warn": ["unzip"], "lack": []}, ("x.conf", "x.conf", "y.conf", "x.conf")),
            ("version 2", field("y.conf", version=2), field("y.conf", version=2), 1, "name_invalid",
             {"refuse": ["libarchive"], "warn": [], "lack": []}, ("x.conf", "x.conf", "y.conf", "x.conf")),
            ("stale CRC", field("y.conf", crc=0x12345678), field("y.conf", crc=0x12345678), 0, None, None,
             ("x.conf", "x.conf", "x.conf", "x.conf")),
            # Info-ZIP writes the field for non-ASCII names, most often repeating the name.
            ("repeating the name", field("x.conf"), field("x.conf"), 0, None, None,
             ("x.conf", "x.conf", "x.conf", "x.conf")),
        ]
        for name, cd_extra, lfh_extra, status, code, readers, names in cases:
            with self.subTest(name):
                path, p, doc = self.verify(archive(cd_extra, lfh_extra))
                self.assertEqual(p.returncode, status, p.stdout.decode())
                with open(path, "rb") as f:
                    self.assertEqual(run("verify", "-", input=f.read()).returncode, status)
                if code:
                    self.assertEqual([f["readers"] for f in findings(doc, code)], [readers])
                else:
                    self.assertEqual(findings(doc, "name_charset_differs") + findings(doc, "name_invalid"), [])
                got = (subprocess.run([need("unzip"), "-Z1", path], capture_output=True).stdout.decode().split(),
                       [l[7:] for l in subprocess.run([need("7z"), "l", "-slt", path], capture_output=True)
                        .stdout.decode().splitlines() if l.startswith("Path = ")][1:],
                       subprocess.run([need("bsdtar"), "-tf", path], capture_output=True).stdout.decode().split(),
                       zipfile.ZipFile(path).namelist())
                self.assertEqual(tuple(x[0] for x in got), names)

    def test_an_empty_lzma_entry_from_python_is_refused_by_libarchive(self):
        # Python writes an empty file as 19 bytes of LZMA stream with its end marker; libarchive
        # 3.6.2 fails on it ("lzma unknown error 10"), 7-Zip and Python read it. The data is
        # sound, so the entry stays ok.
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_LZMA) as z:
            z.writestr("empty.txt", b"")
            z.writestr("a.txt", b"hello\n")
        path, p, doc = self.verify(buf.getvalue())
        self.assertEqual(p.returncode, 1)
        self.assertEqual([(f["entry"], f["readers"]["refuse"]) for f in findings(doc, "decode_error")],
                         [("empty.txt", ["libarchive"])])
        self.assertEqual({e["name"]: e["status"] for e in doc["entries"]}, {"empty.txt": "ok", "a.txt": "ok"})
        bsdtar = subprocess.run([need("bsdtar"), "-xOf", path], capture_output=True)
        self.assertNotEqual(bsdtar.returncode, 0)
        self.assertIn(b"lzma", bsdtar.stderr)
        self.assertEqual(subprocess.run([need("7z"), "t", path], capture_output=True).returncode, 0)

    def test_an_os2_host_gets_the_note_that_unzip_shows_another_name(self):
        # HPFS (6), version 4.0: unzip converts both copies of the name from an OEM code page.
        data = read("python-stream-stored.zip")
        lay = Layout(data)
        k = index_of(lay, ".md")
        path = self.write("hpfs.zip", set_cd(data, lay, k, 4, "<H", 0x0628))
        p, doc = run_json("verify", path)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        notes = findings(doc, "name_charset_differs")
        self.assertIn("unzip", [r for f in notes for r in f["readers"]["warn"]])
        need("unzip")
        listed = subprocess.run(["unzip", "-Z1", path], capture_output=True).stdout
        self.assertNotIn(lay.infos[k].filename.encode(), listed)

    def test_a_link_compressed_with_zstd_is_refused_by_libarchive(self):
        data = read("codec_zip-zstd-stream.zip")
        end = data.rfind(b"PK\x05\x06")
        cd_size, = struct.unpack_from("<I", data, end + 12)
        at = end - cd_size
        while not (struct.unpack_from("<H", data, at + 10)[0] == 93 and struct.unpack_from("<I", data, at + 24)[0] > 0):
            n, m, c = struct.unpack_from("<HHH", data, at + 28)
            at += 46 + n + m + c
        n, = struct.unpack_from("<H", data, at + 28)
        name = data[at + 46:at + 46 + n].decode()
        b = bytearray(data)
        struct.pack_into("<H", b, at + 4, 0x0314)  # made by Unix
        struct.pack_into("<I", b, at + 38, 0o120777 << 16)
        path, doc = self.assert_damaged(bytes(b), "entry_kind_differs", ["libarchive"], name)
        need("bsdtar")
        p = subprocess.run(["bsdtar", "-tf", path], capture_output=True)
        self.assertIn(b"link entry", p.stderr)

    # Rule 34: 7-Zip compares bit 15 for methods other than deflate and 0-6.
    def test_bit_15_differing_is_damage_for_ppmd_not_for_deflate(self):
        data = read("7zip-ppmd-stdout.zip")
        end = data.rfind(b"PK\x05\x06")
        cd_size, = struct.unpack_from("<I", data, end + 12)
        first = end - cd_size
        while struct.unpack_from("<H", data, first + 10)[0] != 98:  # the first PPMd entry's record
            n, m, c = struct.unpack_from("<HHH", data, first + 28)
            first += 46 + n + m + c
        b = bytearray(data)
        struct.pack_into("<H", b, first + 8, struct.unpack_from("<H", b, first + 8)[0] | 0x8000)
        # Rule 34: only 7-Zip compares bit 15 for PPMd (unzip and Python lack the method anyway).
        path, _ = self.assert_damaged(bytes(b), "cd_lfh_mismatch", ["7zip"])
        need("7z")
        self.assertNotEqual(subprocess.run(["7z", "t", path], capture_output=True).returncode, 0)
        data = read("7zip-deflate.zip")
        lay = Layout(data)
        k = index_of(lay, "a.bin")
        path = self.write("deflate.zip", set_cd(data, lay, k, 8, "<H", lay.infos[k].flag_bits | 0x8000))
        self.assertEqual(run("verify", path).returncode, 0)
        need("7z")
        self.assertEqual(subprocess.run(["7z", "t", path], capture_output=True).returncode, 0)

    # Rule 26: an extended timestamp of no bytes in a directory record.
    def test_an_empty_extended_timestamp_in_the_directory_is_refused_by_libarchive(self):
        data = read("python-stream-stored.zip")
        lay = Layout(data)
        r = lay.cd_record(0)
        n, m, c = struct.unpack_from("<HHH", data, r + 28)
        b = bytearray(data)
        struct.pack_into("<H", b, r + 30, m + 4)
        b[r + 46 + n + m:r + 46 + n + m] = b"UT\x00\x00"
        end = b.rfind(b"PK\x05\x06")
        struct.pack_into("<I", b, end + 12, struct.unpack_from("<I", b, end + 12)[0] + 4)
        path, _ = self.assert_damaged(bytes(b), "extra_field_malformed", ["libarchive"], lay.infos[0].filename)
        need("bsdtar")
        p = subprocess.run(["bsdtar", "-tf", path], capture_output=True)
        self.assertIn(b"Incomplete extended time field", p.stderr)

    # Rule 12: the ZIP64 locator names another disk for the ZIP64 end record.
    def test_a_zip64_locator_naming_another_disk_is_damage(self):
        data = read("infozip-pipe.zip")
        for disk, code in ((0, 0), (1, 1)):
            archive = with_zip64_end(data, locator_disk=disk)
            with self.subTest(disk=disk):
                if code:
                    self.assert_damaged(archive, "disk_number_nonzero", ["unzip", "libarchive", "python", "go"])
                    p = subprocess.run(["/usr/bin/python3", "-c", "import zipfile,sys; zipfile.ZipFile(sys.argv[1])",
                                        self.write("z.zip", archive)], capture_output=True)
                    self.assertIn(b"span multiple disks", p.stderr)
                else:
                    self.assertEqual(run("verify", self.write("ok.zip", archive)).returncode, 0)

    # Rule 47 through the ZIP64 end record: entries on this disk != total (seed 18, mutant 14052).
    # libarchive's seekable reader then walks the local headers, and there refuses a descriptor
    # whose sizes differ from the data, which every other reader ignores.
    def test_a_zip64_end_record_with_a_split_count_makes_libarchive_walk(self):
        data = read("infozip-pipe.zip")
        entries, = struct.unpack_from("<H", data, data.rfind(b"PK\x05\x06") + 10)
        for on_disk in (entries, entries - 1):
            archive = bytearray(with_zip64_end(data, on_disk))
            # The first descriptor's compressed size made wrong: a warning while libarchive reads
            # the directory, refused while it walks.
            dd = archive.find(b"PK\x07\x08")
            struct.pack_into("<I", archive, dd + 8, struct.unpack_from("<I", archive, dd + 8)[0] + 0x40000)
            with self.subTest(on_disk=on_disk):
                if on_disk == entries:
                    p, doc = run_json("verify", self.write("ok.zip", bytes(archive)))
                    self.assertEqual(p.returncode, 0, p.stdout.decode())
                    self.assertIn("descriptor_sizes_mismatch", codes(doc))
                else:
                    path, _ = self.assert_damaged(bytes(archive), "descriptor_mismatch", ["libarchive"])
                    need("bsdtar")
                    p = subprocess.run(["bsdtar", "-xOf", path], capture_output=True)
                    self.assertIn(b"wrong size", p.stderr)

    # Rule 37 with rule 47: a bit-3 entry's local uncompressed size of 0xFFFFFFFF is "not given"
    # while libarchive reads the directory, and the entry's size while it walks; bsdtar -x then
    # writes a file of 4 GiB with exit 0 (seed 24, mutant 15887).
    def test_a_local_size_of_all_ones_is_the_size_for_a_walking_libarchive(self):
        data = read("infozip-pipe.zip")
        entries, = struct.unpack_from("<H", data, data.rfind(b"PK\x05\x06") + 10)
        name = "backup/records.jsonl"
        for on_disk in (entries, entries - 1):
            archive = bytearray(with_zip64_end(data, on_disk))
            at = archive.rfind(b"PK\x03\x04", 0, archive.find(name.encode()))
            self.assertTrue(struct.unpack_from("<H", archive, at + 6)[0] & 8)
            struct.pack_into("<I", archive, at + 22, 0xFFFFFFFF)
            with self.subTest(on_disk=on_disk):
                if on_disk == entries:
                    path = self.write("ok.zip", bytes(archive))
                    p, doc = run_json("verify", path)
                    self.assertEqual(p.returncode, 0, p.stdout.decode())
                    self.assertNotIn("local_descriptor_conflict", codes(doc))
                else:
                    path, _ = self.assert_damaged(bytes(archive), "local_descriptor_conflict", ["libarchive"], name)
                need("bsdtar")
                p = subprocess.run(["bsdtar", "-tvf", path], capture_output=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                row = [x for x in p.stdout.decode().splitlines() if x.endswith(name)][0]
                self.assertEqual(" 4294967295 " in row, on_disk != entries, row)

    # Rule 47 and links: a local header has no attributes, so a walking libarchive writes a link
    # as a file of its target, where every other reader (and libarchive reading the directory)
    # makes the link.
    def test_a_link_is_a_file_for_a_walking_libarchive(self):
        import io
        import zipfile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            z.writestr("d/f", b"hi\n")
            link = zipfile.ZipInfo("d/l")
            link.create_system = 3
            link.external_attr = 0o120777 << 16
            z.writestr(link, b"f")
        for comment_len in (0, 20000):
            archive = with_comment(buf.getvalue(), comment_len)
            with self.subTest(comment_len=comment_len):
                if comment_len:
                    path, _ = self.assert_damaged(archive, "entry_kind_differs", ["libarchive"], "d/l")
                else:
                    path = self.write("link.zip", archive)
                    p, doc = run_json("verify", path)
                    self.assertEqual(p.returncode, 0, p.stdout.decode())
                    self.assertIn("symlink_entry", codes(doc))
                    self.assertNotIn("entry_kind_differs", codes(doc))
                need("bsdtar")
                p = subprocess.run(["bsdtar", "-tvf", path], capture_output=True)
                row = [x for x in p.stdout.decode().splitlines() if x.endswith("d/l") or "d/l ->" in x][0]
                self.assertEqual(row.startswith("l"), not comment_len, row)

    # The same link written by libarchive with its "xl" field, which gives the local header the
    # attributes: a walking libarchive makes the link (a review of the change).
    def test_a_link_with_libarchive_xl_field_stays_a_link_when_it_walks(self):
        need("bsdtar")
        src = os.path.join(self.tmp, "src")
        os.makedirs(src)
        with open(os.path.join(src, "f"), "w") as f:
            f.write("hi\n")
        os.symlink("f", os.path.join(src, "l"))
        made = os.path.join(self.tmp, "xl.zip")
        subprocess.run(["bsdtar", "-cf", made, "--format", "zip", "--options", "zip:experimental", "-C", src, "f", "l"],
                       check=True)
        with open(made, "rb") as f:
            archive = with_comment(f.read(), 20000)
        path = self.write("xlw.zip", archive)
        p, doc = run_json("verify", path)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        self.assertNotIn("entry_kind_differs", codes(doc))
        listing = subprocess.run(["bsdtar", "-tvf", path], capture_output=True).stdout.decode()
        self.assertTrue([x for x in listing.splitlines() if x.startswith("l") and "l -> f" in x], listing)

    # Rule 47 and what libarchive needs from a local header when it walks (a helper's reading of
    # archive_read_support_format_zip.c, each case measured with bsdtar): the local compressed
    # size bounds bzip2 and LZMA input, the local ZIP64 extra decides the descriptor's width, and
    # stored data ends only at a signed descriptor. Python writing bzip2 or LZMA to a pipe leaves
    # the local sizes 0; the other two are built by hand.
    def test_what_a_walking_libarchive_takes_from_local_headers(self):
        import io
        import zipfile
        import zlib

        class Pipe(io.RawIOBase):
            def __init__(self):
                self.buf = bytearray()

            def writable(self):
                return True

            def seekable(self):
                return False

            def write(self, b):
                self.buf += b
                return len(b)

        def streamed(method):
            pipe = Pipe()
            with zipfile.ZipFile(pipe, "w", compression=method) as z:
                z.writestr("a.txt", "hello world\n" * 50)
                z.writestr("b.txt", "second\n" * 20)
            return bytes(pipe.buf)

        def local_crc_edited(data):
            b = bytearray(data)
            struct.pack_into("<I", b, 14, 0x12345678)  # the first local header's CRC (bit 3 is set)
            return bytes(b)

        def raw(stored_descriptor, zip64_extra, a=b"A" * 60):
            """One bit-3 stored entry with the given descriptor, then a plain one."""
            b = b"B" * 40
            extra = struct.pack("<HHQQ", 1, 16, 0, 0) if zip64_extra else b""
            out = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 45, 8, 0, 0, 0x21, 0, 0, 0, 5, len(extra))
            out += b"a.txt" + extra + a + stored_descriptor(zlib.crc32(a), len(a))
            off_b = len(out)
            out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0x21, zlib.crc32(b), len(b), len(b), 5, 0)
            out += b"b.txt" + b
            cd = b""
            for name, flags, data, off in ((b"a.txt", 8, a, 0), (b"b.txt", 0, b, off_b)):
                cd += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 0x031E, 20, flags, 0, 0, 0x21, zlib.crc32(data),
                                  len(data), len(data), 5, 0, 0, 0, 0, 0o100644 << 16, off) + name
            return out + cd + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 2, 2, len(cd), len(out), 0)

        cases = [
            ("bzip2 from a pipe", streamed(zipfile.ZIP_BZIP2), "local_descriptor_conflict"),
            ("lzma from a pipe", streamed(zipfile.ZIP_LZMA), "local_descriptor_conflict"),
            ("ZIP64 extra, 4-byte descriptor",
             raw(lambda crc, n: struct.pack("<4sIII", b"PK\x07\x08", crc, n, n), True), "descriptor_mismatch"),
            ("no ZIP64 extra, 8-byte descriptor",
             raw(lambda crc, n: struct.pack("<4sIQQ", b"PK\x07\x08", crc, n, n), False), "descriptor_mismatch"),
            ("unsigned descriptor", raw(lambda crc, n: struct.pack("<III", crc, n, n), False), "descriptor_mismatch"),
            # What a walking libarchive does not mind (a review of the change, each shown with
            # bsdtar): an empty entry's 8-byte sizes read as 4-byte ones pass, and the local CRC
            # and compressed size of a Deflate entry are not used (the descriptor's CRC is).
            ("empty entry, 8-byte descriptor",
             raw(lambda crc, n: struct.pack("<4sIQQ", b"PK\x07\x08", crc, n, n), False, a=b""), None),
            ("local CRC of a Deflate entry from a pipe", local_crc_edited(streamed(zipfile.ZIP_DEFLATED)), None),
        ]
        for label, data, code in cases:
            for comment_len in (0, 20000):
                archive = with_comment(data, comment_len)
                with self.subTest(label, comment_len=comment_len):
                    if code is None:
                        path = self.write("ok.zip", archive)
                        p, doc = run_json("verify", path)
                        self.assertEqual(p.returncode, int(not comment_len and "CRC" in label), p.stdout.decode())
                    elif comment_len:
                        path, _ = self.assert_damaged(archive, code, ["libarchive"], "a.txt")
                    else:
                        path = self.write("ok.zip", archive)
                        p, doc = run_json("verify", path)
                        self.assertEqual(p.returncode, 0, p.stdout.decode())
                    need("bsdtar")
                    out = os.path.join(self.tmp, "x")
                    shutil.rmtree(out, ignore_errors=True)
                    os.makedirs(out)
                    p = subprocess.run(["bsdtar", "-xf", path, "-C", out], capture_output=True)
                    # Reading the directory, libarchive refuses the edited local CRC (rule 37).
                    fails = bool(comment_len) if code else ("CRC" in label and not comment_len)
                    self.assertEqual(p.returncode != 0, fails, p.stderr)

    # Rule 47 over every writer: each fixture that verifies ok, given a 20,000-byte comment (so
    # that libarchive walks), keeps exit 0 exactly when bsdtar still extracts it, unless libarchive
    # lacks a method it uses (a note, not damage). This caught a PPMd rule that libarchive does
    # not follow (its PPMd reader is not bounded by the local size).
    def test_every_writer_with_a_long_comment_is_judged_as_bsdtar_reads_it(self):
        need("bsdtar")
        checked = 0
        for name in fixtures():
            data = read(name)
            if not name.endswith(".zip") or run("verify", self.write("o.zip", data)).returncode != 0:
                continue
            end = data.rfind(b"PK\x05\x06")
            archive = with_comment(data[:end + 22], 20000)
            path = self.write("w.zip", archive)
            p, doc = run_json("verify", path)
            out = os.path.join(self.tmp, "x")
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            bsdtar = subprocess.run(["bsdtar", "-xf", path, "-C", out], capture_output=True)
            lacking = any("libarchive" in f["readers"]["lack"] for f in findings(doc, "readers_lack_feature"))
            with self.subTest(name):
                if lacking:
                    self.assertEqual(p.returncode, 0, p.stdout.decode())
                else:
                    self.assertEqual(p.returncode == 0, bsdtar.returncode == 0, (p.stdout.decode(), bsdtar.stderr))
            checked += 1
        self.assertGreaterEqual(checked, 15)

    # Rule 47 through a comment: the end record 16 KiB or more before the end of the file is
    # beyond libarchive's search, and it walks: the same descriptor is then refused, and a local
    # header no record points to comes out as another file.
    def test_a_long_comment_makes_libarchive_walk(self):
        data = bytearray(read("infozip-pipe.zip"))
        dd = data.find(b"PK\x07\x08")
        struct.pack_into("<I", data, dd + 8, struct.unpack_from("<I", data, dd + 8)[0] + 0x40000)
        for comment_len, walks in ((16384 - 23, False), (16384 - 22, True)):
            archive = with_comment(data, comment_len)
            with self.subTest(comment_len=comment_len):
                if walks:
                    path, _ = self.assert_damaged(archive, "descriptor_mismatch", ["libarchive"])
                    need("bsdtar")
                    p = subprocess.run(["bsdtar", "-xOf", path], capture_output=True)
                    self.assertIn(b"wrong size", p.stderr)
                else:
                    path = self.write("ok.zip", archive)
                    p, doc = run_json("verify", path)
                    self.assertEqual(p.returncode, 0, p.stdout.decode())
                    self.assertIn("descriptor_sizes_mismatch", codes(doc))
                    need("bsdtar")
                    self.assertEqual(subprocess.run(["bsdtar", "-xOf", path], capture_output=True).returncode, 0)

    # Rule 24 in a local header: its extra block cut to 2 bytes that are not zero (seed 21, mutant
    # 2013: 28 -> 2 on 'backup/data/' of sfx-adjusted.zip). libarchive refuses "Too-small extra
    # data"; 2 zero bytes it skips.
    def test_a_local_extra_block_of_two_bytes_is_refused_by_libarchive_unless_zero(self):
        data = read("sfx-adjusted.zip")
        lay = Layout(data)
        k = index_of(lay, "backup/data/")
        at = lay.starts[k]
        n, m = struct.unpack_from("<HH", data, at + 26)
        self.assertGreater(m, 3)
        for fill, bad in ((None, True), (b"\0\0", False)):
            b = bytearray(data)
            struct.pack_into("<H", b, at + 28, 2)
            if fill:
                b[at + 30 + n:at + 32 + n] = fill
            self.assertEqual(any(b[at + 30 + n:at + 32 + n]), bad)
            with self.subTest(bad=bad):
                if bad:
                    path, _ = self.assert_damaged(bytes(b), "extra_field_malformed", ["libarchive"],
                                                  "backup/data/")
                else:
                    path = self.write("zero.zip", bytes(b))
                    p, doc = run_json("verify", path)
                    self.assertEqual(p.returncode, 0, p.stdout.decode())
                    self.assertNotIn("extra_field_malformed", codes(doc))
                need("bsdtar")
                p = subprocess.run(["bsdtar", "-tf", path], capture_output=True)
                self.assertEqual(b"Too-small extra data" in p.stderr, bad, p.stderr)

    # Rule 47 with a prefix: libarchive's streaming reader reads the file from its first byte and
    # finds no archive behind a self-extractor stub (review of the change).
    def test_a_prefix_hides_the_archive_from_a_walking_libarchive(self):
        for comment_len in (0, 20000):
            archive = with_comment(read("sfx-adjusted.zip"), comment_len)
            with self.subTest(comment_len=comment_len):
                if comment_len:
                    path, _ = self.assert_damaged(archive, "prefix_unrecognised", ["libarchive"])
                else:
                    path = self.write("sfx.zip", archive)
                    p, doc = run_json("verify", path)
                    self.assertEqual(p.returncode, 0, p.stdout.decode())
                    self.assertNotIn("prefix_unrecognised", codes(doc))
                need("bsdtar")
                p = subprocess.run(["bsdtar", "-tf", path], capture_output=True)
                self.assertEqual(p.returncode != 0, bool(comment_len), p.stderr)

    # Rule 46 with rule 47: a local header no record points to is a file more for a walking libarchive.
    def test_an_unreferenced_header_is_an_extra_file_when_libarchive_walks(self):
        import io
        import zipfile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            z.writestr("stowaway.txt", b"not in the directory\n")
        extra = buf.getvalue()[:buf.getvalue().find(b"PK\x01\x02")]
        data = read("infozip-file.zip")
        end = data.rfind(b"PK\x05\x06")
        cd_size, cd_off = struct.unpack_from("<II", data, end + 12)
        for comment_len in (0, 20000):
            b = bytearray(data[:cd_off] + extra + data[cd_off:])
            struct.pack_into("<I", b, end + len(extra) + 16, cd_off + len(extra))
            archive = with_comment(bytes(b), comment_len)
            with self.subTest(comment_len=comment_len):
                path = self.write("u.zip", archive)
                p, doc = run_json("verify", path)
                hits = findings(doc, "unreferenced_local_header")
                self.assertEqual(len(hits), 1, codes(doc))
                if comment_len:
                    self.assertEqual(p.returncode, 1)
                    self.assertEqual(hits[0]["severity"], "error")
                    self.assertEqual(hits[0]["readers"]["refuse"], ["libarchive"])
                    self.assertEqual(run("verify", "-", input=archive).returncode, 1)
                else:
                    self.assertEqual(p.returncode, 0, p.stdout.decode())
                    self.assertEqual(hits[0]["severity"], "warning")
                need("bsdtar")
                listed = subprocess.run(["bsdtar", "-tf", path], capture_output=True).stdout
                self.assertEqual(b"stowaway.txt" in listed, bool(comment_len))

    # Rule 79: a file whose first bytes are a local header no directory record points at is read by
    # 7-Zip from its local headers: the header is another file there, and a whole archive put
    # before (or after) the one the directory describes is the one 7-Zip reads while the others
    # read the other ("My ZIP isn't your ZIP", USENIX Security 2025).
    def test_an_unreferenced_header_at_the_start_is_an_extra_file_for_7zip(self):
        def archive(entries, after=b""):
            # Written after zeros (no archive to append to), so its offsets count from the file's
            # start; then the zeros become `after`.
            buf = io.BytesIO()
            buf.write(bytes(len(after)))
            with zipfile.ZipFile(buf, "a" if after else "w") as z:
                for name, body in entries:
                    z.writestr(name, body)
            return after + buf.getvalue()[len(after):]
        data = read("infozip-file.zip")
        stowaway = archive([("stowaway.txt", b"not in the directory\n")])
        header = stowaway[:stowaway.find(b"PK\x01\x02")]
        # The stowaway's header first, the directory's offsets moved past it.
        b = bytearray(header + data)
        end = b.rfind(b"PK\x05\x06")
        cd_off, = struct.unpack_from("<I", b, end + 16)
        struct.pack_into("<I", b, end + 16, cd_off + len(header))
        at = cd_off + len(header)
        while b[at:at + 4] == b"PK\x01\x02":
            off, = struct.unpack_from("<I", b, at + 42)
            struct.pack_into("<I", b, at + 42, off + len(header))
            n, m, k = struct.unpack_from("<HHH", b, at + 28)
            at += 46 + n + m + k
        cases = {"header": bytes(b),
                 "archive before": archive([("a.txt", b"A" * 100)], after=stowaway),
                 "archive after": archive([("stowaway.txt", b"x")], after=data)}
        need("7z")
        for case, blob in cases.items():
            with self.subTest(case=case):
                path, doc = self.assert_damaged(blob, "unreferenced_local_header", ["7zip"])
                self.assertEqual(findings(doc, "unreferenced_local_header")[0]["offset"], 0)
                listed = subprocess.run(["7z", "l", "-slt", path], capture_output=True, stdin=subprocess.DEVNULL)
                python = {i.filename for i in zipfile.ZipFile(path).infolist()}
                seven = {line[7:] for line in listed.stdout.decode().splitlines() if line.startswith("Path = ")}
                seven.discard(path)
                self.assertNotEqual(seven, python)
        # A header in the middle that no record points at is no file for 7-Zip: a warning.
        mid = bytearray(data[:cd_off] + header + data[cd_off:])
        end = mid.rfind(b"PK\x05\x06")
        struct.pack_into("<I", mid, end + 16, cd_off + len(header))
        p, doc = run_json("verify", self.write("mid.zip", bytes(mid)))
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        self.assertEqual([f["severity"] for f in findings(doc, "unreferenced_local_header")], ["warning"])

    # A pipe reads a first local header whose "version needed" is above 6.3 after a prefix, as a file does.
    def test_a_pipe_takes_the_first_header_after_a_prefix_whatever_its_version(self):
        data = read("sfx-adjusted.zip")
        lay = Layout(data)
        for version in (0x40, 0xFFDF):
            b = bytearray(data)
            struct.pack_into("<H", b, lay.starts[0] + 4, version)
            path = self.write("v.zip", bytes(b))
            with self.subTest(version=version):
                self.assertEqual(run("verify", path).returncode, 0)
                self.assertEqual(run("verify", "-", input=bytes(b)).returncode, 0)


    # A descriptor's uncompressed size is a claim, not where a pipe's walk stops decoding (seed 17,
    # mutant 10695): with 0 there on a 20 KB PPMd entry the directory is right, 7-Zip and
    # libarchive read the entry, and the pipe said damaged where the file said ok with a warning.
    def test_a_descriptor_size_of_zero_gets_the_same_verdict_from_a_pipe(self):
        data = read("7zip-ppmd-stdout.zip")
        import io
        import zipfile
        info = next(i for i in zipfile.ZipFile(io.BytesIO(data)).infolist() if i.filename.endswith("a.bin"))
        self.assertGreater(info.compress_size, 16 << 10)  # a worker's job in the walk
        name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
        at = info.header_offset + 30 + name_len + extra_len + info.compress_size
        self.assertEqual(data[at:at + 4], b"PK\x07\x08")
        b = bytearray(data)
        struct.pack_into("<I", b, at + 12, 0)
        path = self.write("dd.zip", bytes(b))
        for args, kw in ((("verify", path), {}), (("verify", "-"), {"input": bytes(b)})):
            with self.subTest(source=args[1]):
                p, doc = run_json(*args, **kw)
                self.assertEqual(p.returncode, 0, p.stdout.decode())
                self.assertEqual([f["entry"] for f in findings(doc, "descriptor_sizes_mismatch")], [info.filename])
        p, doc = run_json("scan", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn("descriptor_mismatch", codes(doc))


    # Rule 3: an end-record signature after the real end record, too short to be one (seed 17,
    # mutant 18206: "PK\5\6" appended). Python takes the last signature and refuses the archive.
    def test_a_short_end_record_signature_after_the_end_is_refused_by_python(self):
        import io
        import zipfile
        data = read("python-stream-stored.zip") + b"PK\x05\x06"
        with self.assertRaises(zipfile.BadZipFile):
            zipfile.ZipFile(io.BytesIO(data))
        self.assert_damaged(data, "eocd_inconsistent", ["python"])
        # Bytes that hold no end-record signature stay a warning; the archive as it was stays ok.
        for tail in (b"PK\x05\x07", b""):
            p, doc = run_json("verify", self.write("t.zip", read("python-stream-stored.zip") + tail))
            self.assertEqual(p.returncode, 0, p.stdout.decode())
            self.assertNotIn("eocd_inconsistent", codes(doc))


    # repair writes an entry whose damaged record's attributes make a reader extract it as
    # something else (rules 65, 67, 72, 73, 75) as the plain file its name says, keeping its bytes:
    # before, its proof failed on them and nothing was written at all.
    def test_repair_writes_misleading_attributes_as_a_plain_file(self):
        data = read("infozip-file.zip")
        lay = Layout(data)
        k = index_of(lay, "VERSION")
        name = lay.infos[k].filename
        cases = [(3 << 8 | 30, 0o20644 << 16), (3 << 8 | 30, 0o40755 << 16), (0 << 8 | 20, 0o120777 << 16),
                 (0 << 8 | 20, 0x10), (11 << 8 | 20, 0x400), (0 << 8 | 20, 0x08)]
        for made_by, attr in cases:
            with self.subTest(made_by=made_by, attr=hex(attr)):
                path = self.write("attr.zip", set_attr(data, lay, k, attr, made_by))
                self.assertEqual(run("verify", path).returncode, 1)
                out = os.path.join(self.tmp, "attr-fixed.zip")
                if os.path.exists(out):
                    os.remove(out)
                p = run("repair", path, "-o", out)
                self.assertEqual(p.returncode, 0, p.stderr.decode())
                self.assertEqual(run("verify", out).returncode, 0)
                fixed = Layout(read_path(out))
                info = fixed.infos[index_of(fixed, "VERSION")]
                self.assertEqual(fixed.contents[name], lay.contents[name])
                mode = info.external_attr >> 16
                self.assertIn(mode & 0o170000, (0, 0o100000), oct(mode))
                self.assertEqual(info.external_attr & (0x08 | 0x10 | 0x400), 0)
        # A link its writer meant (host 3, a short target) stays a link.
        path = self.write("link.zip", set_attr(data, lay, k, 0o120777 << 16, 3 << 8 | 30))
        out = os.path.join(self.tmp, "link-fixed.zip")
        b = bytearray(read_path(path))
        b[lay.starts[index_of(lay, "a.bin")] + 40] ^= 0xFF  # damage elsewhere, so that repair rewrites
        with open(path, "wb") as f:
            f.write(b)
        p = run("repair", path, "-o", out)
        self.assertIn(p.returncode, (0, 1), p.stderr.decode())
        fixed = Layout(read_path(out))
        self.assertEqual(fixed.infos[index_of(fixed, "VERSION")].external_attr >> 16, 0o120777)

class RestoreRules(TempDirTest):
    """What verify must judge as a restore writes it: libarchive's xl field (rule 80), modes a
    restore strips (mode_dropped), spellings of one path (duplicate_name), a local Unicode Path
    field (rule 57) and a name component longer than NAME_MAX (rule 82)."""

    def verify(self, data, name="x.zip", *extra):
        path = self.write(name, data)
        p, doc = run_json("verify", path, *extra)
        return path, p, doc

    def bsdtar_x(self, path):
        out = os.path.join(self.tmp, "bsdtar-" + os.path.basename(path))
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        p = subprocess.run([need("bsdtar"), "-xf", path, "-C", out], capture_output=True, stdin=subprocess.DEVNULL)
        return p, out

    def test_a_local_xl_field_that_disagrees_with_the_directory_is_damage_for_libarchive(self):
        # bsdtar writes the field (zip:experimental) with the directory's attributes; one edit of
        # its external attributes makes libarchive write a link, a setuid file or a device node
        # where unzip and 7-Zip write the plain file the directory shows.
        src = os.path.join(self.tmp, "src")
        os.makedirs(src)
        with open(os.path.join(src, "f"), "w") as f:
            f.write("/etc/passwd")
        os.chmod(os.path.join(src, "f"), 0o644)
        made = os.path.join(self.tmp, "made.zip")
        subprocess.run([need("bsdtar"), "-cf", made, "--format", "zip", "--options", "zip:experimental", "-C", src,
                        "f"], check=True)
        data = read_path(made)
        p, doc = run_json("verify", made)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        self.assertNotIn("entry_kind_differs", codes(doc))
        n, m = struct.unpack_from("<HH", data, 26)
        extra, at = data[30 + n:30 + n + m], None
        q = 0
        while q + 4 <= len(extra):
            fid, flen = struct.unpack_from("<HH", extra, q)
            if fid == 0x6c78:
                self.assertTrue(extra[q + 4] & 4)
                at = 30 + n + q + 4 + 1 + (2 if extra[q + 4] & 1 else 0) + (2 if extra[q + 4] & 2 else 0)
            q += 4 + flen
        self.assertIsNotNone(at, "bsdtar wrote no xl field")
        self.assertEqual(struct.unpack_from("<I", data, at)[0] >> 16, 0o100644)
        for mode, check in ((0o120777, stat_check("S_ISLNK")), (0o104755, lambda st: st.st_mode & 0o4000),
                            (0o020644, stat_check("S_ISCHR"))):
            with self.subTest(mode=oct(mode)):
                b = bytearray(data)
                struct.pack_into("<I", b, at, mode << 16)
                path, p, doc = self.verify(bytes(b), "xl.zip")
                self.assertEqual(p.returncode, 1, p.stdout.decode())
                hits = findings(doc, "entry_kind_differs")
                self.assertEqual([h["readers"]["refuse"] for h in hits], [["libarchive"]], hits)
                # A link is no mode a restore strips; a setuid file and a device are.
                self.assertEqual("mode_dropped" in codes(doc), mode != 0o120777)
                with open(path, "rb") as f:
                    self.assertEqual(run("verify", "-", input=f.read()).returncode, 1)
                x, out = self.bsdtar_x(path)
                self.assertEqual(x.returncode, 0, x.stderr)
                self.assertTrue(check(os.lstat(os.path.join(out, "f"))))
                unzip_out = os.path.join(self.tmp, "unzip-%o" % mode)
                subprocess.run([need("unzip"), "-qq", "-o", path, "-d", unzip_out], check=True)
                st = os.lstat(os.path.join(unzip_out, "f"))
                self.assertTrue(stat.S_ISREG(st.st_mode) and not st.st_mode & 0o4000, oct(st.st_mode))

    def test_a_setuid_or_world_writable_entry_is_a_mode_dropped_warning(self):
        src = os.path.join(self.tmp, "src")
        os.makedirs(os.path.join(src, "d"))
        with open(os.path.join(src, "run"), "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(os.path.join(src, "run"), 0o4755)
        os.chmod(os.path.join(src, "d"), 0o1777)
        os.symlink("run", os.path.join(src, "l"))
        made = os.path.join(self.tmp, "modes.zip")
        subprocess.run([need("zip"), "-qry", made, "run", "d", "l"], cwd=src, check=True)
        p, doc = run_json("verify", made)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        self.assertEqual(sorted(f["entry"] for f in findings(doc, "mode_dropped")), ["d/", "run"])
        # Python's zipfile writes folders 040777: a folder's world-writable bit alone is no finding.
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.mkdir("folder")
            z.writestr("folder/a", b"a\n")
        self.assertEqual(zipfile.ZipFile(buf).getinfo("folder/").external_attr >> 16, 0o40777)
        p2, doc2 = run_json("verify", "--strict", self.write("py.zip", buf.getvalue()))
        self.assertEqual(p2.returncode, 0, p2.stdout.decode())
        self.assertTrue(all(f["severity"] == "warning" for f in findings(doc, "mode_dropped")))
        self.assertEqual(run("verify", "--strict", made).returncode, 1)
        # Info-ZIP's `zip -` writes stdin with a FIFO's mode; every extractor writes a plain file.
        piped = os.path.join(self.tmp, "piped.zip")
        subprocess.run([need("zip"), "-q", piped, "-"], input=b"data\n", check=True)
        self.assertEqual(zipfile.ZipFile(piped).infolist()[0].external_attr >> 28, 0o1)
        p, doc = run_json("verify", "--strict", piped)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        x, out = self.bsdtar_x(piped)
        self.assertTrue(stat.S_ISREG(os.lstat(os.path.join(out, "-")).st_mode))

    def test_spellings_of_one_path_are_duplicate_name(self):
        import unicodedata
        nfc = "caf\u00e9.txt"
        cases = [("a", "./a", 1), ("d/a", "d//a", 1), ("d/a", "d/./a", 1), ("x", "x/", 1),
                 (nfc, unicodedata.normalize("NFD", nfc), 1), ("x", "x/y", None), ("x/y", "x", None)]
        for first, second, on_disk in cases:
            with self.subTest(first=first, second=second):
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w") as z:
                    for name, body in ((first, b"one\n"), (second, b"two\n")):
                        zi = zipfile.ZipInfo(name)
                        zi.external_attr = (0o40755 if name.endswith("/") else 0o100644) << 16
                        zi.create_system = 3
                        z.writestr(zi, b"" if name.endswith("/") else body)
                path, p, doc = self.verify(buf.getvalue(), "alias.zip")
                self.assertEqual(p.returncode, 1, p.stdout.decode())
                self.assertEqual(len(findings(doc, "duplicate_name")), 1, doc["findings"])
                x, out = self.bsdtar_x(path)
                if on_disk is not None:
                    # One file on disk for two entries: bsdtar writes one over the other.
                    files = [os.path.join(r, f) for r, ds, fs in os.walk(out) for f in fs]
                    self.assertLessEqual(len(files), on_disk, files)
                else:
                    self.assertNotEqual(x.returncode, 0, "bsdtar wrote both")

    def test_swapped_local_unicode_path_fields_are_damage_for_libarchive(self):
        def field(name, text):
            return struct.pack("<HHBI", 0x7075, 5 + len(text), 1, zlib.crc32(name)) + text

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for name, other, body in ((b"x.conf", b"y.conf", b"X\n"), (b"y.conf", b"x.conf", b"Y\n")):
                zi = zipfile.ZipInfo(name.decode())
                zi.extra = field(name, other)
                z.writestr(zi, body)
        data = bytearray(buf.getvalue())
        # zipfile writes the extra block in both headers; the directory's copies go (a local-only
        # field, as the layout has it).
        end = data.rfind(b"PK\x05\x06")
        size, off = struct.unpack_from("<II", data, end + 12)
        cd, p = b"", off
        while p < off + size:
            n, m, k = struct.unpack_from("<HHH", data, p + 28)
            rec = bytearray(data[p:p + 46 + n])
            struct.pack_into("<H", rec, 30, 0)
            cd += bytes(rec) + bytes(data[p + 46 + n + m:p + 46 + n + m + k])
            p += 46 + n + m + k
        eocd = bytearray(data[end:])
        struct.pack_into("<I", eocd, 12, len(cd))
        archive = bytes(data[:off]) + cd + bytes(eocd)
        path, p, doc = self.verify(archive, "swap.zip")
        self.assertEqual(p.returncode, 1, p.stdout.decode())
        hits = findings(doc, "name_invalid")
        self.assertEqual([(h["readers"]["refuse"], h["readers"]["warn"]) for h in hits],
                         [(["libarchive"], ["unzip"])] * 2)
        x, out = self.bsdtar_x(path)
        with open(os.path.join(out, "x.conf"), "rb") as f:
            self.assertEqual(f.read(), b"Y\n")  # libarchive gives each file the other's bytes
        u = subprocess.run([need("unzip"), "-tq", path], capture_output=True)
        self.assertEqual(u.returncode, 1)
        self.assertIn(b"mismatching", u.stdout + u.stderr)

    def test_a_name_component_longer_than_name_max_is_a_warning(self):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("d/" + "n" * 300, b"data\n")
            z.writestr("b.txt", b"b\n")
        path, p, doc = self.verify(buf.getvalue(), "long.zip")
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        self.assertEqual([f["entry"] for f in findings(doc, "name_too_long")], ["d/" + "n" * 300])
        self.assertEqual(run("verify", "--strict", path).returncode, 1)
        x, out = self.bsdtar_x(path)
        self.assertNotEqual(x.returncode, 0)
        self.assertIn(b"File name too long", x.stderr)
        self.assertEqual(zipfile.ZipFile(path).read("d/" + "n" * 300), b"data\n")


def stat_check(name):
    return lambda st: getattr(stat, name)(st.st_mode)


if __name__ == "__main__":
    unittest.main()


def cd_records(data):
    """(offset, name) of each directory record, walked from the end record (Python's zipfile cannot
    open a Deflate64 archive's entries, so Layout is no help there)."""
    end = data.rfind(b"PK\x05\x06")
    count, = struct.unpack_from("<H", data, end + 10)
    p, = struct.unpack_from("<I", data, end + 16)
    out = []
    for _ in range(count):
        n, m, c = struct.unpack_from("<HHH", data, p + 28)
        out.append((p, data[p + 46:p + 46 + n]))
        p += 46 + n + m + c
    return out


def edit_record(data, suffix, offset, fmt, value):
    """The directory record of the entry whose name ends with `suffix`, field at `offset` set."""
    b = bytearray(data)
    p = next(p for p, name in cd_records(data) if name.endswith(suffix))
    struct.pack_into(fmt, b, p + offset, value)
    return bytes(b)


class FuzzerSeventySeven(TempDirTest):
    """The reader-agreement run of seed 77 (20,000 mutants): each case is one of its mutants made
    again by hand, with the reader that showed the rule run on it."""

    def verify(self, data):
        path = self.write("x.zip", data)
        p, doc = run_json("verify", path)
        self.assertEqual(run("verify", "-", input=data).returncode, p.returncode, "a pipe gives the file's verdict")
        return path, p, doc

    def tool(self, *cmd):
        need(cmd[0])
        return subprocess.run(list(cmd), capture_output=True, stdin=subprocess.DEVNULL).returncode

    def entry(self, doc, suffix):
        return next(e for e in doc["entries"] if e["name"].endswith(suffix))

    # Rule 69: 7-Zip does not hold a compressed bit-3 entry to the directory's size, unzip never
    # does, and the readers that do lack Deflate64: the data is read to its stream's end.
    def test_a_deflate64_entry_written_to_a_pipe_is_read_whole_whatever_its_size_says(self):
        data = read("7zip-deflate64-stdout.zip")
        for claimed in (8947, 18000):
            path, p, doc = self.verify(edit_record(data, b"b.bin", 24, "<I", claimed))
            self.assertEqual(p.returncode, 0, (claimed, p.stdout.decode()[-600:]))
            e = self.entry(doc, "b.bin")
            self.assertEqual((e["uncompressed_size"], e.get("decoded_size"), e["status"]), (claimed, 9000, "ok"))
            self.assertEqual([f["severity"] for f in findings(doc, "size_mismatch")], ["info"])
            self.assertEqual(self.tool("7z", "t", path), 0)
            self.assertEqual(self.tool("unzip", "-tqq", path), 0)
            # restore writes what the readers read, as verify checked it.
            out = os.path.join(self.tmp, "r%d" % claimed)
            r = run("restore", path, "--directory", out)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            with open(os.path.join(out, "backup", "data", "b.bin"), "rb") as f:
                got = f.read()
            self.assertEqual((len(got), zlib.crc32(got)), (9000, 0x912fd3a8))
        # Without bit 3, 7-Zip limits the output to the size and refuses the rest.
        path, p, doc = self.verify(edit_record(read("7zip-deflate64.zip"), b"b.bin", 24, "<I", 8947))
        self.assertEqual(p.returncode, 1)
        self.assertIn("7zip", findings(doc, "size_mismatch")[0]["readers"]["refuse"])
        self.assertNotEqual(self.tool("7z", "t", path), 0)

    # The same rule for a symbolic link: its target is the whole stream, as unzip reads it. The
    # link pass decoded to the claimed size, found it short and left the link out, while the
    # restore still said every entry was restored.
    def test_a_link_whose_size_no_reader_checks_gets_its_whole_target(self):
        data = edit_record(read("7zip-deflate64-stdout.zip"), b"VERSION", 38, "<I", 0o120777 << 16)
        path, p, doc = self.verify(edit_record(data, b"VERSION", 24, "<I", 5))
        self.assertEqual(p.returncode, 0, p.stdout.decode()[-600:])
        self.assertEqual(self.entry(doc, "VERSION").get("decoded_size"), 8)
        need("unzip")
        whole = subprocess.run(["unzip", "-p", path, "backup/VERSION"], capture_output=True).stdout
        self.assertEqual(len(whole), 8)
        out = os.path.join(self.tmp, "r")
        r = run("restore", path, "--directory", out)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(os.readlink(os.path.join(out, "backup", "VERSION")).encode(), whole)

    # Mutant 13685: a directory method no reader has, and a local extra length edited so that the
    # local header's data would run 16 bytes into the directory. The header is not the entry's
    # own (another method), so its data is no extent of the entry for a file; a pipe found an
    # overlap there and exited 1 where the file exited 0.
    def test_a_header_that_is_not_the_entrys_own_gives_a_pipe_no_extent_either(self):
        data = bytearray(edit_record(read("7zip-deflate64-far.zip"), b"far.bin", 10, "<H", 0xFFFF))
        self.assertEqual(struct.unpack_from("<I", data, 0)[0], 0x04034B50)
        struct.pack_into("<H", data, 28, struct.unpack_from("<H", data, 28)[0] + 16)
        path, p, doc = self.verify(bytes(data))
        self.assertEqual(p.returncode, 0, p.stdout.decode()[-600:])
        pipe, pipe_doc = run_json("verify", "-", input=bytes(data))
        self.assertEqual((pipe.returncode, findings(pipe_doc, "overlapping_entries")), (0, []))

    # Rule 28: a lone uncompressed size of 0xFFFFFFFF with no ZIP64 field is the size itself for
    # 7-Zip; Python and libarchive refuse it but lack Deflate64 anyway.
    def test_a_lone_all_ones_size_without_zip64_is_damage_only_where_7zip_checks_sizes(self):
        path, p, doc = self.verify(edit_record(read("7zip-deflate64-stdout.zip"), b"signatures.bin", 24, "<I",
                                               0xFFFFFFFF))
        self.assertEqual(p.returncode, 0, p.stdout.decode()[-600:])
        hit, = findings(doc, "zip64_inconsistent")
        # unzip says "extra field (type: 0x0001) corrupt" and reads on.
        self.assertEqual((hit["severity"], hit["readers"]["refuse"], hit["readers"]["warn"]), ("warning", [], ["unzip"]))
        self.assertEqual(sorted(hit["readers"]["lack"]), ["libarchive", "python"])
        self.assertEqual(self.tool("7z", "t", path), 0)
        path, p, doc = self.verify(edit_record(read("7zip-deflate64.zip"), b"signatures.bin", 24, "<I", 0xFFFFFFFF))
        self.assertEqual(p.returncode, 1)
        self.assertIn("7zip", findings(doc, "zip64_inconsistent")[0]["readers"]["refuse"])
        self.assertNotEqual(self.tool("7z", "t", path), 0)

    # Rule 32: 7-Zip refuses a non-ASCII name whose local header alone has bit 11.
    def test_bit_11_only_in_the_local_header_of_a_non_ascii_name_is_refused_by_7zip(self):
        data = read("7zip-deflate64.zip")
        p_rec = next(p for p, name in cd_records(data) if name.endswith(b".md"))
        flags, = struct.unpack_from("<H", data, p_rec + 8)
        self.assertTrue(flags & 0x800)
        path, p, doc = self.verify(edit_record(data, b".md", 8, "<H", flags & ~0x800))
        self.assertEqual(p.returncode, 1)
        self.assertIn("7zip", findings(doc, "cd_lfh_mismatch")[0]["readers"]["refuse"])
        self.assertNotEqual(self.tool("7z", "t", path), 0)
        # The other way round (only the directory has it) 7-Zip reads on.
        b = bytearray(data)
        lfh, = struct.unpack_from("<I", data, p_rec + 42)
        struct.pack_into("<H", b, lfh + 6, flags & ~0x800)
        path, p, doc = self.verify(bytes(b))
        self.assertEqual(p.returncode, 0, p.stdout.decode()[-600:])
        self.assertEqual(self.tool("7z", "t", path), 0)

    # Rule 16: unzip drops the ZIP64 end records when a classic count on this disk or disk number
    # disagrees with them; 7-Zip compares only the classic record's own two counts.
    def test_the_count_on_this_disk_is_compared_by_unzip_and_7zip_in_their_own_ways(self):
        data = read("infozip-pipe.zip")
        entries, = struct.unpack_from("<H", data, data.rfind(b"PK\x05\x06") + 10)
        # 0xFFFF in both classic counts, one more in the ZIP64 record's count on this disk: every
        # reader reads it (mutant 16952).
        odd = with_zip64_end(data, entries_on_disk=entries + 1)
        path, p, doc = self.verify(odd)
        self.assertNotIn("eocd_inconsistent", codes(doc))
        self.assertEqual(self.tool("7z", "t", path), 0)
        self.assertEqual(self.tool("unzip", "-tqq", path), 0)
        # The classic record's real count against the ZIP64 one: unzip refuses, 7-Zip reads it.
        b = bytearray(odd)
        struct.pack_into("<HH", b, b.rfind(b"PK\x05\x06") + 8, entries, entries)
        path, p, doc = self.verify(bytes(b))
        self.assertEqual(p.returncode, 1)
        self.assertEqual([f["readers"]["refuse"] for f in findings(doc, "zip64_inconsistent")], [["unzip"]])
        self.assertNotEqual(self.tool("unzip", "-tqq", path), 0)
        self.assertEqual(self.tool("7z", "t", path), 0)
        # The classic counts as written, 0xFFFF against the real total, though the ZIP64 record
        # resolves both to the same number: 7-Zip compares what is written.
        b = bytearray(with_zip64_end(data))
        struct.pack_into("<HH", b, b.rfind(b"PK\x05\x06") + 8, 0xFFFF, entries)
        path, p, doc = self.verify(bytes(b))
        self.assertEqual(p.returncode, 1)
        self.assertIn("7zip", findings(doc, "eocd_inconsistent")[0]["readers"]["refuse"])
        self.assertNotEqual(self.tool("7z", "t", path), 0)
        # The directory's disk number, 1 in the classic record and 0 in the ZIP64 one (mutant 5637):
        # one finding.
        b = bytearray(with_zip64_end(data))
        struct.pack_into("<H", b, b.rfind(b"PK\x05\x06") + 6, 1)
        path, p, doc = self.verify(bytes(b))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(sorted(codes(doc) & {"eocd_inconsistent", "zip64_inconsistent"}), ["zip64_inconsistent"])
        self.assertNotEqual(self.tool("unzip", "-tqq", path), 0)

    # Rule 47: listing, libarchive ends stored bit-3 data at the first "PK\7\8" (zip_read_data_skip),
    # and the fixture's signatures.bin holds one; extracting, it checks the CRC there and reads on.
    def test_a_descriptor_signature_inside_stored_data_stops_a_walking_libarchive(self):
        data = read("python-stream-stored.zip")
        path, p, doc = self.verify(data)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(self.tool("bsdtar", "-tf", path), 0)  # libarchive reads the directory
        b = bytearray(data)
        struct.pack_into("<H", b, b.rfind(b"PK\x05\x06") + 6, 0xFFFF)  # mutant 113: now it walks
        path, p, doc = self.verify(bytes(b))
        self.assertEqual(p.returncode, 0)
        hit, = [f for f in findings(doc, "descriptor_mismatch") if f["entry"].endswith("signatures.bin")]
        self.assertEqual((hit["severity"], hit["readers"]["warn"]), ("warning", ["libarchive"]))
        self.assertEqual(run("verify", "--strict", path).returncode, 1)
        self.assertNotEqual(self.tool("bsdtar", "-tf", path), 0)
        out = os.path.join(self.tmp, "x")
        os.makedirs(out)
        self.assertEqual(self.tool("bsdtar", "-xf", path, "-C", out), 0)
        with open(os.path.join(out, "backup", "data", "signatures.bin"), "rb") as f:
            self.assertEqual(zlib.crc32(f.read()), 0xa44ab00f)

    # 7-Zip starts at the first local header whose name holds no NUL before its end, searching on
    # past one that does (IsArc_Zip): a lone entry's edited name leaves it nothing to open.
    def test_a_nul_in_every_local_name_leaves_7zip_no_archive_to_open(self):
        need("zip")
        with open(os.path.join(self.tmp, "far.bin"), "wb") as f:
            f.write(bytes(range(256)) * 20)
        with open(os.path.join(self.tmp, "b.txt"), "wb") as f:
            f.write(b"hello\n")
        for names, refused in ((["far.bin"], True), (["far.bin", "b.txt"], False)):
            zpath = os.path.join(self.tmp, "%d.zip" % len(names))
            subprocess.run(["zip", "-q", "-X", zpath] + names, cwd=self.tmp, check=True)
            b = bytearray(read_path(zpath))
            b[31] = 0  # the first local header's name: "f\0r.bin" (mutants 6506 and 10612)
            path, p, doc = self.verify(bytes(b))
            self.assertEqual(p.returncode, 1)  # the names differ (cd_lfh_mismatch) either way
            hits = findings(doc, "name_invalid")
            self.assertEqual([h["readers"]["refuse"] for h in hits], [["7zip"]] if refused else [], names)
            self.assertEqual(self.tool("7z", "t", path) != 0, refused, names)
        # The search ends 8 MiB into the file: a clean second header after 8.4 MB of stored data
        # is not found.
        with open(os.path.join(self.tmp, "far.bin"), "wb") as f:
            f.write(bytes(range(256)) * 33000)
        zpath = os.path.join(self.tmp, "big.zip")
        subprocess.run(["zip", "-q", "-X", "-0", zpath, "far.bin", "b.txt"], cwd=self.tmp, check=True)
        b = bytearray(read_path(zpath))
        b[31] = 0
        path, p, doc = self.verify(bytes(b))
        self.assertEqual([h["readers"]["refuse"] for h in findings(doc, "name_invalid")], [["7zip"]])
        self.assertNotEqual(self.tool("7z", "t", path), 0)
