"""A corpus of valid archives from many writers, with zero false alarms.

scripts/make-valid-corpus writes several hundred archives (Info-ZIP, 7-Zip, bsdtar, Python, Go,
Java, zipstream-ng's layout, four npm writers, and the layouts of Windows Explorer, WinZip,
WinRAR and macOS Archive Utility) into a temporary folder. Every one is valid, so:

  whole     `zipmedic verify` exits 0 on each (a false alarm is as much a defect as a wrong 0);
  readers   every reader that the report does not list in a finding's `lack` group reads every
            entry with the size and CRC-32 zipmedic checked, under the same name, or under the
            same bytes shown in another charset when the report lists that reader in `warn`;
  warnings  unzip or 7-Zip exiting 1 (their "warning" status) is named in some finding's `warn`
            or `refuse` group. Kept as a printed list, not a failure: see WARNINGS_ARE_SOFT.

The six readers are those of differential.py (unzip, 7z, bsdtar, CPython's zipfile, Go's
archive/zip, Java's ZipFile), run the same way. Needs what scripts/setup installs, and node and
npm for the npm writers (make-valid-corpus installs the packages into a cache folder).
"""
import collections
import concurrent.futures
import csv
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
import differential as diff  # noqa: E402
from zmtest import need  # noqa: E402

MIN_ARCHIVES = 300
MIN_WRITERS = 12
JOBS = min(2, os.cpu_count() or 1)
# unzip's and 7-Zip's exit 1 names a warning both tools print for things no report calls damage
# (e.g. unzip on a name it had to translate); the list is printed for a human to judge.
WARNINGS_ARE_SOFT = True
# Disagreements found on this corpus that wait for a fix in zipmedic's reader rules (none now): each is
# (archive pattern, reader, reason). They are printed, not failed, so that every other archive
# keeps its guard; one that no longer happens is printed too, to be taken off this list.
KNOWN = []
# Reader ids in the report, as differential.py names the tools.
READER_IDS = {"unzip": "unzip", "7zip": "7z", "7z": "7z", "libarchive": "bsdtar", "bsdtar": "bsdtar",
              "python": "python", "go": "go", "java": "java"}


def groups(doc):
    """{"refuse"|"warn"|"lack": {reader}} over every finding of a verify --json document."""
    out = collections.defaultdict(set)
    for f in doc.get("findings", []):
        for group, readers in (f.get("readers") or {}).items():
            out[group] |= {READER_IDS.get(str(r).lower(), str(r).lower()) for r in readers}
    return out


def brief(doc):
    return [{k: f.get(k) for k in ("code", "severity", "entry", "readers", "message") if k in f}
            for f in (doc or {}).get("findings", [])]


