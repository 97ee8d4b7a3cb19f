"""scripts/package: the Debian package carries the tool, its man page and its papers, depends on the
runtime package of every library the binary loads, passes lintian, and works once unpacked.
Nothing is installed into the system: the package is unpacked with dpkg-deb -x into a temporary
folder."""
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import unittest

SRC = os.environ.get("ZIPMEDIC_SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# The Release tree is kept between runs (ctest puts it inside its own build folder), so that only
# the first run compiles.
BUILD = os.environ.get("ZIPMEDIC_PACKAGE_BUILD", os.path.join(SRC, "build-package"))
DOC = "usr/share/doc/zipmedic/"


def project_version():
    with open(os.path.join(SRC, "CMakeLists.txt")) as f:
        return re.search(r"project\(zipmedic VERSION ([0-9][0-9A-Za-z.+~]*)", f.read()).group(1)


def output(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120, **kw).stdout


def control_fields(info):
    """Fields of the control file as dpkg-deb --info shows them (indented by one space), a
    multi-line field's continuation lines joined with newlines."""
    fields, name = {}, None
    for line in info.splitlines():
        m = re.match(r"^ ([A-Za-z][A-Za-z0-9-]*): ?(.*)$", line)
        if m:
            name = m.group(1)
            fields[name] = m.group(2)
        elif name and line.startswith("  "):
            fields[name] += "\n" + line[2:]
    return fields


def expected_files():
    files = {"usr/bin/zipmedic", "usr/share/man/man1/zipmedic.1.gz", DOC + "README.md",
             DOC + "report.schema.json", DOC + "copyright", DOC + "changelog.gz"}
    # Issue 14's completions go in once they exist in the source tree.
    if os.path.exists(os.path.join(SRC, "completions", "zipmedic.bash")):
        files.add("usr/share/bash-completion/completions/zipmedic")
    if os.path.exists(os.path.join(SRC, "completions", "_zipmedic")):
        files.add("usr/share/zsh/vendor-completions/_zipmedic")
    return files


class DebianPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="zipmedic-package-")
        try:
            p = subprocess.run([os.path.join(SRC, "scripts", "package"), BUILD, os.path.join(cls.tmp, "out")],
                               capture_output=True, text=True, timeout=1500)
            if p.returncode != 0:
                raise AssertionError("scripts/package failed (%d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
            cls.deb = p.stdout.strip().splitlines()[-1]
            cls.root = os.path.join(cls.tmp, "root")
            output("dpkg-deb", "-x", cls.deb, cls.root)
            cls.fields = control_fields(output("dpkg-deb", "--info", cls.deb))
            cls.contents = output("dpkg-deb", "--contents", cls.deb)
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def unpacked(self, path):
        return os.path.join(self.root, path)

    def test_file_name_and_control_fields(self):
        version, arch = project_version(), output("dpkg", "--print-architecture").strip()
        self.assertEqual(os.path.basename(self.deb), "zipmedic_%s_%s.deb" % (version, arch))
        self.assertEqual(os.path.dirname(self.deb), os.path.join(self.tmp, "out"))
        f = self.fields
        self.assertEqual(f["Package"], "zipmedic")
        self.assertEqual(f["Version"], version)
        self.assertEqual(f["Architecture"], arch)
        self.assertEqual(f["Section"], "utils")
        self.assertEqual(f["Priority"], "optional")
        self.assertRegex(f["Maintainer"], r"^[^<>]+ <[^@<>\s]+@[^@<>\s]+\.[a-z]+>$")
        summary, *long = f["Description"].split("\n")
        self.assertIn("ZIP", summary)
        self.assertLess(len(summary), 80)
        self.assertGreaterEqual(len(long), 5, "the long description is missing")
        self.assertIn(".", long, "paragraphs of the long description are separated by ' .'")

    def test_depends_names_the_runtime_package_of_every_library_the_binary_loads(self):
        depends = {re.match(r"\s*([a-z0-9][a-z0-9.+-]*)", alt).group(1)
                   for item in self.fields["Depends"].split(",") for alt in item.split("|")}
        for name in ("libisal2", "libarchive13", "libssl3", "libbz2-1.0", "liblzma5", "libc6", "libstdc++6"):
            self.assertIn(name, depends)
        needed = re.findall(r"NEEDED\s+(\S+)", output("objdump", "-p", self.unpacked("usr/bin/zipmedic")))
        self.assertGreaterEqual(len(needed), 5)
        for soname in needed:
            # dpkg -S answers "libisal2:amd64: /usr/lib/x86_64-linux-gnu/libisal.so.2"
            owners = {line.split(":")[0] for line in output("dpkg", "-S", "*/" + soname).splitlines()}
            self.assertTrue(owners & depends, "%s (from %s) is not in Depends: %s" % (soname, owners, self.fields["Depends"]))
        # computed by dpkg-shlibdeps, which gives the version the build was linked against
        self.assertRegex(self.fields["Depends"], r"libisal2 \(>= [0-9]")

    def test_contents_are_the_tool_its_page_and_its_papers(self):
        files, modes = set(), {}
        for line in self.contents.splitlines():
            mode, owner, _size, _date, _time, path = line.split(None, 5)
            self.assertEqual(owner, "root/root", path)
            path = path[2:] if path.startswith("./") else path
            if mode.startswith("-"):
                files.add(path)
                modes[path] = mode
            elif mode.startswith("d"):
                self.assertEqual(mode, "drwxr-xr-x", path)
        self.assertEqual(files, expected_files())
        for path in files:
            self.assertEqual(modes[path], "-rwxr-xr-x" if path == "usr/bin/zipmedic" else "-rw-r--r--", path)
        for packaged, source in ((DOC + "README.md", "README.md"), (DOC + "report.schema.json", "docs/report.schema.json"),
                                 ("usr/share/bash-completion/completions/zipmedic", "completions/zipmedic.bash"),
                                 ("usr/share/zsh/vendor-completions/_zipmedic", "completions/_zipmedic")):
            if packaged in files:
                with open(self.unpacked(packaged), "rb") as a, open(os.path.join(SRC, source), "rb") as b:
                    self.assertEqual(a.read(), b.read(), packaged)

    def test_copyright_is_machine_readable_with_the_licence_text(self):
        with open(self.unpacked(DOC + "copyright")) as f:
            text = f.read()
        self.assertTrue(text.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"))
        self.assertRegex(text, r"(?m)^Files: \*\nCopyright: .+\nLicense: MIT$")
        with open(os.path.join(SRC, "LICENSE")) as f:
            licence = f.read()
        grant = licence[licence.index("Permission is hereby granted"):].split("\n\n")[0]
        self.assertIn("\n".join(" " + line for line in grant.split("\n")), text)

    def test_gzipped_page_and_changelog_carry_no_name_or_time_and_match_their_sources(self):
        for packaged, source in (("usr/share/man/man1/zipmedic.1.gz", "man/zipmedic.1"),
                                 (DOC + "changelog.gz", "packaging/changelog")):
            with open(self.unpacked(packaged), "rb") as f:
                head = f.read(10)
            # RFC 1952 section 2.3: FLG bit 3 is FNAME, bytes 4..7 MTIME; gzip -n leaves both out
            self.assertEqual(head[:3], b"\x1f\x8b\x08", packaged)
            self.assertEqual(head[3] & 0x08, 0, packaged + " carries a file name")
            self.assertEqual(head[4:8], b"\0\0\0\0", packaged + " carries a time stamp")
            self.assertEqual(head[8], 2, packaged + " is not compressed with -9")
            with gzip.open(self.unpacked(packaged), "rb") as a, open(os.path.join(SRC, source), "rb") as b:
                self.assertEqual(a.read(), b.read(), packaged)
        with gzip.open(self.unpacked(DOC + "changelog.gz"), "rt") as f:
            top = f.readline()
        self.assertTrue(top.startswith("zipmedic (%s) " % project_version()),
                        "packaging/changelog's top entry is not for the project version: add one: " + top)

    def test_unpacked_binary_prints_the_version_and_verifies(self):
        exe = self.unpacked("usr/bin/zipmedic")
        p = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout.splitlines()[0], "zipmedic %s" % project_version())
        self.assertIn("ISA-L libisal.so.", p.stdout)  # the libraries as loaded (--version)
        whole = os.path.join(SRC, "fixtures", "infozip-file.zip")
        p = subprocess.run([exe, "verify", whole], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(whole, "rb") as f:
            data = f.read()
        cut = os.path.join(self.tmp, "cut.zip")
        with open(cut, "wb") as f:
            f.write(data[: len(data) // 2])
        p = subprocess.run([exe, "verify", cut], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("entry_truncated", p.stdout)
        # Release build with Debian's hardening flags, stripped by CPack
        self.assertRegex(output("readelf", "-d", exe), r"\(FLAGS_1\)\s+Flags: NOW PIE")
        self.assertNotIn(".symtab", output("readelf", "-S", exe))

    def test_man_renders_the_packaged_page_without_warnings(self):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        p = subprocess.run(["man", "-l", self.unpacked("usr/share/man/man1/zipmedic.1.gz")],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        self.assertRegex(p.stdout, r"(?m)^NAME\n\s+zipmedic ")
        self.assertRegex(p.stdout, r"(?m)^EXIT STATUS$")

    def test_lintian_finds_no_errors(self):
        # scripts/setup installs lintian from Debian: without it the package goes unchecked, a failure.
        self.assertIsNotNone(shutil.which("lintian"), "lintian is not installed; run scripts/setup")
        p = subprocess.run(["lintian", "--allow-root", "--display-info", self.deb],
                           capture_output=True, text=True, timeout=300)
        errors = [line for line in p.stdout.splitlines() if line.startswith("E:")]
        self.assertEqual(errors, [], p.stdout + p.stderr)
        self.assertNotIn("internal error", p.stderr.lower())


if __name__ == "__main__":
    unittest.main()
