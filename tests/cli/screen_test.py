"""What an admin at a terminal reads (issue 14): the text screens against expected-output files,
the command line's words, several archives a run, list, restore by pattern, colour and progress
on a terminal. ZIPMEDIC_UPDATE_GOLDEN=1 rewrites the files under tests/cli/golden/ from the binary."""
import json
import os
import pty
import re
import select
import shutil
import subprocess
import tempfile
import unittest
import zipfile

import jsonschema

from zmtest import FIXTURES, SRC, ZIPMEDIC, TempDirTest, Layout, fixture_path, name_of, need, read, report, reports

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
UPDATE = os.environ.get("ZIPMEDIC_UPDATE_GOLDEN") == "1"
SCHEMA = json.load(open(os.path.join(SRC, "docs", "report.schema.json")))
FIXTURE = "infozip-file.zip"


def plain_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "ZIPMEDIC_KEY", "ZIPMEDIC_PASSWORD")}
    env.update(extra)
    return env


def zm(*args, cwd=FIXTURES, env=None, input=None):
    return subprocess.run([ZIPMEDIC, *args], cwd=cwd, capture_output=True, timeout=300,
                          env=env or plain_env(), input=input, stdin=None if input is not None else subprocess.DEVNULL)


def on_pty(args, env, cwd=FIXTURES):
    """Runs zipmedic with stdout and stderr on one pseudo-terminal; returns (what it drew, status)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.execve(ZIPMEDIC, [ZIPMEDIC, *args], env)
    seen = b""
    while True:
        r, _, _ = select.select([fd], [], [], 300)
        if not r:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    return seen, os.waitstatus_to_exitcode(status)


class Golden(TempDirTest):
    """Each screen is kept as a file: the command, its stdout, its stderr and its status, with the
    temporary directory written <tmp> (nothing else varies: sizes and names are the fixtures')."""

    def screen(self, name, *args, env=None):
        p = zm(*args, env=env)
        text = "$ zipmedic %s\n%s[stderr]\n%s[exit %d]\n" % (
            " ".join(args), p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), p.returncode)
        text = text.replace(self.tmp, "<tmp>")
        path = os.path.join(GOLDEN, name + ".txt")
        if UPDATE:
            with open(path, "w") as f:
                f.write(text)
        with open(path) as f:
            self.assertEqual(text, f.read(), "%s drifted; ZIPMEDIC_UPDATE_GOLDEN=1 rewrites it" % name)
        return p

    def cut(self, n=5000):
        return self.write("cut.zip", read(FIXTURE)[:n])

    def test_verify_ok(self):
        # 7-Zip's copy of the tree: its names carry bit 11, so no reader shows them otherwise
        self.screen("verify-ok", "verify", "7zip-deflate.zip")

    def test_verify_cut(self):
        self.screen("verify-cut", "verify", self.cut())

    def test_verify_many(self):
        self.screen("verify-many", "verify", FIXTURE, "7zip-deflate.zip", self.cut(), "MANIFEST.tsv")

    def test_scan_cut(self):
        self.screen("scan-cut", "scan", self.cut())

    def test_list(self):
        self.screen("list", "list", FIXTURE)

    def test_list_cut_walks(self):
        self.screen("list-cut", "list", self.cut())

    def test_repair_cut(self):
        self.screen("repair-cut", "repair", self.cut(), "-o", os.path.join(self.tmp, "out.zip"))

    def test_restore_pattern(self):
        self.screen("restore-pattern", "restore", "7zip-deflate.zip", "-C", os.path.join(self.tmp, "r"), "backup/data",
                    "--exclude", "b.bin")

    def test_help(self):
        self.screen("help", "--help")

    def test_unknown_command(self):
        self.screen("unknown-command", "verfy", FIXTURE)


