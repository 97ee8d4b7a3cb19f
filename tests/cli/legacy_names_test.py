"""Legacy names (issue 12, item 4): a name without the UTF-8 flag (bit 11) that is not UTF-8 is shown
decoded as CP437 in the text report, list and the stderr summary, as unzip, 7-Zip and Windows Explorer
show an archive from MS-DOS or Windows; JSON keeps "name" as the escaped bytes and adds
"display_name". UTF-8 without the flag (Info-ZIP on Linux) is shown as it is, and control bytes stay
escaped whatever the name's code page. --name-charset picks another code page through iconv.

The archives come from the writers: bsdtar with --options zip:hdrcharset=CP437 (and CP932, KOI8-R),
which converts the names and leaves bit 11 clear, and Info-ZIP zip, which stores a file's name as
the bytes the file system holds. (p7zip 16.02 here sets bit 11 on non-ASCII names even with
-mcp=437, so it writes no legacy names.) The expected text comes from Python's own codecs."""
import json
import os
import subprocess
import unittest
import zipfile

import jsonschema

from zmtest import SRC, TempDirTest, run, run_json

with open(os.path.join(SRC, "docs", "report.schema.json")) as _f:
    SCHEMA = json.load(_f)

UTF8_FLAG = 0x800


def raw_names(path):
    """(raw name bytes, bit 11 set) per entry, read by Python's zipfile, which decodes a name
    without bit 11 as CP437: encoding it back gives the bytes."""
    out = []
    for i in zipfile.ZipFile(path).infolist():
        utf8 = bool(i.flag_bits & UTF8_FLAG)
        out.append((i.orig_filename.encode("utf-8" if utf8 else "cp437"), utf8))
    return out


def escaped(raw):
    """What printable_name makes of bytes that are not UTF-8 and of control bytes."""
    out = []
    for b in raw:
        out.append("\\x%02x" % b if b >= 0x80 or b < 0x20 or b == 0x7F else chr(b))
    return "".join(out)


