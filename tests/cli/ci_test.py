"""zipmedic in CI: the JSON report to a file (--report), GitHub's annotations (--format github),
JUnit XML (--junit), threads from the CPUs the process may use, --color, --version's libraries,
and the report's own facts (start time, mtime, counts, --sha256). ZIPMEDIC_UPDATE_GOLDEN=1 rewrites
the expected outputs under tests/cli/golden/."""
import datetime
import hashlib
import os
import re
import shutil
import ssl
import subprocess
import zlib

from zmtest import FIXTURES, SRC, ZIPMEDIC, TempDirTest, need, read, report, reports

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
UPDATE = os.environ.get("ZIPMEDIC_UPDATE_GOLDEN") == "1"
FIXTURE = "infozip-file.zip"
LOCKED = os.path.join("encrypted", "7zip-aes128.zip")


def env(**extra):
    e = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "ZIPMEDIC_KEY",
                                                         "ZIPMEDIC_PASSWORD")}
    e.update(extra)
    return e


def zm(*args, cwd=FIXTURES, extra_env=None, input=None, prefix=()):
    return subprocess.run([*prefix, ZIPMEDIC, *args], cwd=cwd, capture_output=True, timeout=300,
                          env=env(**(extra_env or {})), input=input,
                          stdin=None if input is not None else subprocess.DEVNULL)


class CiTest(TempDirTest):
    def cut(self):
        return self.write("cut.zip", read(FIXTURE)[:5000])

    def leftovers(self):
        return [n for n in os.listdir(self.tmp) if "zipmedic-tmp" in n]

    def golden(self, name, text):
        text = text.replace(self.tmp, "<tmp>")
        path = os.path.join(GOLDEN, name)
        if UPDATE:
            with open(path, "w") as f:
                f.write(text)
        with open(path) as f:
            self.assertEqual(text, f.read(), "%s drifted; ZIPMEDIC_UPDATE_GOLDEN=1 rewrites it" % name)


class ReportFile(CiTest):
    def test_json_to_the_file_and_the_text_to_stdout(self):
        out = os.path.join(self.tmp, "report.json")
        p = zm("verify", "--report", out, FIXTURE)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"verdict: ok", p.stdout)  # the log still shows the text
        with open(out, "rb") as f:
            doc = report(f.read())
        self.assertEqual(doc["verdict"], "ok")
        self.assertEqual(doc["archive"]["path"], FIXTURE)
        self.assertEqual(self.leftovers(), [])

    def test_several_archives_and_exit_3_still_write_it_whole(self):
        out = os.path.join(self.tmp, "report.json")
        with open(out, "w") as f:
            f.write("an older report\n")
        p = zm("verify", "--report", out, FIXTURE, self.cut(), os.path.join(self.tmp, "missing.zip"))
        self.assertEqual(p.returncode, 3)
        with open(out, "rb") as f:
            docs = reports(f.read())
        self.assertEqual([d.get("verdict") for d in docs], ["ok", "damaged", "unreadable", None])
        self.assertEqual(docs[3]["summary"]["exit_status"], 3)
        # No file: its size is null, not 0 (an empty file's is 0).
        self.assertIsNone(docs[2]["archive"]["size"])
        self.assertIsNone(docs[2]["archive"]["mtime"])
        self.assertEqual(docs[2]["findings"][0]["code"], "cannot_open")
        # One archive that cannot be read at all: exit 3, and the file holds its report.
        p = zm("scan", "--report", out, "MANIFEST.tsv")
        self.assertEqual(p.returncode, 3)
        with open(out, "rb") as f:
            self.assertEqual(report(f.read())["verdict"], "unreadable")
        empty = self.write("empty.zip", b"")
        zm("verify", "--report", out, empty)
        with open(out, "rb") as f:
            self.assertEqual(report(f.read())["archive"]["size"], 0)
        self.assertEqual(self.leftovers(), [])

    def test_with_json_both_get_the_same_lines(self):
        out = os.path.join(self.tmp, "r.json")
        p = zm("list", "--json", "--report", out, FIXTURE, self.cut())
        with open(out, "rb") as f:
            self.assertEqual(f.read(), p.stdout)

    def test_repair_and_restore_write_it(self):
        out = os.path.join(self.tmp, "r.json")
        p = zm("repair", self.cut(), "-o", os.path.join(self.tmp, "fixed.zip"), "--report", out)
        self.assertEqual(p.returncode, 1)
        with open(out, "rb") as f:
            self.assertEqual(report(f.read())["command"], "repair")
        p = zm("restore", FIXTURE, "-C", os.path.join(self.tmp, "r"), "--report", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, "rb") as f:
            self.assertEqual(report(f.read())["restore"]["outcome"], "restored")

    def test_a_refused_command_line_leaves_the_old_report(self):
        out = self.write("r.json", b"old\n")
        existing = self.write("exists.zip", b"x")
        p = zm("repair", self.cut(), "-o", existing, "--report", out)
        self.assertEqual(p.returncode, 2)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"old\n")
        self.assertEqual(self.leftovers(), [])

    def test_the_archive_is_never_the_report(self):
        archive = self.write("a.zip", read(FIXTURE))
        for option in ("--report", "--junit"):
            p = zm("verify", option, archive, archive)
            self.assertEqual(p.returncode, 2)
            self.assertIn(b"the input is never written", p.stderr)
            self.assertEqual(read(FIXTURE), open(archive, "rb").read())
        p = zm("verify", "--report", self.tmp, FIXTURE)
        self.assertEqual(p.returncode, 2)
        p = zm("verify", "--report", os.path.join(self.tmp, "no", "such", "dir", "r.json"), FIXTURE)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"cannot create", p.stderr)


