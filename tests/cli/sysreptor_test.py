"""SysReptor backups end to end: the profile, encrypted backups, unfinished backups."""
import io
import os
import subprocess
import sys
import tempfile
import unittest
import zipfile

from zmtest import TempDirTest, ZIPMEDIC, codes, run, run_json

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import sysreptor_backup as sb  # noqa: E402

KEY = bytes(range(32))
KEY_HEX = KEY.hex()


Base = TempDirTest


class Profile(Base):
    def test_plain_backup_passes_with_a_summary(self):
        p, doc = run_json("verify", "--profile", "sysreptor", self.write("b.zip", sb.backup_bytes()))
        self.assertEqual(p.returncode, 0, doc["findings"])
        s = doc["sysreptor"]
        self.assertEqual(s["version"], "2026.11")
        self.assertTrue(s["finished"])
        self.assertEqual(sum(s["records_per_model"].values()), 600)
        self.assertEqual(s["files_per_folder"]["archivedfiles"], 1)

    def test_missing_backup_jsonl(self):
        p, doc = run_json("verify", "--profile", "sysreptor",
                          self.write("b.zip", sb.backup_bytes(drop=("backup.jsonl",))))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(codes(doc, "backup.jsonl"), {"profile_missing_entry"})
        self.assertEqual([f["code"] for f in doc["findings"]], ["profile_missing_entry"])

    def test_jsonl_line_cut_in_half_with_an_intact_crc(self):
        p, doc = run_json("verify", "--profile", "sysreptor", self.write("b.zip", sb.backup_bytes(cut_jsonl_line=True)))
        self.assertEqual(p.returncode, 1)
        bad = [f for f in doc["findings"] if f["code"] == "profile_bad_content"]
        self.assertEqual(len(bad), 1)
        self.assertEqual(bad[0]["entry"], "backup.jsonl")
        self.assertIn("line 301", bad[0]["message"])
        self.assertTrue(all(e["status"] == "ok" for e in doc["entries"]))  # the ZIP itself is whole

    def test_unfinished_backup_is_an_error_on_verify_and_a_warning_on_repair(self):
        path = self.write("b.zip", sb.backup_bytes(no_stats=True))
        p, doc = run_json("verify", "--profile", "sysreptor", path)
        self.assertEqual(p.returncode, 1)
        f = [x for x in doc["findings"] if x["code"] == "backup_incomplete"][0]
        self.assertEqual(f["severity"], "error")
        self.assertEqual(f["entry"], doc["entries"][-1]["name"])
        p, doc = run_json("repair", "--profile", "sysreptor", path, "-o", os.path.join(self.tmp, "o.zip"))
        self.assertEqual(p.returncode, 0)
        f = [x for x in doc["findings"] if x["code"] == "backup_incomplete"][0]
        self.assertEqual(f["severity"], "warning")

    def test_archived_files_must_carry_the_encryption_magic(self):
        data = sb.backup_bytes()
        z = zipfile.ZipFile(io.BytesIO(data))
        name = [n for n in z.namelist() if n.startswith("archivedfiles/")][0]
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as w:
            for n in z.namelist():
                body = z.read(n)
                w.writestr(n, b"PLAIN" + body[4:] if n == name else body)
        p, doc = run_json("verify", "--profile", "sysreptor", self.write("b.zip", out.getvalue()))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(codes(doc, name), {"profile_bad_content"})

    def test_profile_needs_a_file(self):
        self.assertEqual(run("verify", "--profile", "sysreptor", "-", input=sb.backup_bytes()).returncode, 2)
        self.assertEqual(run("verify", "--profile", "other", "x.zip").returncode, 2)