class CommandLine(unittest.TestCase):
    def test_unknown_command_is_named_with_a_guess(self):
        for typed, meant in (("verfy", "verify"), ("lsit", "list"), ("restor", "restore"), ("sacn", "scan")):
            p = zm(typed, FIXTURE)
            self.assertEqual(p.returncode, 2)
            self.assertEqual(p.stderr.decode(), "zipmedic: unknown command '%s'; did you mean '%s'?\n" % (typed, meant))
        p = zm("frobnicate", FIXTURE)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown command 'frobnicate'; the commands are verify, scan, list", p.stderr.decode())

    def test_t_and_test_are_verify_and_l_is_list(self):
        want = zm("verify", "--json", FIXTURE)
        for alias in ("t", "test"):
            p = zm(alias, "--json", FIXTURE)
            self.assertEqual(p.returncode, 0)
            self.assertEqual(report(p.stdout)["entries"], report(want.stdout)["entries"])
        p = zm("l", "--json", FIXTURE)
        self.assertEqual(report(p.stdout)["command"], "list")

    def test_help_as_a_command(self):
        self.assertEqual(zm("help").stdout, zm("--help").stdout)
        self.assertEqual(zm("help", "restore").stdout, zm("restore", "--help").stdout)

    def test_global_options_before_or_after_the_command(self):
        for args in (("-q", "verify", FIXTURE), ("verify", "-q", FIXTURE), ("verify", FIXTURE, "-q"),
                     ("--threads", "2", "-q", "t", FIXTURE), ("-t2", "-q", "verify", FIXTURE),
                     ("--threads=2", "--quiet", "verify", FIXTURE)):
            p = zm(*args)
            self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"", b""), args)
        p = zm("--json", "-v", "list", FIXTURE)
        self.assertEqual(report(p.stdout)["command"], "list")
        p = zm("--key-file", "/nonexistent/key", "verify", FIXTURE)
        self.assertEqual(p.returncode, 2)
        self.assertIn("/nonexistent/key", p.stderr.decode())

    def test_every_message_begins_with_zipmedic(self):
        runs = [(), ("verify",), ("verify", "--threads", "0", FIXTURE), ("verify", "--frob", FIXTURE),
                ("repair", FIXTURE), ("restore", FIXTURE), ("list", "nonexistent.zip"), ("verfy",),
                ("verify", "-", FIXTURE), ("scan", "MANIFEST.tsv")]
        for args in runs:
            p = zm(*args)
            self.assertNotEqual(p.returncode, 0, args)
            lines = p.stderr.decode().splitlines()
            self.assertTrue(lines, args)
            for line in lines:
                self.assertTrue(line.startswith("zipmedic: "), (args, line))

    def test_usage_says_zipmedic_and_numbers_are_N(self):
        for cmd in ("verify", "scan", "list", "repair", "restore"):
            text = zm(cmd, "--help").stdout.decode()
            self.assertIn("Usage: zipmedic %s " % cmd, text)
            self.assertNotIn(os.path.dirname(ZIPMEDIC), text)
            self.assertRegex(text, r"-t,--threads N\s")
            self.assertNotIn("UINT", text)
            self.assertNotIn("INT in", text)

    def test_help_gives_exit_statuses_examples_and_stdin(self):
        for args in (("--help",), ("verify", "--help"), ("restore", "--help")):
            text = zm(*args).stdout.decode()
            for status in range(4):
                self.assertRegex(text, r"(?m)^  %d: \w" % status)
            self.assertGreaterEqual(len(re.findall(r"(?m)^  zipmedic \w+ ", text)), 2)
            self.assertIn("- to read standard input", text)

    def test_key_on_a_plain_zip_gets_a_note(self):
        p = zm("verify", "--key", "00" * 32, FIXTURE)
        self.assertEqual(p.returncode, 0)
        self.assertIn("zipmedic: note: %s is a plain ZIP" % FIXTURE, p.stderr.decode())
        self.assertIn("--key is for SysReptor .zip.crypt backups, and ZIP passwords take --password", p.stderr.decode())
        # From the environment it may be set for every run: no note then.
        self.assertEqual(zm("verify", FIXTURE, env=plain_env(ZIPMEDIC_KEY="00" * 32)).stderr, b"")


