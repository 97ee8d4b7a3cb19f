"""verify ARCHIVE PATTERN..., --include and --exclude: the structure in full, the data of the
selected entries only, and a report that says which."""
import io
import os
import struct
import tempfile
import unittest
import zipfile

from zmtest import Layout, codes, fixture_path, read, run, run_json


class FlippedByte(unittest.TestCase):
    """Info-ZIP's archive with one data byte of backup/data/a.bin flipped."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.data = read("infozip-file.zip")
        lay = Layout(self.data)
        self.k = [i.filename for i in lay.infos].index("backup/data/a.bin")
        b = bytearray(self.data)
        b[lay.data_offset(self.k) + 500] ^= 0x20
        self.lay = lay
        self.damaged = self.write("damaged.zip", bytes(b))

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, data):
        p = os.path.join(self.tmp.name, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def status(self, doc, name):
        return [e["status"] for e in doc["entries"] if e["name"] == name][0]


class Select(FlippedByte):
    def test_an_unselected_damaged_entry_is_unchecked_and_the_rest_verifies(self):
        p, doc = run_json("verify", self.damaged, "backup/records.jsonl")
        self.assertEqual(p.returncode, 0, doc["findings"])
        self.assertEqual(doc["verdict"], "ok")
        self.assertEqual(self.status(doc, "backup/records.jsonl"), "ok")
        self.assertEqual(self.status(doc, "backup/data/a.bin"), "unchecked")
        c = doc["checked"]
        self.assertEqual((c["entries"], c["of_entries"], c["patterns"], c["unmatched"]),
                         (1, 10, ["backup/records.jsonl"], []))
        self.assertEqual(c["compressed_bytes"], [i.compress_size for i in self.lay.infos if i.filename == "backup/records.jsonl"][0])
        text = run("verify", self.damaged, "backup/records.jsonl").stdout.decode()
        self.assertIn("data checked: 1 of 10 entries", text)

    def test_a_folder_pattern_selects_what_is_under_it_and_finds_the_damage(self):
        p, doc = run_json("verify", self.damaged, "backup/data")
        self.assertEqual(p.returncode, 1)
        self.assertIn("crc_mismatch", codes(doc, "backup/data/a.bin"))
        self.assertEqual(self.status(doc, "backup/data/b.bin"), "ok")
        self.assertEqual(self.status(doc, "backup/records.jsonl"), "unchecked")
        # * stays inside one folder, as restore's patterns do.
        p, doc = run_json("verify", self.damaged, "backup/*.bin")
        self.assertEqual(doc["checked"]["entries"], 0)
        self.assertEqual(p.returncode, 1)

    def test_exclude_matches_at_any_folder_level(self):
        p, doc = run_json("verify", self.damaged, "--exclude", "a.bin")
        self.assertEqual(p.returncode, 0, doc["findings"])
        self.assertEqual(self.status(doc, "backup/data/a.bin"), "unchecked")
        self.assertEqual(doc["checked"]["entries"], 9)
        self.assertEqual(doc["checked"]["excludes"], ["a.bin"])

    def test_the_structure_is_still_checked_in_full(self):
        # The unselected entry's local header names another file than its directory record.
        b = bytearray(read("infozip-file.zip"))
        s = self.lay.starts[self.k]
        b[s + 30 + len("backup/data/")] = ord("z")
        p, doc = run_json("verify", self.write("renamed.zip", bytes(b)), "backup/records.jsonl")
        self.assertEqual(p.returncode, 1)
        self.assertIn("cd_lfh_mismatch", codes(doc, "backup/data/a.bin"))

    def test_restore_of_a_pattern_decodes_only_what_it_restores(self):
        # Damage in an entry not asked for does not stop the restore of the one that was; damage
        # in the structure still does, and so does damage in an entry asked for.
        out = os.path.join(self.tmp.name, "out")
        p, doc = run_json("restore", self.damaged, "-C", out, "backup/records.jsonl")
        self.assertEqual(p.returncode, 0, doc["findings"])
        self.assertEqual(self.status(doc, "backup/data/a.bin"), "unchecked")
        self.assertEqual(doc["checked"]["entries"], 1)
        self.assertEqual(doc["restore"]["entries_restored"], 1)
        with zipfile.ZipFile(fixture_path("infozip-file.zip")) as z:
            with open(os.path.join(out, "backup", "records.jsonl"), "rb") as f:
                self.assertEqual(f.read(), z.read("backup/records.jsonl"))
        self.assertFalse(os.path.exists(os.path.join(out, "backup", "data")))
        p, doc = run_json("restore", self.damaged, "-C", os.path.join(self.tmp.name, "out2"), "backup/data")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(doc["restore"]["outcome"], "refused")
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "out2")))
        b = bytearray(read("infozip-file.zip"))
        b[self.lay.starts[self.k] + 30 + len("backup/data/")] = ord("z")
        p, doc = run_json("restore", self.write("renamed.zip", bytes(b)), "-C", os.path.join(self.tmp.name, "out3"),
                          "backup/records.jsonl")
        self.assertEqual(p.returncode, 1)
        self.assertIn("cd_lfh_mismatch", codes(doc, "backup/data/a.bin"))
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "out3")))

    def test_a_pattern_that_matches_nothing_fails_and_is_named(self):
        p, doc = run_json("verify", self.damaged, "backup/records.jsonl", "no/such/*")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(doc["verdict"], "ok")
        self.assertEqual(doc["checked"]["unmatched"], ["no/such/*"])
        self.assertIn(b"no entry matches no/such/*", p.stderr)

    def test_a_word_that_names_a_file_makes_them_all_archives_and_include_settles_it(self):
        other = self.write("backup", b"")  # a file named like a folder of the archive
        p = run("verify", self.damaged, other, "backup/data")
        self.assertEqual(p.returncode, 3)  # "backup/data" is an archive that cannot be opened
        self.assertIn(b"backup/data", p.stderr)
        p, doc = run_json("verify", self.damaged, "--include", "backup/records.jsonl")
        self.assertEqual(p.returncode, 0)
        self.assertEqual(doc["checked"]["entries"], 1)
        # Several archives, as before, when every word names a file.
        p = run("verify", self.damaged, self.damaged)
        self.assertEqual(p.returncode, 1)

    def test_a_pipe_is_decoded_whole_and_says_so(self):
        with open(self.damaged, "rb") as f:
            p, doc = run_json("verify", "-", "backup/records.jsonl", input=f.read())
        self.assertEqual(p.returncode, 1)
        self.assertIn("crc_mismatch", codes(doc, "backup/data/a.bin"))
        self.assertEqual(doc["checked"]["entries"], doc["checked"]["of_entries"])


class ScanSelect(FlippedByte):
    """scan ARCHIVE PATTERN...: every local header is walked; an entry left out is walked past by
    its sizes when a record confirms where they end, and decoded anyway when they do not."""

    def test_an_entry_left_out_is_walked_past_unread(self):
        path = self.damaged
        p, doc = run_json("scan", path, "backup/records.jsonl")
        self.assertEqual(p.returncode, 0, doc["findings"])
        self.assertEqual(self.status(doc, "backup/data/a.bin"), "unchecked")
        self.assertEqual(self.status(doc, "backup/records.jsonl"), "ok")
        self.assertEqual((doc["checked"]["entries"], doc["checked"]["of_entries"]), (1, 10))
        self.assertEqual(len(doc["entries"]), 10)
        # the same from a pipe, and the damage is found when its entry is picked
        with open(path, "rb") as f:
            p, doc = run_json("scan", "-", "--include", "backup/records.jsonl", input=f.read())
        self.assertEqual(p.returncode, 0, doc["findings"])
        self.assertEqual(self.status(doc, "backup/data/a.bin"), "unchecked")
        p, doc = run_json("scan", path, "backup/data", "--exclude", "b.bin")
        self.assertEqual(p.returncode, 1)
        self.assertIn("crc_mismatch", codes(doc, "backup/data/a.bin"))
        self.assertEqual(self.status(doc, "backup/data/b.bin"), "unchecked")
        text = run("scan", path, "backup/records.jsonl").stdout.decode()
        self.assertIn("data checked: 1 of 10 entries", text)

    def test_sizes_that_land_on_no_record_are_not_trusted(self):
        # 50 bytes gone from the middle of the unselected entry: its sizes now end inside the
        # next entry, so the walk decodes it, finds the damage, and still finds what follows.
        at = self.lay.data_offset(self.k) + 500
        path = self.write("deleted.zip", self.data[:at] + self.data[at + 50:])
        p, doc = run_json("scan", path, "backup/records.jsonl")
        self.assertEqual(p.returncode, 1)
        self.assertNotEqual(self.status(doc, "backup/data/a.bin"), "unchecked")
        self.assertEqual(self.status(doc, "backup/records.jsonl"), "ok")

    def test_entries_with_a_descriptor_are_decoded_to_find_their_end(self):
        # Python's streamed archive: every entry has bit 3, so no header gives the sizes.
        path = fixture_path("python-stream-stored.zip")
        with zipfile.ZipFile(path) as z:
            self.assertTrue(all(i.flag_bits & 8 for i in z.infolist()))
        p, doc = run_json("scan", path, "backup/VERSION")
        self.assertEqual(p.returncode, 0, doc["findings"])
        self.assertEqual(doc["checked"]["entries"], doc["checked"]["of_entries"])
        self.assertEqual(doc["checked"]["unmatched"], [])
        self.assertEqual({e["status"] for e in doc["entries"]}, {"ok"})
        # Info-ZIP from a pipe: its folders have sizes and are walked past, its files are decoded
        p, doc = run_json("scan", fixture_path("infozip-pipe.zip"), "backup/VERSION")
        self.assertEqual(p.returncode, 0, doc["findings"])
        self.assertEqual(self.status(doc, "backup/emptydir/"), "unchecked")
        self.assertEqual(self.status(doc, "backup/records.jsonl"), "ok")

    def test_a_pattern_whose_entries_are_all_excluded_matches_nothing(self):
        # Python's streamed archive is all bit 3: the walk decodes the excluded entries too, but a
        # pattern is matched only by what it selected.
        p, doc = run_json("scan", fixture_path("python-stream-stored.zip"), "backup/data", "--exclude", "*.bin")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(doc["checked"]["unmatched"], ["backup/data"])

    def test_a_zip64_size_that_wraps_past_2_64_does_not_loop(self):
        # A local ZIP64 compressed size of 2^64 minus the header's length lands on the header
        # itself; walked past by its sizes it would be read again and again.
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            z.writestr("a.txt", b"a" * 100)
            z.writestr("b.txt", b"b" * 100)
        b = bytearray(buf.getvalue())
        n, m = int.from_bytes(b[26:28], "little"), int.from_bytes(b[28:30], "little")
        b[18:26] = b"\xff" * 8  # both sizes deferred to the ZIP64 field added below
        z64 = struct.pack("<HHQQ", 1, 16, 100, (1 << 64) - (30 + n + 20))
        head = bytes(b[:28]) + struct.pack("<H", 20) + bytes(b[30:30 + n]) + z64
        path = self.write("wrap.zip", head + bytes(b[30 + n + m:]))
        # ... and a worker handed it counted ~2^64 bytes in flight and the walk waited for ever.
        for args in (["b.txt"], ["--threads", "2"], ["--threads", "1"]):
            with self.subTest(args=args):
                p = run("scan", path, *args, timeout=60)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(b"a.txt", p.stderr)

    def test_the_sysreptor_profile_counts_entries_left_unread_as_present(self):
        # zipstream-ng's backup rewritten by Python with sizes in the headers: the entries a
        # pattern leaves out are walked past unread, and are still there for the profile.
        with zipfile.ZipFile(fixture_path("zipstream-ng-sysreptor.zip")) as src:
            path = os.path.join(self.tmp.name, "sized.zip")
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
                for i in src.infolist():
                    z.writestr(i, src.read(i))
        for command in ("scan", "verify"):
            with self.subTest(command=command):
                p, doc = run_json(command, "--profile", "sysreptor", path, "uploadedfiles")
                self.assertEqual(p.returncode, 0, doc["findings"])
                self.assertEqual(self.status(doc, "VERSION"), "unchecked")
                self.assertEqual(doc["checked"]["entries"], 1)

    def test_a_cut_archive_names_its_last_whole_entry_read_or_not(self):
        cut = self.write("cut.zip", self.data[:self.lay.data_offset(self.k) + 1000])
        p, doc = run_json("scan", cut, "backup/records.jsonl")
        self.assertEqual(p.returncode, 1)
        message = [f["message"] for f in doc["findings"] if f["code"] == "eocd_missing"][0]
        before = [i.filename for i in self.lay.infos][self.k - 1]
        self.assertIn("the last whole entry is '%s'" % before, message)

    def test_a_pattern_that_matches_nothing_fails(self):
        p, doc = run_json("scan", fixture_path("infozip-file.zip"), "no/such/*")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(doc["checked"]["unmatched"], ["no/such/*"])
        self.assertIn(b"no entry matches no/such/*", p.stderr)

class Sample(unittest.TestCase):
    """verify --sample SHARE --seed N: the structure in full, a drawn subset of the data."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "many.zip")
        with zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED) as z:
            for i in range(200):
                z.writestr("files/%03d.txt" % i, ("line %d\n" % i) * 50)

    def tearDown(self):
        self.tmp.cleanup()

    def checked(self, doc):
        return sorted(e["name"] for e in doc["entries"] if e["status"] == "ok")

    def test_the_same_seed_draws_the_same_entries_and_the_report_says_sampled(self):
        p1, a = run_json("verify", self.path, "--sample", "25%", "--seed", "7")
        p2, b = run_json("verify", self.path, "--sample", "25%", "--seed", "7")
        p3, c = run_json("verify", self.path, "--sample", "25%", "--seed", "8")
        self.assertEqual((p1.returncode, p2.returncode, p3.returncode), (0, 0, 0))
        self.assertEqual(self.checked(a), self.checked(b))
        self.assertNotEqual(self.checked(a), self.checked(c))
        self.assertTrue(20 <= len(self.checked(a)) <= 80, len(self.checked(a)))
        self.assertEqual(a["checked"]["entries"], len(self.checked(a)))
        self.assertEqual(a["checked"]["sample"], {"share": 0.25, "seed": 7})
        text = run("verify", self.path, "--sample", "25%", "--seed", "7").stdout.decode()
        self.assertIn("verdict: ok, sampled", text)
        self.assertIn("a random sample of 25% (--seed 7)", text)

    def test_a_byte_budget_and_a_damaged_entry_drawn_or_not(self):
        p, doc = run_json("verify", self.path, "--sample", "1GiB")
        self.assertNotIn("sample", doc.get("checked", {}))  # more than the archive: every entry
        self.assertEqual(len(self.checked(doc)), 200)
        p, doc = run_json("verify", self.path, "--sample", "2KB", "--seed", "3")
        self.assertLess(doc["checked"]["entries"], 200)
        self.assertIn(doc["checked"]["sample"]["seed"], (3,))
        # A random seed is reported, and repeats the draw.
        p, doc = run_json("verify", self.path, "--sample", "10%")
        again = run_json("verify", self.path, "--sample", "10%", "--seed", str(doc["checked"]["sample"]["seed"]))[1]
        self.assertEqual(self.checked(doc), self.checked(again))

    def test_bad_values_are_usage_errors(self):
        for args in (("--sample", "ten"), ("--sample", "150%"), ("--sample", "5%", "--seed", "x"), ("--seed", "4")):
            with self.subTest(args=args):
                self.assertEqual(run("verify", self.path, *args).returncode, 2)


if __name__ == "__main__":
    unittest.main()