class ValidCorpus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("zip", "7z", "bsdtar", "go", "javac", "java", "jar", "node", "npm", "unzip"):
            need(tool)
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="zipmedic-valid-corpus-")
        cls.out = os.path.join(cls.tmpdir.name, "corpus")
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, os.path.join(diff.SRC, "scripts", "make-valid-corpus"), cls.out],
                           capture_output=True, timeout=900, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise AssertionError("make-valid-corpus exit %d:\n%s" % (p.returncode, p.stderr.decode(errors="replace")))
        cls.made_in = time.monotonic() - t0
        with open(os.path.join(cls.out, "MANIFEST.tsv")) as f:
            cls.rows = list(csv.DictReader(f, delimiter="\t"))
        cls.docs = {}
        with concurrent.futures.ThreadPoolExecutor(JOBS) as ex:
            for row, res in zip(cls.rows, ex.map(lambda r: diff.zipmedic("verify", "--json", cls.path(r["file"])),
                                                  cls.rows)):
                cls.docs[row["file"]] = res

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.out, name)

    def test_the_corpus_has_enough_archives_and_writers(self):
        writers = collections.Counter(r["writer"] for r in self.rows)
        print("\nvalid corpus: %d archives from %d writers in %.0f s: %s" % (
            len(self.rows), len(writers), self.made_in, ", ".join("%s %d" % kv for kv in sorted(writers.items()))),
            file=sys.stderr)
        self.assertGreaterEqual(len(self.rows), MIN_ARCHIVES)
        self.assertGreaterEqual(len(writers), MIN_WRITERS)
        on_disk = {f for f in os.listdir(self.out) if f.endswith(".zip")}
        self.assertEqual(on_disk, {r["file"] for r in self.rows}, "MANIFEST.tsv and the folder differ")
        for w in ("infozip", "7zip", "bsdtar", "python", "go", "jar", "java", "zipstream-ng", "yazl", "archiver",
                  "adm-zip", "jszip", "winexplorer", "winzip", "winrar", "macos"):
            self.assertIn(w, writers)

    def test_every_archive_verifies_whole(self):
        failures = []
        for row in self.rows:
            p, doc = self.docs[row["file"]]
            if p is None or p.returncode != 0:
                failures.append("%s (%s): exit %s\n    %s" % (
                    row["file"], row["how"], "timeout" if p is None else p.returncode,
                    "\n    ".join(json.dumps(f, ensure_ascii=False) for f in brief(doc))
                    or (p.stderr.decode(errors="replace")[-300:] if p is not None else "")))
        self.assertEqual(failures, [], "\n%d of %d valid archives do not verify exit 0:\n%s" % (
            len(failures), len(self.rows), "\n".join(failures)))

    def test_the_readers_read_what_verify_checked(self):
        diff.build_readers()
        checked = [r for r in self.rows if self.docs[r["file"]][0] is not None
                   and self.docs[r["file"]][0].returncode == 0 and self.docs[r["file"]][1]]
        # Checked in two halves at once, one reader set each (the Go, Java and Python readers are
        # long-lived processes of their set).
        halves = [checked[0::2], checked[1::2]] if JOBS > 1 else [checked]
        with concurrent.futures.ThreadPoolExecutor(len(halves)) as ex:
            results = list(ex.map(self._check_rows, halves))
        failures = [f for fails, _ in results for f in fails]
        known = [f for f in failures if self.known(f)]
        failures = [f for f in failures if not self.known(f)]
        if known:
            print("\nknown reader disagreements (KNOWN, to be fixed in zipmedic's reader rules): %d\n%s" % (
                len(known), "\n".join("  " + k.split("\n")[0][:300] for k in known)), file=sys.stderr)
        stale = [k for k in KNOWN if not any(self.known(f, [k]) for f in known)]
        if stale:
            print("\nKNOWN entries that no longer happen (take them off): %s" % stale, file=sys.stderr)
        soft = [s for _, softs in results for s in softs]
        if soft:
            print("\nunzip or 7-Zip warned (exit 1) on %d archives whose report names it in no finding:\n%s" % (
                len(soft), "\n".join(soft)), file=sys.stderr)
        if not WARNINGS_ARE_SOFT:
            failures += soft
        self.assertGreaterEqual(len(checked), MIN_ARCHIVES)
        self.assertEqual(failures, [], "\n%d reader disagreements on valid archives:\n%s" % (
            len(failures), "\n".join(failures)))

    @staticmethod
    def known(failure, table=KNOWN):
        archive, _, rest = failure.partition(": ")
        reader = rest.split(" ", 1)[0].rstrip(":")
        return any(fnmatch.fnmatchcase(archive, pat) and reader == r for pat, r, _ in table)

    def _check_rows(self, rows):
        fails, soft = [], []
        work = tempfile.mkdtemp(dir=self.tmpdir.name)
        readers = diff.ReaderSet(work)
        try:
            for row in rows:
                f, s = self._check_one(readers, row)
                fails += f
                soft += s
        finally:
            readers.close()
        return fails, soft

    def _check_one(self, readers, row):
        name = row["file"]
        doc = self.docs[name][1]
        g = groups(doc)
        want = [(e["name"], e["uncompressed_size"], e["crc32"]) for e in doc["entries"]]
        results = readers.read(self.path(name))
        fails, soft = [], []
        for reader in diff.READERS:
            res = results[reader]
            if reader in g["lack"]:
                continue
            where = "%s: %s" % (name, reader)
            if not res["ok"]:
                fails.append("%s refuses: %s\n    findings: %s" % (where, res["error"], brief(doc)))
                continue
            missing, extra, decoded = diff.compare(reader, res["entries"], want)
            named = reader in g["warn"] | g["refuse"]
            if missing or extra:
                # A reader in `warn` may show other names (another charset, unzip's OEM
                # translation, which even maps some bytes to ASCII '+' and '_'): it must still
                # return every entry's bytes.
                same_bytes = sorted(w[1:] for w in want) == sorted(diff.reader_key(e, reader)[1:]
                                                                   for e in res["entries"])
                if not (named and same_bytes):
                    fails.append("%s: zipmedic has %s, the reader returned %s%s\n    findings: %s" % (
                        where, missing[:4], extra[:4], "" if same_bytes else " (other bytes)", brief(doc)))
            elif decoded and not named:
                fails.append("%s shows %s; no finding names it in warn" % (
                    where, ", ".join("%r as %r" % d for d in decoded[:3])))
            if res.get("warned") and reader not in g["warn"] | g["refuse"]:
                soft.append("  %s warned: %s" % (where, res["warned"][:240]))
        return fails, soft


if __name__ == "__main__":
    unittest.main()
