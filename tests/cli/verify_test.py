"""verify on every writer's fixture, and on damaged copies made by named byte edits."""
import os
import re
import shutil
import struct
import subprocess
import tempfile
import unittest

from zmtest import Layout, codes, fixture_path, fixtures, read, replace_name, report, run, run_json


def zipinfo_entries(path):
    """Names, sizes and CRCs as `zipinfo -v` prints them."""
    env = dict(os.environ, LC_ALL="C.UTF-8")
    out = subprocess.run(["zipinfo", "-v", path], capture_output=True, text=True, errors="replace", env=env).stdout
    entries = {}
    for block in out.split("Central directory entry #")[1:]:
        lines = [ln.strip() for ln in block.splitlines()[2:]]
        # Entries with a descriptor get a note about bytes "preceding" them before the name.
        name = [ln for ln in lines if ln and not ln.startswith("There are an extra")][0]
        crc = re.search(r"32-bit CRC value \(hex\):\s+([0-9a-f]+)", block).group(1)
        comp = int(re.search(r"compressed size:\s+(\d+)", block).group(1))
        uncomp = int(re.search(r"uncompressed size:\s+(\d+)", block).group(1))
        entries[name] = (int(crc, 16), comp, uncomp)
    return entries


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, data):
        p = os.path.join(self.tmp.name, name)
        with open(p, "wb") as f:
            f.write(data)
        return p


class EveryWriter(Base):
    def test_every_fixture_verifies_and_agrees_with_zipinfo(self):
        for fx in fixtures():
            with self.subTest(fixture=fx):
                p, doc = run_json("verify", fixture_path(fx))
                self.assertEqual(doc["schema"], "zipmedic.report/3")
                if fx == "sfx-shifted.zip":
                    # A shell-script stub whose offsets the writer did not count: 7-Zip cannot
                    # open it, so it is damage by the verdict contract (docs/readers.md, rule 41).
                    self.assertEqual(p.returncode, 1, p.stderr)
                    self.assertEqual([f["code"] for f in doc["findings"] if f["severity"] == "error"],
                                     ["prefix_unrecognised"])
                else:
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertEqual(doc["verdict"], "ok")
                self.assertTrue(all(e["status"] == "ok" for e in doc["entries"]))
                zi = zipinfo_entries(fixture_path(fx))
                ours = {e["name"]: (int(e["crc32"], 16), e["compressed_size"], e["uncompressed_size"])
                        for e in doc["entries"]}
                self.assertEqual(len(zi), len(doc["entries"]))
                self.assertEqual(sorted(ours.values()), sorted(zi.values()))
                # zipinfo -v mangles non-ASCII names whatever the locale: those are compared with
                # Python's zipfile instead, the rest with zipinfo.
                ascii_ours = {k: v for k, v in ours.items() if k.isascii()}
                self.assertEqual(ascii_ours, {k: v for k, v in zi.items() if k in ascii_ours})
                import zipfile
                with zipfile.ZipFile(fixture_path(fx)) as z:
                    py = {i.orig_filename if i.flag_bits & 0x800 else
                          i.orig_filename.encode("cp437").decode("utf-8"): i.CRC for i in z.infolist()}
                self.assertEqual({k: v[0] for k, v in ours.items()}, py)
                pp, pdoc = run_json("verify", "-", input=read(fx))
                self.assertEqual(pp.returncode, p.returncode, pp.stderr)
                self.assertEqual(pdoc["entries"], doc["entries"])
                self.assertEqual([f["code"] for f in pdoc["findings"]], [f["code"] for f in doc["findings"]])

    def test_text_report_lists_every_entry(self):
        p = run("verify", fixture_path("infozip-file.zip"))
        self.assertEqual(p.returncode, 0)
        for info in Layout(read("infozip-file.zip")).infos:
            # Info-ZIP stores UTF-8 names without bit 11; the raw bytes are what is shown.
            self.assertIn(info.orig_filename.encode("cp437").decode("utf-8"), p.stdout.decode())
        self.assertIn("verdict: ok", p.stdout.decode())

    def test_prefix_is_info_when_offsets_count_it_and_damage_for_7zip_when_not(self):
        p, doc = run_json("verify", fixture_path("sfx-adjusted.zip"))
        self.assertEqual(p.returncode, 0)
        self.assertIn("prefix_bytes", codes(doc))
        p, doc = run_json("verify", fixture_path("sfx-shifted.zip"))
        self.assertEqual(p.returncode, 1)
        f = [f for f in doc["findings"] if f["code"] == "prefix_unrecognised"][0]
        self.assertEqual(f["readers"]["refuse"], ["7zip"])
        seven = subprocess.run(["7z", "t", fixture_path("sfx-shifted.zip")], capture_output=True, stdin=subprocess.DEVNULL)
        self.assertNotEqual(seven.returncode, 0)  # the reader really refuses it

    def test_in_place_repair_makes_a_shifted_self_extractor_readable_by_7zip(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "sfx.zip")
            shutil.copy(fixture_path("sfx-shifted.zip"), src)
            p = run("repair", "--in-place", src)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(open(src, "rb").read()[:len(read("sfx-shifted.zip"))], read("sfx-shifted.zip"))
            self.assertEqual(run("verify", src).returncode, 0)
            seven = subprocess.run(["7z", "t", src], capture_output=True, stdin=subprocess.DEVNULL)
            self.assertEqual(seven.returncode, 0, seven.stdout)