class Encrypted(Base):
    def crypt(self, plain=None, name="b.zip.crypt"):
        return self.write(name, sb.encrypt(plain if plain is not None else sb.backup_bytes(), KEY))

    def test_encrypted_backup_verifies_with_the_key(self):
        path = self.crypt()
        for args in (["--key", KEY_HEX], ["--key-file", self.write("k", (KEY_HEX + "\n").encode())]):
            p, doc = run_json("verify", path, *args)
            self.assertEqual(p.returncode, 0, doc and doc["findings"])
            self.assertTrue(doc["encryption"]["tag_ok"])
            self.assertEqual(len(doc["entries"]), 10)
            self.assertIn("sysreptor", doc)
        env = dict(os.environ, ZIPMEDIC_KEY=KEY_HEX)
        p = subprocess.run([ZIPMEDIC, "verify", "-q", path], env=env, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_without_a_key_it_asks_for_one(self):
        path = self.crypt()
        p = run("verify", path)
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"encrypted SysReptor backup", p.stderr)
        self.assertIn(b"--key", p.stderr)
        self.assertEqual(run("scan", path).returncode, 3)
        p = run("verify", "-", input=open(path, "rb").read())
        self.assertEqual(p.returncode, 3)

    def test_wrong_key_and_changed_byte_fail_the_tag_and_never_echo_the_key(self):
        path = self.crypt()
        wrong = "ff" * 32
        p, doc = run_json("verify", path, "--key", wrong)
        self.assertEqual(p.returncode, 1)
        self.assertIn("crypt_tag_mismatch", codes(doc))
        self.assertIn(b"cannot be told apart", p.stderr)
        self.assertNotIn(wrong.encode(), p.stderr + p.stdout)
        data = bytearray(open(path, "rb").read())
        data[len(data) // 2] ^= 0x04
        p, doc = run_json("verify", self.write("changed.zip.crypt", bytes(data)), "--key", KEY_HEX)
        self.assertEqual(p.returncode, 1)
        self.assertIn("crypt_tag_mismatch", codes(doc))
        self.assertNotIn(KEY_HEX.encode(), p.stderr + p.stdout)

    def test_malformed_key_is_refused_without_echo(self):
        p = run("verify", self.crypt(), "--key", "not-a-key-abcdef")
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"64 hexadecimal digits", p.stderr)
        self.assertNotIn(b"not-a-key-abcdef", p.stderr)

    def test_cut_encrypted_backup_is_repaired_to_a_plain_zip(self):
        plain = sb.backup_bytes()
        crypt = sb.encrypt(plain, KEY)
        cut = self.write("cut.zip.crypt", crypt[: len(crypt) * 6 // 10])
        out = os.path.join(self.tmp, "fixed.zip")
        p, doc = run_json("repair", cut, "--key", KEY_HEX, "-o", out)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("backup_incomplete", codes(doc))
        self.assertIn("crypt_unauthenticated", codes(doc))
        orig = zipfile.ZipFile(io.BytesIO(plain))
        header_len = crypt.index(b"\x00") + 1
        cut_plain = len(crypt) * 6 // 10 - header_len
        with zipfile.ZipFile(out) as z:
            got = set(z.namelist())
            for info in orig.infolist():
                # Every entry that lay wholly before the cut comes back byte-identical.
                end = info.header_offset + 30 + len(info.filename) + info.compress_size + 24
                if end <= cut_plain:
                    self.assertEqual(z.read(info.filename), orig.read(info), info.filename)
                    got.discard(info.filename)
            self.assertEqual(got, set())
            self.assertIn("backup.jsonl", z.namelist())

    def test_repair_encrypt_writes_a_crypt_that_decrypts_to_a_valid_zip(self):
        plain = sb.backup_bytes()
        crypt = sb.encrypt(plain, KEY)
        cut = self.write("cut.zip.crypt", crypt[: len(crypt) * 8 // 10])
        out = os.path.join(self.tmp, "fixed.zip.crypt")
        p, doc = run_json("repair", cut, "--key", KEY_HEX, "-o", out, "--encrypt")
        self.assertIn(p.returncode, (0, 1), p.stderr)
        data = open(out, "rb").read()
        self.assertEqual(data[:4], b"\xc2YPT")
        self.assertNotEqual(data[data.index(b"\x00") + 1:][:64], crypt[crypt.index(b"\x00") + 1:][:64])  # fresh nonce
        inner = sb.decrypt(data, KEY)  # raises if the tag is wrong
        with zipfile.ZipFile(io.BytesIO(inner)) as z:
            self.assertIsNone(z.testzip())
            self.assertEqual(z.read("backup.jsonl"), zipfile.ZipFile(io.BytesIO(plain)).read("backup.jsonl"))
        p = run("verify", out, "--key", KEY_HEX, "--quiet")
        self.assertEqual(p.returncode, 1)  # whole ZIP, but the backup was cut: backup_incomplete

    def test_in_place_repair_of_an_encrypted_backup_is_refused(self):
        path = self.crypt()
        before = open(path, "rb").read()
        p = run("repair", "--in-place", path, "--key", KEY_HEX)
        self.assertEqual(p.returncode, 2)  # refused before any work, like the other impossible requests
        self.assertEqual(open(path, "rb").read(), before)
        self.assertEqual(run("repair", "--in-place", "--encrypt", path, "--key", KEY_HEX).returncode, 2)


if __name__ == "__main__":
    unittest.main()
