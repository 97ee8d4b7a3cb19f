"""When the machine fails: usage errors by kind, full disks, closed pipes, file-size limits,
signals, streams that are not `-`, and reads that fail or come back short."""
import glob
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from zmtest import ZIPMEDIC, fixture_path, run, run_json
from zmtest import report as zmtest_report

GOOD = fixture_path("infozip-file.zip")


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zm-failures-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def leftovers(self, where=None):
        """Anything zipmedic may leave: a temporary output, a spool, an output spool."""
        where = where or self.tmp
        return [p for p in os.listdir(where) if "zipmedic-" in p]

    def cut(self, name="cut.zip", keep=0.6):
        data = open(GOOD, "rb").read()
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data[:int(len(data) * keep)])
        return path


class UsageByKind(TempDirTest):
    """A usage error exits 2 whatever module finds it, with one line that says what to do."""

    def test_restore_into_a_file_is_a_usage_error_with_no_library_text(self):
        afile = os.path.join(self.tmp, "afile")
        open(afile, "w").close()
        p = run("restore", GOOD, "-C", afile)
        self.assertEqual(p.returncode, 2, p.stderr)
        err = p.stderr.decode()
        self.assertIn("afile: not a directory", err)
        self.assertNotIn("filesystem error", err)
        self.assertEqual(os.path.getsize(afile), 0)

    def test_restore_below_a_file_names_the_directory_and_the_reason(self):
        afile = os.path.join(self.tmp, "afile")
        open(afile, "w").close()
        p = run("restore", GOOD, "-C", os.path.join(afile, "sub"))
        self.assertEqual(p.returncode, 3, p.stderr)
        err = p.stderr.decode()
        self.assertIn("afile/sub: cannot create the directory: Not a directory", err)
        self.assertNotIn("filesystem error", err)

    def test_restore_into_dash_is_refused(self):
        cwd = os.getcwd()
        os.chdir(self.tmp)
        try:
            p = run("restore", GOOD, "-C", "-")
        finally:
            os.chdir(cwd)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"-C takes a directory", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "-")))

    def test_password_and_password_file_together_are_refused(self):
        pw = os.path.join(self.tmp, "pw")
        with open(pw, "w") as f:
            f.write("secret\n")
        p = run("verify", GOOD, "--password", "x", "--password-file", pw)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"--password and --password-file", p.stderr)

    def test_a_mistyped_option_gets_the_nearest_name(self):
        p = run("verify", "--jsno", GOOD)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"unknown option '--jsno'; did you mean '--json'?", p.stderr)
        p = run("restore", GOOD, "-C", self.tmp, "--partail")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"did you mean '--partial'?", p.stderr)
        p = run("repair", GOOD, "-o", os.path.join(self.tmp, "o.zip"), "--zzzzzzzz")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"unknown option '--zzzzzzzz'", p.stderr)
        self.assertNotIn(b"did you mean", p.stderr)

    def test_a_mistyped_command_gets_the_nearest_name(self):
        p = run("verfiy", GOOD)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"did you mean 'verify'?", p.stderr)

    def test_repair_usage_errors_exit_2_and_write_nothing(self):
        out = os.path.join(self.tmp, "no", "such", "dir", "o.zip")
        p = run("repair", GOOD, "-o", out)
        self.assertEqual(p.returncode, 2, p.stderr)
        p = run("repair", GOOD, "-o", self.tmp)
        self.assertEqual(p.returncode, 2, p.stderr)
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        p = run("repair", "--in-place", fifo)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(self.leftovers(), [])

    def test_cannot_open_is_3_with_its_code(self):
        p, doc = run_json("verify", os.path.join(self.tmp, "missing.zip"))
        self.assertEqual(p.returncode, 3)
        self.assertEqual(doc["verdict"], "unreadable")
        self.assertEqual(doc["findings"][0]["code"], "cannot_open")


def to_dev_full(*args):
    with open("/dev/full", "wb") as full:
        return subprocess.run([ZIPMEDIC, *args], stdout=full, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              timeout=120)