class Damage(Base):
    """Each damage is a named byte edit on a real writer's archive."""

    def check(self, data, code, entry=None, fixture="damaged.zip"):
        path = self.write(fixture, data)
        p, doc = run_json("verify", path)
        self.assertEqual(p.returncode, 1, p.stderr)
        # The same bytes through a pipe: same exit status, verdict and codes on the same entries.
        pp, pdoc = run_json("verify", "-", input=data)
        self.assertEqual(pp.returncode, p.returncode, pp.stderr)
        self.assertEqual(pdoc["verdict"], doc["verdict"])
        key = lambda d: sorted({(f["code"], f["entry"]) for f in d["findings"]}, key=str)  # noqa: E731
        self.assertEqual(key(pdoc), key(doc))
        self.assertIn(b"<stdin>", pp.stderr)
        self.assertEqual(doc["verdict"], "damaged")
        if code is not None:
            self.assertIn(code, codes(doc, entry), doc["findings"])
        self.assertIn(path.encode(), p.stderr)
        return doc

    def test_flipped_data_byte_names_the_entry(self):
        for fx in ("infozip-file.zip", "infozip-pipe.zip", "zipstream-ng-sysreptor.zip", "python-stream-stored.zip",
                   "7zip-bzip2.zip", "7zip-lzma.zip"):
            with self.subTest(fixture=fx):
                data = read(fx)
                lay = Layout(data)
                k = max(range(len(lay.infos)), key=lambda i: lay.infos[i].compress_size)
                at = lay.data_offset(k) + lay.infos[k].compress_size // 2
                b = bytearray(data)
                b[at] ^= 0x20
                doc = self.check(bytes(b), None, None)
                name = lay.infos[k].filename
                found = codes(doc, name)
                self.assertTrue(found & {"crc_mismatch", "decode_error", "size_mismatch"}, doc["findings"])
                bad = [e for e in doc["entries"] if e["name"] == name][0]
                self.assertNotEqual(bad["status"], "ok")
                self.assertEqual(sum(e["status"] != "ok" for e in doc["entries"]), 1)

    def test_truncated_file_is_eocd_missing_naming_the_last_whole_entry(self):
        for fx in ("infozip-file.zip", "zipstream-ng-sysreptor.zip", "python-stream-stored.zip"):
            with self.subTest(fixture=fx):
                data = read(fx)
                doc = self.check(data[: len(data) * 6 // 10], "eocd_missing")
                self.assertIn("entry_truncated", codes(doc))
                whole = [e["name"] for e in doc["entries"] if e["status"] == "ok"]
                msg = [f["message"] for f in doc["findings"] if f["code"] == "eocd_missing"][0]
                self.assertIn("the last whole entry is '%s'" % whole[-1], msg)

    def test_name_changed_only_in_the_directory(self):
        data = read("infozip-file.zip")
        lay = Layout(data)
        k = [i for i, x in enumerate(lay.infos) if x.filename.endswith("a.bin")][0]
        old = lay.infos[k].filename.encode()
        new = old[:-5] + b"z.bin"
        self.check(replace_name(data, lay, k, new, local=False), "cd_lfh_mismatch", new.decode())

    def test_dot_dot_and_absolute_names_are_unsafe(self):
        data = read("infozip-file.zip")
        lay = Layout(data)
        k = [i for i, x in enumerate(lay.infos) if x.filename.endswith("a.bin")][0]
        old = lay.infos[k].filename.encode()
        # A backslash counts as a separator (Windows extractors), so "..\\" escapes; a backslash
        # elsewhere does not (CP932 names hold 0x5C as a second byte).
        for new in (b"../" + old[3:], b"/" + old[1:], b"C:" + old[2:], b"..\\" + old[3:]):
            with self.subTest(name=new):
                self.check(replace_name(data, lay, k, new), "unsafe_path", new.decode())

    def test_name_stored_twice(self):
        data = read("zipstream-ng-sysreptor.zip")
        lay = Layout(data)
        names = [i.filename for i in lay.infos]
        # Two entries of equal name length: the second takes the first's name in both places.
        pairs = [(a, b) for a in range(len(names)) for b in range(a + 1, len(names)) if len(names[a]) == len(names[b])]
        a, b = pairs[0]
        self.check(replace_name(data, lay, b, names[a].encode()), "duplicate_name", names[a])

    def test_two_directory_entries_pointing_at_the_same_data(self):
        data = read("infozip-file.zip")
        lay = Layout(data)
        b = bytearray(data)
        r1, r2 = lay.cd_record(1), lay.cd_record(2)
        b[r2 + 42:r2 + 46] = b[r1 + 42:r1 + 46]
        doc = self.check(bytes(b), "overlapping_entries")
        self.assertIn("overlapping_entries", codes(doc))

    def test_zeroed_directory_falls_back_to_the_local_headers(self):
        data = read("infozip-pipe.zip")
        lay = Layout(data)
        b = bytearray(data)
        b[lay.cd_start:lay.eocd] = bytes(lay.eocd - lay.cd_start)
        doc = self.check(bytes(b), "cd_unreadable")
        self.assertEqual(doc["stats"]["source"], "local_headers")
        self.assertEqual(sum(e["status"] == "ok" for e in doc["entries"]), len(lay.infos))

    def test_every_problem_is_reported_not_only_the_first(self):
        data = read("infozip-file.zip")
        lay = Layout(data)
        b = bytearray(data)
        hit = []
        for k in range(len(lay.infos)):
            if lay.infos[k].compress_size > 100:
                b[lay.data_offset(k) + 50] ^= 0xFF
                hit.append(lay.infos[k].filename)
        self.assertGreaterEqual(len(hit), 3)
        p, doc = run_json("verify", self.write("multi.zip", bytes(b)))
        self.assertEqual(p.returncode, 1)
        flagged = {f["entry"] for f in doc["findings"] if f["severity"] == "error"}
        self.assertEqual(flagged, set(hit))


class CannotProceed(Base):
    def test_pipe_empty_and_random(self):
        p = run("verify", "-", input=b"")
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"<stdin>: the stream is empty", p.stderr)
        p = run("verify", "-", input=os.urandom(70000).replace(b"PK", b"QK"))
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"not a ZIP archive", p.stderr)

    def test_random_bytes(self):
        path = self.write("random.zip", os.urandom(5000).replace(b"PK", b"QK"))
        p = run("verify", path)
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"not a ZIP archive", p.stderr)
        self.assertIn(path.encode(), p.stderr)

    def test_empty_file(self):
        path = self.write("empty.zip", b"")
        p = run("verify", path)
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"empty", p.stderr)

    def test_missing_file(self):
        p = run("verify", os.path.join(self.tmp.name, "nope.zip"))
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"nope.zip: cannot open", p.stderr)

    def test_bad_flag_is_usage_error(self):
        p = run("verify", "--no-such-flag", fixture_path("infozip-file.zip"))
        self.assertEqual(p.returncode, 2)
        self.assertEqual(run().returncode, 2)

    def test_json_on_unreadable_input_is_one_unreadable_report(self):
        # A CI job keeps the report as an artefact whatever the exit status (issue 11).
        p, doc = run_json("verify", self.write("empty.zip", b""))
        self.assertEqual(p.returncode, 3)
        self.assertEqual(doc["verdict"], "unreadable")
        self.assertEqual([f["code"] for f in doc["findings"]], ["empty_file"])