class ReportFacts(CiTest):
    def test_start_time_mtime_size_counts_and_tool(self):
        before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        p = zm("verify", "--json", FIXTURE)
        after = datetime.datetime.now(datetime.timezone.utc)
        doc = report(p.stdout)
        started = datetime.datetime.fromisoformat(doc["started"].replace("Z", "+00:00"))
        self.assertTrue(before <= started <= after, (before, started, after))
        st = os.stat(os.path.join(FIXTURES, FIXTURE))
        self.assertEqual(doc["archive"]["size"], st.st_size)
        mtime = datetime.datetime.fromisoformat(doc["archive"]["mtime"].replace("Z", "+00:00"))
        self.assertEqual(int(mtime.timestamp()), int(st.st_mtime))
        self.assertEqual(doc["tool"]["version"], zm("--version").stdout.decode().split()[1])
        for severity, key in (("error", "errors"), ("warning", "warnings"), ("info", "notes")):
            self.assertEqual(doc["counts"][key], sum(f["severity"] == severity for f in doc["findings"]))
        self.assertEqual(doc["counts"]["warnings"], 1)  # this fixture has one (the man page's example)
        self.assertNotIn("sha256", doc["archive"])
        # A pipe has no file: no mtime, but the bytes it held.
        doc = report(zm("verify", "--json", "-", input=read(FIXTURE)).stdout)
        self.assertIsNone(doc["archive"]["mtime"])
        self.assertEqual(doc["archive"]["size"], len(read(FIXTURE)))

    def test_sha256_from_a_file_a_pipe_and_a_cut_file(self):
        cut = self.cut()
        for cmd in ("verify", "scan", "list"):
            for path, data in ((FIXTURE, read(FIXTURE)), (cut, read(FIXTURE)[:5000])):
                with self.subTest(cmd=cmd, path=path):
                    doc = report(zm(cmd, "--sha256", "--json", path).stdout)
                    self.assertEqual(doc["archive"]["sha256"], hashlib.sha256(data).hexdigest())
            doc = report(zm(cmd, "--sha256", "--json", "-", input=read(FIXTURE)).stdout)
            self.assertEqual(doc["archive"]["sha256"], hashlib.sha256(read(FIXTURE)).hexdigest())
        # A split set has none: its volumes are files of their own.
        need("zip")
        src = os.path.join(self.tmp, "src")
        os.makedirs(src)
        with open(os.path.join(src, "big.bin"), "wb") as f:
            f.write(os.urandom(200000))
        subprocess.run(["zip", "-q", "-0", "-s", "64k", "-r", os.path.join(self.tmp, "set.zip"), "."], cwd=src,
                       check=True)
        doc = report(zm("verify", "--sha256", "--json", os.path.join(self.tmp, "set.zip")).stdout)
        self.assertEqual(doc["verdict"], "ok")
        self.assertNotIn("sha256", doc["archive"])