class LegacyNamesTest(TempDirTest):
    def tree(self, names, sub="tree"):
        """Files of these names (str or raw bytes) with some bytes each, in a fresh directory."""
        root = os.path.join(self.tmp, sub).encode()
        os.makedirs(root, exist_ok=True)
        for n in names:
            with open(os.path.join(root, n if isinstance(n, bytes) else n.encode()), "wb") as f:
                f.write(b"zipmedic legacy names\n" * 50)
        return root

    def bsdtar(self, charset, names, out="a.zip"):
        root = self.tree(names, "tree-" + charset)
        path = os.path.join(self.tmp, out)
        subprocess.run(["bsdtar", "--format", "zip", "--options", "zip:hdrcharset=" + charset, "-cf", path, *names],
                       cwd=root, check=True)
        return path

    def infozip(self, names, out="iz.zip"):
        root = self.tree(names, "tree-iz")
        path = os.path.join(self.tmp, out)
        subprocess.run([b"zip", b"-q", path.encode(), *[n if isinstance(n, bytes) else n.encode() for n in names]],
                       cwd=root, check=True)
        return path

    def json_of(self, *args):
        p, doc = run_json(*args)
        jsonschema.validate(doc, SCHEMA)
        return p, doc

    def test_cp437_name_from_bsdtar_shows_decoded_in_text_list_and_json(self):
        names = ["Übersicht.txt", "café.txt"]
        path = self.bsdtar("CP437", names)
        self.assertEqual(raw_names(path), [(n.encode("cp437"), False) for n in names])
        self.assertEqual(raw_names(path)[0][0][0], 0x9A)  # Ü in CP437
        for cmd in ("verify", "list", "scan"):
            p = run(cmd, path)
            out = p.stdout.decode("utf-8")
            for n in names:
                self.assertIn("  " + n + "\n", out, cmd)  # the rows
            p, doc = self.json_of(cmd, path)
            rows = {e["name"]: e for e in doc["entries"]}
            self.assertEqual(rows["\\x9abersicht.txt"]["display_name"], "Übersicht.txt", cmd)
            self.assertEqual(rows["caf\\x82.txt"]["display_name"], "café.txt", cmd)

    def test_cp437_name_findings_give_the_decoded_name_and_the_bytes(self):
        # Java's ZipFile reads names as UTF-8 unless told the charset: a feature it lacks, one note
        # for the archive naming the first such entry, shown decoded and as its bytes. The others
        # read the archive: exit 0.
        path = self.bsdtar("CP437", ["Übersicht.txt", "café.txt"])
        p = run("verify", path)
        self.assertEqual(p.returncode, 0, p.stdout)
        out = p.stdout.decode("utf-8")
        self.assertIn("info: readers_lack_feature [Übersicht.txt (bytes \\x9abersicht.txt)] at offset 0: 2 names", out)
        self.assertIn("(Java lacks this)", out)
        p, doc = self.json_of("verify", path)
        self.assertEqual([(f["code"], f["entry"], f["severity"], f["readers"]) for f in doc["findings"]],
                         [("readers_lack_feature", "\\x9abersicht.txt", "info",
                           {"refuse": [], "warn": [], "lack": ["java"]}),
                          ("name_charset_differs", "\\x9abersicht.txt", "warning",
                           {"refuse": [], "warn": ["unzip", "python"], "lack": []})])

    def test_cp437_names_read_from_a_pipe(self):
        path = self.bsdtar("CP437", ["Übersicht.txt"])
        with open(path, "rb") as f:
            data = f.read()
        for cmd in ("verify", "scan", "list"):
            p = run(cmd, "-", input=data)
            self.assertIn("  Übersicht.txt\n", p.stdout.decode("utf-8"), cmd)
            p, doc = run_json(cmd, "-", input=data)
            self.assertEqual([(e["name"], e.get("display_name")) for e in doc["entries"]],
                             [("\\x9abersicht.txt", "Übersicht.txt")], cmd)

    def test_every_high_byte_decodes_as_python_cp437(self):
        # Info-ZIP stores the file system's bytes as the name, flag clear: all 128 high bytes.
        raw = bytes(range(0x80, 0x100)) + b".bin"
        path = self.infozip([raw])
        self.assertEqual(raw_names(path), [(raw, False)])
        p, doc = self.json_of("list", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        [e] = doc["entries"]
        self.assertEqual(e["name"], escaped(raw))
        self.assertEqual(e["display_name"], raw.decode("cp437"))
        self.assertIn(raw.decode("cp437"), run("list", path).stdout.decode("utf-8"))

    def test_utf8_name_without_flag_from_infozip_is_shown_unchanged(self):
        path = self.infozip(["Übersicht.txt"])
        self.assertEqual(raw_names(path), [("Übersicht.txt".encode("utf-8"), False)])
        p, doc = self.json_of("verify", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([(f["code"], f["entry"]) for f in doc["findings"]], [("name_charset_differs", "Übersicht.txt")])
        self.assertEqual(doc["entries"][0]["name"], "Übersicht.txt")
        self.assertNotIn("display_name", doc["entries"][0])
        self.assertIn("Übersicht.txt", run("list", path).stdout.decode("utf-8"))
        # Not read as CP437: that would be '├£bersicht.txt'.
        self.assertNotIn("├£", run("verify", "-v", path).stdout.decode("utf-8"))

    def test_control_bytes_stay_escaped_in_a_cp437_name(self):
        raw = b"\x9abad\x1b[2J.txt"
        path = self.infozip([raw, b"plain\x01.txt"])
        self.assertEqual(sorted(raw_names(path)), sorted([(raw, False), (b"plain\x01.txt", False)]))
        p, doc = self.json_of("verify", path)
        rows = {e["name"]: e for e in doc["entries"]}
        self.assertEqual(rows["\\x9abad\\x1b[2J.txt"]["display_name"], "Übad\\x1b[2J.txt")
        self.assertNotIn("display_name", rows["plain\\x01.txt"])
        for cmd in ("verify", "list"):
            out = run(cmd, path).stdout
            self.assertNotIn(b"\x1b", out, cmd)
            self.assertNotIn(b"\x01", out, cmd)
            self.assertIn("Übad\\x1b[2J.txt".encode(), out, cmd)

    def test_a_damaged_cp437_entry_is_named_decoded_in_findings_and_on_stderr(self):
        path = self.bsdtar("CP437", ["Übersicht.txt", "plain.txt"])
        info = [i for i in zipfile.ZipFile(path).infolist() if i.orig_filename.encode("cp437")[0] == 0x9A][0]
        with open(path, "r+b") as f:
            f.seek(info.header_offset + 26)
            n, m = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
            at = info.header_offset + 30 + n + m + info.compress_size // 2
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0xFF]))
        p, doc = self.json_of("verify", path)
        self.assertEqual(p.returncode, 1)
        damage = {f["code"] for f in doc["findings"] if f["entry"] == "\\x9abersicht.txt" and f["severity"] == "error"}
        self.assertTrue(damage, doc["findings"])
        p = run("verify", path)
        self.assertEqual(p.returncode, 1)
        out = p.stdout.decode("utf-8")
        for code in damage:
            self.assertIn("error: %s [Übersicht.txt (bytes \\x9abersicht.txt)]" % code, out)
        # scan trusts no directory: the damage is its first error.
        p = run("scan", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn("[Übersicht.txt (bytes \\x9abersicht.txt)]", p.stdout.decode("utf-8"))
        self.assertIn("entry 'Übersicht.txt (bytes \\x9abersicht.txt)'", p.stderr.decode("utf-8"))

    def test_name_charset_decodes_cp932_and_koi8r_which_default_to_cp437(self):
        jp = ["日本語.txt", "表.txt"]  # 表 is 95 5C in CP932: a backslash as its second byte
        path = self.bsdtar("CP932", jp, "jp.zip")
        self.assertEqual(raw_names(path), [(n.encode("cp932"), False) for n in jp])
        # Without the option the bytes cannot tell CP932 from CP437: shown as CP437.
        _, doc = self.json_of("list", path)
        self.assertEqual([e["display_name"] for e in doc["entries"]], [n.encode("cp932").decode("cp437") for n in jp])
        p, doc = self.json_of("verify", "--name-charset", "CP932", path)
        self.assertEqual([e["display_name"] for e in doc["entries"]], jp)
        self.assertEqual([e["name"] for e in doc["entries"]], [escaped(n.encode("cp932")) for n in jp])
        out = run("list", path, "--name-charset", "CP932").stdout.decode("utf-8")
        for n in jp:
            self.assertIn(n, out)
        ru = self.bsdtar("KOI8-R", ["Привет.txt"], "ru.zip")
        self.assertEqual(raw_names(ru), [("Привет.txt".encode("koi8_r"), False)])
        self.assertIn("Привет.txt", run("--name-charset", "KOI8-R", "verify", ru).stdout.decode("utf-8"))
        self.assertNotIn("Привет.txt", run("verify", ru).stdout.decode("utf-8"))

    def test_unknown_name_charset_is_a_usage_error(self):
        path = self.bsdtar("CP437", ["café.txt"])
        p = run("verify", "--name-charset", "NO-SUCH-CODEPAGE", path)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"--name-charset NO-SUCH-CODEPAGE", p.stderr)


if __name__ == "__main__":
    unittest.main()