class FullDisksAndClosedPipes(TempDirTest):
    """Every write of a report is checked to the end: a full disk is exit 3 with the reason."""

    def test_reports_to_a_full_disk_exit_3_with_the_reason(self):
        for args in (["verify", "--json", GOOD], ["verify", GOOD], ["list", GOOD], ["list", "--json", GOOD],
                     ["scan", GOOD], ["verify", GOOD, GOOD], ["verify", "--help"]):
            p = to_dev_full(*args)
            self.assertEqual(p.returncode, 3, args)
            self.assertEqual(p.stderr.decode().count("No space left on device"), 1, (args, p.stderr))

    def test_a_damaged_archive_to_a_full_disk_is_3_not_1(self):
        p = to_dev_full("verify", self.cut())
        self.assertEqual(p.returncode, 3, p.stderr)

    def test_repair_to_a_full_stdout_leaves_no_spool(self):
        tmpdir = os.path.join(self.tmp, "t")
        os.mkdir(tmpdir)
        with open("/dev/full", "wb") as full:
            p = subprocess.run([ZIPMEDIC, "repair", self.cut(), "-o", "-"], stdout=full, stderr=subprocess.PIPE,
                               env=dict(os.environ, TMPDIR=tmpdir), timeout=120)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(b"No space left on device", p.stderr)
        self.assertEqual(os.listdir(tmpdir), [])

    def closed_pipe(self, *args):
        r, w = os.pipe()
        os.close(r)
        try:
            return subprocess.run([ZIPMEDIC, *args], stdout=w, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  timeout=120)
        finally:
            os.close(w)

    def test_a_closed_pipe_ends_the_run_quietly(self):
        # As `zipmedic verify a.zip | head -1` would, once head has gone: ended by SIGPIPE as cat
        # and grep are, and not a word on standard error.
        for args in (["verify", GOOD], ["list", GOOD], ["verify", "--json", GOOD]):
            p = self.closed_pipe(*args)
            self.assertEqual(p.returncode, -signal.SIGPIPE, (args, p.stderr))
            self.assertEqual(p.stderr, b"", args)

    def test_head_takes_one_line(self):
        p = subprocess.run("%s verify -v %s | head -1" % (ZIPMEDIC, GOOD), shell=True, capture_output=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stderr, b"")
        self.assertEqual(len(p.stdout.splitlines()), 1)


def limited(nbytes):
    def set_limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return set_limit