class Threads(CiTest):
    def test_one_worker_under_taskset_c_0(self):
        # stats.threads says how many workers decoded the entries (the default: one per usable CPU).
        taskset = need("taskset")
        one = report(zm("verify", "--json", FIXTURE, prefix=(taskset, "-c", "0")).stdout)
        self.assertEqual(one["stats"]["threads"], 1)
        self.assertEqual(report(zm("scan", "--json", FIXTURE, prefix=(taskset, "-c", "0")).stdout)["stats"]["threads"], 1)
        allowed = len(os.sched_getaffinity(0))
        doc = report(zm("verify", "--json", FIXTURE).stdout)
        self.assertLessEqual(doc["stats"]["threads"], allowed)
        if allowed > 1:
            both = report(zm("verify", "--json", FIXTURE, prefix=(taskset, "-c", "0,1")).stdout)
            self.assertEqual(both["stats"]["threads"], 2)
        self.assertEqual(report(zm("verify", "--json", "-t", "3", FIXTURE,
                                   prefix=(taskset, "-c", "0")).stdout)["stats"]["threads"], 3)


class Colour(CiTest):
    ESC = b"\x1b["

    def test_color_option_and_environment(self):
        # stdout is a pipe here, as in a CI log: auto gives no colour unless FORCE_COLOR.
        self.assertNotIn(self.ESC, zm("verify", FIXTURE).stdout)
        self.assertIn(self.ESC, zm("verify", "--color=always", FIXTURE).stdout)
        self.assertIn(self.ESC, zm("verify", FIXTURE, extra_env={"FORCE_COLOR": "1"}).stdout)
        self.assertNotIn(self.ESC, zm("verify", FIXTURE, extra_env={"FORCE_COLOR": ""}).stdout)
        self.assertNotIn(self.ESC, zm("verify", "--color", "never", FIXTURE, extra_env={"FORCE_COLOR": "1"}).stdout)
        self.assertIn(self.ESC, zm("verify", "--color=always", FIXTURE, extra_env={"NO_COLOR": "1"}).stdout)
        self.assertEqual(zm("verify", "--color=sometimes", FIXTURE).returncode, 2)
        # JSON is never coloured.
        report(zm("verify", "--json", "--color=always", FIXTURE).stdout)


class Version(CiTest):
    def test_names_the_libraries_as_loaded(self):
        text = zm("--version").stdout.decode()
        lines = text.splitlines()
        self.assertRegex(lines[0], r"^zipmedic [0-9]+\.[0-9]+\.[0-9]+$")
        # Python's zlib and ssl modules load the same shared libraries from Debian.
        self.assertIn("zlib %s" % zlib.ZLIB_RUNTIME_VERSION, lines)
        self.assertIn(ssl.OPENSSL_VERSION, lines)
        self.assertRegex(text, r"(?m)^ISA-L libisal\.so\.[0-9.]+ \(built with [0-9.]+\)$")
        bsdtar = subprocess.run([need("bsdtar"), "--version"], capture_output=True, text=True).stdout
        libarchive = re.search(r"libarchive ([0-9.]+)", bsdtar).group(1)
        self.assertRegex(text, r"(?m)^libarchive %s( |$)" % re.escape(libarchive))
        for name in ("bzip2", "xz", "zstd"):
            self.assertRegex(text, r"(?m)^%s [0-9]" % name)
        # Debian's package version starts with libcurl's own ("7.88.1-10+deb12u8").
        curl = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libcurl4"], capture_output=True,
                              text=True, check=True).stdout
        loaded = re.search(r"(?m)^libcurl ([0-9.]+)$", text)
        self.assertTrue(loaded, text)
        self.assertTrue(curl.startswith(loaded.group(1) + "-"), (curl, loaded.group(1)))