class HostileFields(Base):
    """Length fields that point past the end, huge counts: a clear finding, never a crash."""

    def test_entry_count_of_four_billion(self):
        data = bytearray(read("infozip-file.zip"))
        end = data.rfind(b"PK\x05\x06")
        data[end + 8:end + 12] = b"\xff\xff\xff\xff"
        p, doc = run_json("verify", self.write("count.zip", bytes(data)))
        self.assertIn(p.returncode, (1,))
        self.assertIn("eocd_inconsistent", codes(doc))

    def test_name_length_65535_in_local_header(self):
        data = bytearray(read("infozip-file.zip"))
        data[26:28] = b"\xff\xff"
        p, doc = run_json("verify", self.write("namelen.zip", bytes(data)))
        self.assertEqual(p.returncode, 1)
        first = doc["entries"][0]
        self.assertNotEqual(first["status"], "ok")

    def test_directory_offset_past_the_end(self):
        data = bytearray(read("infozip-file.zip"))
        end = data.rfind(b"PK\x05\x06")
        data[end + 12:end + 16] = struct.pack("<I", 0x7FFFFFFF)
        p, doc = run_json("verify", self.write("cdsize.zip", bytes(data)))
        self.assertEqual(p.returncode, 1)
        self.assertTrue(codes(doc) & {"eocd_inconsistent", "cd_unreadable"})