class List(TempDirTest):
    def test_reads_only_the_directory(self):
        # A flipped byte inside an entry's data: verify finds it, list (which decodes nothing) does not.
        data = bytearray(read(FIXTURE))
        lay = Layout(bytes(data))
        k = [i for i, info in enumerate(lay.infos) if info.filename.endswith("records.jsonl")][0]
        data[lay.data_offset(k) + 100] ^= 0xFF
        path = self.write("flipped.zip", bytes(data))
        self.assertEqual(zm("verify", "-q", path).returncode, 1)
        p = zm("list", "--json", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = report(p.stdout)
        jsonschema.validate(doc, SCHEMA)
        self.assertEqual(doc["list"]["source"], "directory")
        self.assertEqual({e["status"] for e in doc["entries"]}, {"unchecked"})
        with zipfile.ZipFile(fixture_path(FIXTURE)) as z:
            infos = z.infolist()
            self.assertEqual([e["uncompressed_size"] for e in doc["entries"]], [i.file_size for i in infos])
            self.assertEqual([e["compressed_size"] for e in doc["entries"]], [i.compress_size for i in infos])
            self.assertEqual(doc["list"]["modified"][2], "%04d-%02d-%02d %02d:%02d" % infos[2].date_time[:5])
        self.assertEqual(doc["stats"]["uncompressed_bytes"], sum(i.file_size for i in infos))

    def test_without_a_directory_it_walks(self):
        path = self.write("cut.zip", read(FIXTURE)[:5000])
        p = zm("list", "--json", path)
        self.assertEqual(p.returncode, 1)
        doc = report(p.stdout)
        jsonschema.validate(doc, SCHEMA)
        self.assertEqual(doc["list"]["source"], "walk")
        self.assertIn("eocd_missing", {f["code"] for f in doc["findings"]})
        self.assertEqual(doc["entries"][0]["name"], "backup/")

    def test_from_standard_input(self):
        p = zm("list", "--json", "-", input=read(FIXTURE))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(report(p.stdout)["entries"]), 10)

    def test_an_empty_archive_lists_nothing_and_is_whole(self):
        path = os.path.join(self.tmp, "empty.zip")
        zipfile.ZipFile(path, "w").close()
        p = zm("list", "--json", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = report(p.stdout)
        self.assertEqual((doc["entries"], doc["list"]["source"]), ([], "directory"))

    def test_not_a_zip(self):
        p = zm("list", "MANIFEST.tsv")
        self.assertEqual(p.returncode, 3)
        self.assertIn("not a ZIP archive", p.stderr.decode())


class SeveralArchives(TempDirTest):
    def test_one_line_each_a_tally_and_the_worst_status(self):
        cut = self.write("cut.zip", read(FIXTURE)[:5000])
        p = zm("verify", FIXTURE, cut)
        self.assertEqual(p.returncode, 1)
        lines = p.stdout.decode().splitlines()
        self.assertEqual(len(lines), 3)
        self.assertTrue(lines[0].startswith("ok ") and FIXTURE in lines[0], lines[0])
        self.assertTrue(lines[1].startswith("damaged ") and cut in lines[1], lines[1])
        self.assertEqual(lines[2], "2 archives: 1 ok, 1 damaged")
        p = zm("scan", FIXTURE, cut, "MANIFEST.tsv")
        self.assertEqual(p.returncode, 3)
        self.assertTrue(p.stdout.decode().splitlines()[-1].endswith("1 ok, 1 damaged, 1 unreadable"))
        self.assertEqual(zm("verify", FIXTURE, "7zip-deflate.zip").returncode, 0)

    def test_json_lines(self):
        cut = self.write("cut.zip", read(FIXTURE)[:5000])
        for cmd in ("verify", "scan", "list"):
            p = zm(cmd, "--json", FIXTURE, cut, "nonexistent.zip")
            self.assertEqual(p.returncode, 3)
            docs = reports(p.stdout)  # each line validated against the schema
            self.assertEqual(len(docs), 4, cmd)
            for d in docs:
                self.assertEqual(d["command"], cmd)
            self.assertEqual([d["verdict"] for d in docs[:3]], ["ok", "damaged", "unreadable"])
            self.assertEqual(docs[0]["archive"]["path"], FIXTURE)
            # The last line is the tally, counted from the lines' verdicts, and the exit status.
            self.assertEqual(docs[3]["summary"], {"archives": 3, "exit_status": 3, "verdicts": {
                "ok": 1, "damaged": 1, "locked": 0, "unreadable": 1}})
            # One archive gives the same one-line shape, without a summary.
            one = zm(cmd, "--json", FIXTURE)
            self.assertEqual(one.stdout.count(b"\n"), 1)
            self.assertEqual(docs[0]["entries"], report(one.stdout)["entries"])

    def test_locked_is_counted_as_locked(self):
        locked = os.path.join(FIXTURES, "encrypted", "7zip-aes128.zip")
        p = zm("verify", FIXTURE, locked)
        self.assertEqual(p.returncode, 3)
        lines = p.stdout.decode().splitlines()
        self.assertTrue(lines[1].startswith("locked ") and locked in lines[1], lines[1])
        self.assertEqual(lines[-1], "2 archives: 1 ok, 1 locked")
        docs = reports(zm("verify", "--json", FIXTURE, locked).stdout)
        self.assertEqual(docs[1]["verdict"], "locked")
        self.assertEqual(docs[2]["summary"]["verdicts"], {"ok": 1, "damaged": 0, "locked": 1, "unreadable": 0})

    def test_stdin_only_alone(self):
        p = zm("verify", "-", FIXTURE)
        self.assertEqual(p.returncode, 2)


class RestoreByPattern(TempDirTest):
    def files(self, d):
        out = set()
        for root, dirs, names in os.walk(d):
            for n in names:
                out.add(os.path.relpath(os.path.join(root, n), d))
        return out

    def test_globs_do_not_cross_slash_and_directories_take_their_contents(self):
        cases = [(("backup/*.md",), (), {"backup/Bericht-übersicht.md"}),
                 (("*.md",), (), None),  # * does not cross /: nothing matches
                 (("backup/data",), (), {"backup/data/a.bin", "backup/data/b.bin", "backup/data/signatures.bin"}),
                 (("backup/data/?.bin", "./backup/VERSION"), (), {"backup/data/a.bin", "backup/data/b.bin",
                                                                   "backup/VERSION"}),
                 (("backup/data/",), ("b.bin", "*/data/sig*"), {"backup/data/a.bin"})]
        for i, (patterns, excludes, want) in enumerate(cases):
            d = os.path.join(self.tmp, "r%d" % i)
            args = ["restore", FIXTURE, "-C", d, *patterns]
            for x in excludes:
                args += ["--exclude", x]
            p = zm(*args, "--json")
            with self.subTest(patterns=patterns, excludes=excludes):
                if want is None:
                    self.assertEqual(p.returncode, 1)
                    self.assertIn("no entry matches '*.md'", p.stderr.decode())
                    self.assertFalse(os.path.exists(d))
                    continue
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(self.files(d), want)
                doc = report(p.stdout)
                jsonschema.validate(doc, SCHEMA)
                self.assertEqual(doc["restore"]["entries_not_selected"] + doc["restore"]["entries_restored"], 10)
                with zipfile.ZipFile(fixture_path(FIXTURE)) as z:
                    for info in z.infolist():
                        if name_of(info) in want:
                            with open(os.path.join(d, name_of(info)), "rb") as f:
                                self.assertEqual(f.read(), z.read(info))

    def test_exclude_alone(self):
        d = os.path.join(self.tmp, "r")
        p = zm("restore", FIXTURE, "-C", d, "--exclude", "backup/data", "--exclude", "*.jsonl")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.files(d), {"backup/empty.txt", "backup/Bericht-übersicht.md", "backup/VERSION"})

    def test_data_outside_the_patterns_is_not_read_but_the_structure_is_checked_in_full(self):
        # The issue on remote archives asks restore PATTERN to read only the directory and what it
        # restores; what it restores is decoded and checked, the structure of every entry too.
        data = bytearray(read(FIXTURE))
        lay = Layout(bytes(data))
        k = [i for i, info in enumerate(lay.infos) if info.filename.endswith("records.jsonl")][0]
        flipped = bytearray(data)
        flipped[lay.data_offset(k) + 100] ^= 0xFF
        path = self.write("flipped.zip", bytes(flipped))
        d = os.path.join(self.tmp, "r")
        p = zm("restore", path, "-C", d, "backup/VERSION", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.files(d), {"backup/VERSION"})
        doc = report(p.stdout)
        rows = {e["name"]: e["status"] for e in doc["entries"]}
        self.assertEqual(rows["backup/records.jsonl"], "unchecked")
        self.assertEqual(rows["backup/VERSION"], "ok")
        # the damaged entry itself is refused, and --partial restores what else was asked
        d2 = os.path.join(self.tmp, "r2")
        p = zm("restore", path, "-C", d2, "backup/records.jsonl")
        self.assertEqual(p.returncode, 1)
        self.assertIn("refused: verify found 1 error,", p.stderr.decode())
        self.assertFalse(os.path.exists(d2))
        p = zm("restore", path, "-C", d2, "backup/records.jsonl", "backup/VERSION", "--partial")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(self.files(d2), {"backup/VERSION"})
        self.assertIn("restored 1 entry into", p.stderr.decode())
        # a local header that disagrees with the directory is found even outside the patterns
        renamed = bytearray(data)
        name_at = lay.infos[k].header_offset + 30
        renamed[name_at] = ord("X")
        path = self.write("renamed.zip", bytes(renamed))
        d3 = os.path.join(self.tmp, "r3")
        p = zm("restore", path, "-C", d3, "backup/VERSION")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("refused: verify found", p.stderr.decode())
        self.assertFalse(os.path.exists(d3))