class GithubFormat(CiTest):
    def test_golden_annotations(self):
        locked = os.path.join(FIXTURES, LOCKED)
        p = zm("verify", "--format", "github", FIXTURE, self.cut(), locked, "MANIFEST.tsv")
        self.assertEqual(p.returncode, 3)
        text = p.stdout.decode().replace(FIXTURES + "/", "")
        self.golden("github-many.txt", text)
        for line in text.splitlines():
            if line.startswith("::"):
                self.assertRegex(line, r"^::(error|warning) file=[^,:]+,title=[^,:]+::[^\r\n]+$")
        p = zm("verify", "--strict", "--format", "github", FIXTURE)
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stdout.startswith(b"::error file=infozip-file.zip,title=zipmedic verify name_charset_differs::"),
                        p.stdout)
        self.assertEqual(zm("verify", "--format", "github", "--json", FIXTURE).returncode, 2)

    def test_escaping_of_names_and_messages(self):
        # A file name with the characters a property may not hold, and a message from an entry
        # name with a percent sign.
        odd = self.write("a,b:c%d.zip", read(FIXTURE)[:5000])
        p = zm("verify", "--format", "github", odd)
        first = p.stdout.decode().splitlines()[0]
        self.assertTrue(first.startswith("::error file=%s/a%%2Cb%%3Ac%%25d.zip,title=" % self.tmp.replace(
            ":", "%3A").replace(",", "%2C")), first)


class JUnit(CiTest):
    XSD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "junit.xsd")

    def junit(self, *args):
        out = os.path.join(self.tmp, "junit.xml")
        p = zm(*args, "--junit", out)
        with open(out) as f:
            return p, f.read(), out

    def test_golden_and_valid(self):
        locked = os.path.join(FIXTURES, LOCKED)
        p, xml, path = self.junit("verify", FIXTURE, self.cut(), locked, "MANIFEST.tsv")
        self.assertEqual(p.returncode, 3)
        v = subprocess.run([need("xmllint"), "--noout", "--schema", self.XSD, path], capture_output=True, text=True)
        self.assertEqual(v.returncode, 0, v.stderr)
        text = re.sub(r'time="[0-9.]+"', 'time="T"', xml)
        text = re.sub(r'timestamp="[^"]+"', 'timestamp="S"', text).replace(FIXTURES + "/", "")
        self.golden("junit-many.xml", text)
        # One test case per archive; one failure per error finding of the damaged one.
        import xml.etree.ElementTree as ET
        root = ET.fromstring(xml)
        cases = root.findall("./testsuite/testcase")
        self.assertEqual(len(cases), 4)
        cut_doc = report(zm("verify", "--json", os.path.join(self.tmp, "cut.zip")).stdout)
        self.assertEqual(len(cases[1].findall("failure")), cut_doc["counts"]["errors"])
        self.assertEqual(cases[0].findall("failure"), [])
        self.assertEqual(len(cases[3].findall("error")), 1)
        self.assertEqual(root.get("tests"), "4")
        self.assertEqual(root.find("testsuite").get("failures"), "2")  # the damaged and the locked one
        self.assertEqual(root.find("testsuite").get("errors"), "1")

    def test_every_exit_path_writes_it(self):
        p, xml, path = self.junit("scan", "MANIFEST.tsv")
        self.assertEqual(p.returncode, 3)
        v = subprocess.run([need("xmllint"), "--noout", "--schema", self.XSD, path], capture_output=True, text=True)
        self.assertEqual(v.returncode, 0, v.stderr)
        self.assertIn("<error type=\"not_a_zip\"", xml)
        p, xml, path = self.junit("repair", self.cut(), "-o", os.path.join(self.tmp, "o.zip"))
        self.assertEqual(p.returncode, 1)
        self.assertIn('classname="zipmedic.repair"', xml)
        self.assertEqual(self.leftovers(), [])