class FileSizeLimit(TempDirTest):
    """Under `ulimit -f`, EFBIG arrives as a write error: exit 3, a message, nothing left behind."""

    def test_repair_output_over_the_limit(self):
        cut = self.cut()
        out = os.path.join(self.tmp, "out.zip")
        p = subprocess.run([ZIPMEDIC, "repair", cut, "-o", out], capture_output=True, preexec_fn=limited(4096),
                           timeout=120)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(b"File too large", p.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertEqual(self.leftovers(), [])

    def test_the_spool_of_a_pipe_over_the_limit(self):
        cut = self.cut()
        out = os.path.join(self.tmp, "out.zip")
        with open(cut, "rb") as f:
            p = subprocess.run([ZIPMEDIC, "repair", "-", "-o", out], stdin=f, capture_output=True,
                               preexec_fn=limited(4096), timeout=120)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(b"File too large", p.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertEqual(self.leftovers(), [])

    def test_in_place_over_the_limit_keeps_the_original_length(self):
        cut = self.cut()
        before = open(cut, "rb").read()
        p = subprocess.run([ZIPMEDIC, "repair", "--in-place", cut], capture_output=True,
                           preexec_fn=limited(len(before) + 10), timeout=120)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(open(cut, "rb").read(), before)

    def restore_over_the_limit(self, directory, *flags):
        """A restore whose second file crosses the limit: the first one was written already."""
        import zipfile
        archive = os.path.join(self.tmp, "three.zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
            z.writestr("small.txt", b"first\n")
            z.writestr("a.bin", os.urandom(6000))
            z.writestr("b.bin", os.urandom(6000))
        return subprocess.run([ZIPMEDIC, "restore", *flags, archive, "-C", directory], capture_output=True,
                              preexec_fn=limited(4096), timeout=120)

    def test_a_restore_that_fails_part_way_restores_nothing_and_says_so(self):
        made = os.path.join(self.tmp, "made")
        p = self.restore_over_the_limit(made)
        self.assertEqual(p.returncode, 3, p.stderr)
        # One message: the file, the reason, and what is left (nothing).
        self.assertEqual(p.stdout, b"")
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertIn(b"writing 'a.bin' failed: File too large", p.stderr)
        self.assertIn(b"nothing was restored", p.stderr)
        self.assertFalse(os.path.exists(made))
        # Into a folder that was there: what it held stays, nothing is added, no staging folder.
        kept = os.path.join(self.tmp, "kept")
        os.mkdir(kept)
        with open(os.path.join(kept, "old"), "w") as f:
            f.write("old")
        p = self.restore_over_the_limit(kept, "--json")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(sorted(os.listdir(kept)), ["old"])
        report = zmtest_report(p.stdout)
        self.assertEqual(report["verdict"], "unreadable")
        self.assertEqual(report["restore"]["outcome"], "failed")
        self.assertEqual(report["restore"]["entries_restored"], 0)
        self.assertEqual(report["restore"]["entries_not_written"], 3)
        self.assertEqual([f["code"] for f in report["findings"]], ["io_failed"])
        self.assertIn("nothing was restored", report["findings"][0]["message"])


class Signals(TempDirTest):
    """SIGINT, SIGTERM and SIGHUP remove temporary files and spools, and put an in-place repair's
    archive back to its length."""

    def slow_input(self):
        # A pipe that stays open: the spool exists, and zipmedic waits for more.
        r, w = os.pipe()
        data = open(self.cut(), "rb").read()
        os.write(w, data[:len(data) // 2])
        return r, w

    def test_a_signal_during_the_spool_of_a_pipe(self):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            out = os.path.join(self.tmp, "out.zip")
            r, w = self.slow_input()
            proc = subprocess.Popen([ZIPMEDIC, "repair", "-", "-o", out], stdin=r, stderr=subprocess.PIPE)
            os.close(r)
            deadline = time.monotonic() + 30
            while not self.leftovers() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertTrue(self.leftovers(), "no spool appeared")
            proc.send_signal(sig)
            proc.wait(timeout=60)
            os.close(w)
            self.assertEqual(proc.returncode, -sig)
            self.assertEqual(self.leftovers(), [], sig)
            self.assertFalse(os.path.exists(out))

    def test_restore_of_a_pipe_leaves_no_spool(self):
        tmpdir = os.path.join(self.tmp, "t")
        os.mkdir(tmpdir)
        r, w = self.slow_input()
        proc = subprocess.Popen([ZIPMEDIC, "restore", "-", "-C", os.path.join(self.tmp, "dest")], stdin=r,
                                stderr=subprocess.PIPE, env=dict(os.environ, TMPDIR=tmpdir))
        os.close(r)
        deadline = time.monotonic() + 30
        while not os.listdir(tmpdir) and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        os.close(w)
        self.assertEqual(proc.returncode, -signal.SIGTERM)
        self.assertEqual(os.listdir(tmpdir), [])


class Streams(TempDirTest):
    """A FIFO, /dev/fd/N and a character device are read as `-` is, with the file's verdict."""

    def same_as_file(self, path, feed):
        want, wdoc = run_json("verify", feed)
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        writer = subprocess.Popen(["sh", "-c", 'cat "$1" > "$2"', "sh", feed, fifo])
        p, doc = run_json("verify", fifo)
        writer.wait(timeout=60)
        os.remove(fifo)
        self.assertEqual(p.returncode, want.returncode, p.stderr)
        self.assertEqual(doc["verdict"], wdoc["verdict"])
        self.assertEqual(sorted(f["code"] for f in doc["findings"]), sorted(f["code"] for f in wdoc["findings"]))

    def test_a_fifo_has_the_file_verdict(self):
        self.same_as_file(GOOD, GOOD)
        self.same_as_file(GOOD, self.cut())

    def test_process_substitution(self):
        bash = shutil.which("bash")
        for feed, code in ((GOOD, 0), (self.cut(), 1)):
            p = subprocess.run([bash, "-c", '"$1" verify <(cat "$2")', "bash", ZIPMEDIC, feed], capture_output=True,
                               timeout=120)
            self.assertEqual(p.returncode, code, p.stderr)
            self.assertNotIn(b"empty", p.stderr)
        p = subprocess.run([bash, "-c", '"$1" list <(cat "$2")', "bash", ZIPMEDIC, GOOD], capture_output=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = os.path.join(self.tmp, "o.zip")
        p = subprocess.run([bash, "-c", '"$1" repair <(cat "$2") -o "$3"', "bash", ZIPMEDIC, self.cut(), out],
                           capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(run("verify", out).returncode, 0)

    def test_a_character_device_is_an_empty_stream(self):
        p, doc = run_json("verify", "/dev/null")
        self.assertEqual(p.returncode, 3)
        self.assertEqual(doc["findings"][0]["code"], "empty_file")
        self.assertIn(b"stream is empty", p.stderr)



class FaultSweep(unittest.TestCase):
    """The short sweep: every command of the sweep, each kind of call failing at points spread over
    the run (scripts/fault-sweep runs every point with every failure)."""

    def test_each_failure_is_success_or_exit_3_and_leaves_nothing(self):
        import fault_sweep
        if not os.path.exists(fault_sweep.SHIM):
            self.fail("the fault shim is not built: %s" % fault_sweep.SHIM)
        tmp = tempfile.mkdtemp(prefix="zm-sweep-cut-")
        self.addCleanup(shutil.rmtree, tmp, True)
        with open(GOOD, "rb") as f:
            data = f.read()
        cut = os.path.join(tmp, "cut.zip")
        with open(cut, "wb") as f:
            f.write(data[:int(len(data) * 0.6)])
        points, problems = fault_sweep.sweep(fault_sweep.cases(GOOD, cut), fault_sweep.SHORT, limit=4)
        self.assertGreater(points, 100)
        self.assertEqual(problems, [])


class SmallTmpfs(TempDirTest):
    """A real full filesystem: a 16 KiB tmpfs, where mounting is allowed (root in a container or
    on a test machine); skipped, with the reason, where it is not."""

    def setUp(self):
        super().setUp()
        self.mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(self.mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", self.mnt], capture_output=True)
        if p.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: %s" % p.stderr.decode().strip())
        self.addCleanup(subprocess.run, ["umount", self.mnt])

    def test_repair_is_refused_with_the_numbers_before_writing(self):
        out = os.path.join(self.mnt, "out.zip")
        p = run("repair", self.cut(keep=0.9), "-o", out)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertRegex(p.stderr.decode(), r"out\.zip: not enough space: the repaired archive needs up to \d+ "
                                             r"bytes, \d+ are available")
        self.assertEqual(os.listdir(self.mnt), [])

    def test_a_report_onto_a_full_filesystem(self):
        with open(os.path.join(self.mnt, "filler"), "wb") as f:
            try:
                f.write(b"\0" * 64 * 1024)
            except OSError:
                pass
        with open(os.path.join(self.mnt, "report.json"), "wb") as out:
            p = subprocess.run([ZIPMEDIC, "verify", "--json", GOOD], stdout=out, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(b"No space left on device", p.stderr)


class ReadFailures(TempDirTest):
    """EIO or a short read in the middle of the archive is 'cannot read the archive at offset N',
    exit 3, never a verdict of damage."""

    def faulty(self, err, n, *args):
        import fault_sweep
        env = dict(os.environ, ZM_FAULT_OP="read", ZM_FAULT_N=str(n), ZM_FAULT_ERRNO=err, **fault_sweep.preload_env())
        return subprocess.run([ZIPMEDIC, *args], capture_output=True, env=env, timeout=120)

    def test_eio_and_a_short_read_are_cannot_read_not_damaged(self):
        # The first reads are not the archive's (the cgroup's CPU quota is read before it is
        # opened): the reads to fail are counted from a clean run and taken from its second half.
        count = os.path.join(self.tmp, "count")
        env = dict(os.environ, ZM_FAULT_OP="read", ZM_FAULT_N="0", ZM_FAULT_COUNT=count, **__import__("fault_sweep").preload_env())
        subprocess.run([ZIPMEDIC, "verify", "--json", "-t", "1", GOOD], capture_output=True, env=env, timeout=120, check=True)
        with open(count) as f:
            total = int(f.read())
        self.assertGreater(total, 4)
        for err in ("EIO", "SHORT"):
            for n in (total // 2 + 1, total - 1):
                p = self.faulty(err, n, "verify", "--json", "-t", "1", GOOD)
                self.assertEqual(p.returncode, 3, (err, n, p.stderr))
                doc = json.loads(p.stdout)
                self.assertEqual(doc["verdict"], "unreadable")
                self.assertEqual(doc["findings"][0]["code"], "io_failed")
                self.assertRegex(p.stderr.decode(), r"cannot read the archive at offset \d+")