def big_zip(path, size=320 << 20):
    """One deflated entry of zeros: seconds to decode on a slow core, a fraction on a fast one."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("zeros.bin", "w") as f:
            block = bytes(1 << 20)
            for _ in range(size >> 20):
                f.write(block)


class Terminal(TempDirTest):
    def test_colour_only_on_a_terminal_and_never_under_no_color(self):
        cut = self.write("cut.zip", read(FIXTURE)[:5000])
        seen, status = on_pty(["verify", FIXTURE, cut], plain_env(TERM="xterm"))
        self.assertEqual(status, 1)
        self.assertIn(b"\x1b[32mok\x1b[0m", seen)
        self.assertIn(b"\x1b[1;31mdamaged\x1b[0m", seen)
        seen, _ = on_pty(["verify", cut], plain_env(TERM="xterm"))
        self.assertIn(b"\x1b[1;31merror\x1b[0m: eocd_missing", seen)
        for env in (plain_env(TERM="xterm", NO_COLOR="1"), plain_env(TERM="dumb")):
            seen, _ = on_pty(["verify", FIXTURE, cut], env)
            self.assertNotIn(b"\x1b[", seen)
            self.assertIn(b"ok ", seen)
        self.assertNotIn(b"\x1b[", zm("verify", FIXTURE, cut, env=plain_env(TERM="xterm")).stdout)

    def test_progress_names_its_phase_and_dumb_terminals_get_only_carriage_returns(self):
        path = os.path.join(self.tmp, "big.zip")
        big_zip(path)
        env = plain_env(TERM="xterm", ZIPMEDIC_PROGRESS_AFTER="0")
        seen, status = on_pty(["verify", "-t", "1", path], env)
        self.assertEqual(status, 0)
        self.assertIn(b"\r\x1b[Kdecoding ", seen)
        seen, status = on_pty(["verify", "-t", "1", path], dict(env, TERM="dumb"))
        self.assertEqual(status, 0)
        self.assertIn(b"\rdecoding ", seen)
        self.assertNotIn(b"\x1b", seen)
        # A repair shows each phase: the walk reads, then the copy is written and proved.
        with zipfile.ZipFile(path) as z:
            directory = z.start_dir
        with open(path, "r+b") as f:
            f.truncate(directory)
        seen, status = on_pty(["repair", "-t", "1", path, "-o", os.path.join(self.tmp, "out.zip")],
                              dict(env, TERM="dumb"))
        self.assertEqual(status, 0, seen[-300:])
        self.assertIn(b"\rreading ", seen)
        # A zero threshold draws every phase at its start, however quick: reading, then writing,
        # then proving.
        self.assertIn(b"\rwriting ", seen)
        self.assertIn(b"\rproving ", seen)
        self.assertLess(seen.index(b"\rreading "), seen.index(b"\rwriting "))
        self.assertLess(seen.index(b"\rwriting "), seen.index(b"\rproving "))
        self.assertNotIn(b"\x1b", seen)


class Completion(TempDirTest):
    def complete(self, line):
        """What bash completion offers for `line` (the cursor at its end)."""
        script = ("source /usr/share/bash-completion/bash_completion\nsource %s\n"
                  "COMP_LINE=%s; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<< \"$COMP_LINE\"\n"
                  "[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')\n"
                  "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _zipmedic zipmedic\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n"
                  % (os.path.join(SRC, "completions", "zipmedic.bash"), "'%s'" % line))
        p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=FIXTURES)
        self.assertEqual(p.returncode, 0, p.stderr)
        return set(p.stdout.split())

    def test_bash_offers_commands_options_and_archives(self):
        self.assertEqual(self.complete("zipmedic "), {"verify", "scan", "list", "repair", "restore", "cat", "fetch", "help"})
        self.assertEqual(self.complete("zipmedic re"), {"repair", "restore"})
        self.assertIn("--in-place", self.complete("zipmedic repair --"))
        self.assertIn("--exclude", self.complete("zipmedic -q restore x.zip --"))
        self.assertIn(FIXTURE, self.complete("zipmedic verify "))
        self.assertNotIn("MANIFEST.tsv", self.complete("zipmedic verify "))
        self.assertEqual(self.complete("zipmedic verify --profile "), {"sysreptor"})

    def test_every_option_of_help_is_completed_in_bash_and_zsh(self):
        bash = open(os.path.join(SRC, "completions", "zipmedic.bash")).read()
        zsh = open(os.path.join(SRC, "completions", "_zipmedic")).read()
        for cmd in ("verify", "scan", "list", "repair", "restore", "fetch"):
            self.assertIn(cmd, bash)
            self.assertIn("'%s:" % cmd, zsh)
            for flag in set(re.findall(r"(?<![\w-])(--?[a-zA-Z][a-z0-9-]*)", zm(cmd, "--help").stdout.decode())):
                if flag in ("-h", "--help"):
                    continue
                self.assertRegex(bash, r"(?<![\w-])%s(?![\w-])" % re.escape(flag), "%s %s (bash)" % (cmd, flag))
                self.assertRegex(zsh, r"(?<![\w-])%s(?![\w-])" % re.escape(flag), "%s %s (zsh)" % (cmd, flag))

    def test_zsh_loads_it(self):
        need("zsh")
        # compdef files are functions: zsh must parse it and compinit must bind it to zipmedic.
        fpath = os.path.join(self.tmp, "fpath")
        os.mkdir(fpath)
        shutil.copy(os.path.join(SRC, "completions", "_zipmedic"), fpath)
        p = subprocess.run(["zsh", "-f", "-c", "fpath=(%s $fpath); autoload -U compinit; compinit -u -d %s/dump; "
                            "print -r -- ${_comps[zipmedic]}" % (fpath, self.tmp)], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "_zipmedic")
        self.assertEqual(subprocess.run(["zsh", "-n", os.path.join(fpath, "_zipmedic")]).returncode, 0)

    def test_cmake_install_puts_both_in_place(self):
        build = os.path.dirname(ZIPMEDIC)
        with tempfile.TemporaryDirectory() as prefix:
            p = subprocess.run(["cmake", "--install", build, "--prefix", prefix], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            bash = os.path.join(prefix, "share", "bash-completion", "completions", "zipmedic")
            zsh = os.path.join(prefix, "share", "zsh", "vendor-completions", "_zipmedic")
            self.assertEqual(open(bash).read(), open(os.path.join(SRC, "completions", "zipmedic.bash")).read())
            self.assertEqual(open(zsh).read(), open(os.path.join(SRC, "completions", "_zipmedic")).read())


if __name__ == "__main__":
    unittest.main()