if __name__ == "__main__":
    unittest.main()


class PipeSpill(Base):
    """verify - of more entries than it holds: the walk's entries wait in an unlinked temporary file
    in TMPDIR (issue 13), and the report is the file's, byte for byte but the timing."""

    def test_many_entries_through_a_pipe_report_as_the_file(self):
        import io
        import json
        import zipfile
        from zmtest import ZIPMEDIC
        buf = io.BytesIO()
        names = ["reports/2026/finding-%05d.json" % i for i in range(30000)]
        names[25000] = names[7]  # a name stored twice, past the first settled batch of 16,384
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for i, name in enumerate(names):
                z.writestr(name, '{"id": %d, "text": "%s"}\n' % (i, "x" * (i % 50)))
        data = bytearray(buf.getvalue())
        lay = Layout(bytes(data))
        info = lay.infos[20000]
        data[info.header_offset + 30 + len(info.filename.encode()) + 2] ^= 0x55  # inside its deflate stream
        data = bytes(data)
        path = self.write("many.zip", data)
        f = run("verify", "--json", path)
        self.assertEqual(f.returncode, 1, f.stderr)
        doc = report(f.stdout)
        self.assertIn("duplicate_name", codes(doc))
        self.assertIn(names[20000], {x["entry"] for x in doc["findings"]})
        def same(d):  # all but the path, the timing and the source
            d = json.loads(json.dumps(d).replace(json.dumps(path)[1:-1], "<stdin>"))
            for k in ("seconds", "source"):
                d["stats"].pop(k)
            d.pop("started")  # the time each run began, and a pipe has no mtime
            d["archive"].pop("mtime")
            return d

        spill = os.path.join(self.tmp.name, "spill")
        os.mkdir(spill)
        for tmpdir in (spill, os.path.join(self.tmp.name, "missing")):
            with self.subTest(TMPDIR=tmpdir):
                env = dict(os.environ, TMPDIR=tmpdir)
                p = subprocess.run([ZIPMEDIC, "verify", "--json", "-"], input=data, capture_output=True, env=env)
                self.assertEqual(p.returncode, f.returncode, p.stderr)
                pdoc = report(p.stdout)
                self.assertEqual(pdoc["stats"]["source"], "stream")
                self.assertEqual(same(pdoc), same(doc))
                self.assertEqual(os.listdir(spill), [])  # the file had no name: nothing is left
