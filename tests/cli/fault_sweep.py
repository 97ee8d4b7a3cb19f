"""The fault sweep: each command run once per system call of a kind, with that one call failing
(tests/faults/fault_shim.c, preloaded). Every run must either succeed with the output a run
without faults gives, or fail with exit 3 and a message; either way no temporary file is left and
the input is unchanged (but for `repair --in-place`, whose input is its output: the original bytes
unchanged, and either the old length or a whole repair). Used by failures_test.py (a short sweep)
and scripts/fault-sweep (every point)."""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

from zmtest import ZIPMEDIC

SHIM = os.environ.get("ZIPMEDIC_FAULT_SHIM", os.path.join(os.path.dirname(ZIPMEDIC), "libzm_fault_shim.so"))
ERRNOS = ("ENOSPC", "EIO", "EINTR", "SHORT")
OPS = ("read", "write", "fsync", "close")


def preload_env():
    """LD_PRELOAD of the shim; a sanitizer build must be told that its runtime need not come first."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    return {"LD_PRELOAD": SHIM, "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def stable(out, work):
    """A report without what differs from run to run: the run's folder, timings, the start time,
    the copied input's mtime, the free bytes and inodes of a filesystem others write to."""
    out = out.replace(work, "WORK")
    try:
        doc = json.loads(out)
    except ValueError:
        return out

    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items()
                    if "seconds" not in k and "per_second" not in k and k not in ("bytes_available", "inodes_available", "started", "mtime")}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    return json.dumps(strip(doc), sort_keys=True)


class Case:
    """One command over a copy of `archive` in a fresh folder: `args` with {in}, {out}, {dir}."""

    def __init__(self, name, archive, args, stdin=False):
        self.name, self.archive, self.args, self.stdin = name, archive, args, stdin

    def run(self, op=None, n=0, err="EIO", count_file=None):
        work = tempfile.mkdtemp(prefix="zm-sweep-")
        try:
            src = os.path.join(work, "in.zip")
            shutil.copy(self.archive, src)
            before = digest(src)
            size = os.path.getsize(src)
            tmpdir = os.path.join(work, "tmp")
            os.mkdir(tmpdir)
            argv = [a.format(**{"in": src, "out": os.path.join(work, "out.zip"), "dir": os.path.join(work, "dest")})
                    for a in self.args]
            env = dict(os.environ, TMPDIR=tmpdir)
            if op:
                env.update(preload_env())
                env.update(ZM_FAULT_OP=op, ZM_FAULT_N=str(n), ZM_FAULT_ERRNO=err)
                if count_file:
                    env["ZM_FAULT_COUNT"] = count_file
            with open(src, "rb") as f:
                p = subprocess.run([ZIPMEDIC, *argv], stdin=f if self.stdin else subprocess.DEVNULL,
                                   capture_output=True, env=env, timeout=120)
            left = [os.path.join(r, x) for r, _, fs in os.walk(work) for x in fs if "zipmedic-" in x]
            left += [os.path.join(tmpdir, x) for x in os.listdir(tmpdir)]
            out = os.path.join(work, "out.zip")
            result = {
                "rc": p.returncode,
                "stdout": stable(p.stdout.decode(errors="replace"), work),
                "stderr": p.stderr.decode(errors="replace"),
                "left": left,
                "input_same": digest(src) == before,
                "input_prefix_same": open(src, "rb").read(size) == open(self.archive, "rb").read(size),
                "input_size": os.path.getsize(src),
                "size": size,
                "out": digest(out) if os.path.exists(out) else None,
                "dest": sorted(os.path.relpath(os.path.join(r, x), work) for r, _, fs in os.walk(
                    os.path.join(work, "dest")) for x in fs),
            }
            return result
        finally:
            shutil.rmtree(work, True)

    def calls(self, op):
        fd, path = tempfile.mkstemp(prefix="zm-count-")
        os.close(fd)
        try:
            self.run(op, 0, count_file=path)
            with open(path) as f:
                text = f.read().strip()
            return int(text) if text else 0
        finally:
            os.remove(path)


def check(case, base, got, what):
    """Returns what is wrong with one faulty run, or None."""
    if got["left"]:
        return "%s: left behind %s" % (what, got["left"])
    if got["rc"] < 0:
        return "%s: killed by signal %d: %s" % (what, -got["rc"], got["stderr"][-300:])
    in_place = "--in-place" in case.args
    if in_place:
        if not got["input_prefix_same"]:
            return "%s: the original bytes changed" % what
        # A report that could not be written after the repair was committed: the archive holds the
        # whole repair, as the run without the fault left it.
        after_commit = "<stdout>: write failed" in got["stderr"] and got["input_size"] == base["input_size"]
        if got["rc"] not in (0, 1) and got["input_size"] != got["size"] and not after_commit:
            return "%s: failed (%d) and left the archive at %d bytes, not %d" % (what, got["rc"], got["input_size"],
                                                                                 got["size"])
    elif not got["input_same"]:
        return "%s: the input changed" % what
    if got["rc"] == base["rc"]:
        for k in ("stdout", "out", "dest"):
            if got[k] != base[k] and not (in_place and k == "stdout"):
                return "%s: exit %d as without the fault, but another %s" % (what, got["rc"], k)
        return None
    if got["rc"] != 3:
        return "%s: exit %d (without the fault %d): %s" % (what, got["rc"], base["rc"], got["stderr"][-300:])
    if "zipmedic: " not in got["stderr"]:
        return "%s: exit 3 without a message" % what
    if got["out"] is not None and base["out"] != got["out"]:
        return "%s: exit 3 and an output left under its final name" % what
    return None


def cases(fixture, cut):
    """The commands swept, over an intact archive and one cut short (repair's)."""
    return [
        Case("verify", fixture, ["verify", "--json", "-t", "1", "{in}"]),
        Case("verify -", fixture, ["verify", "--json", "-t", "1", "-"], stdin=True),
        Case("list", fixture, ["list", "--json", "{in}"]),
        Case("repair -o", cut, ["repair", "--json", "-t", "1", "{in}", "-o", "{out}"]),
        Case("repair --in-place", cut, ["repair", "--json", "-t", "1", "--in-place", "{in}"]),
        Case("restore", fixture, ["restore", "--json", "-t", "1", "{in}", "-C", "{dir}"]),
    ]


# Every kind of call with every failure that kind can have.
FULL = [(op, err) for op in OPS for err in ERRNOS if not (err == "SHORT" and op in ("fsync", "close"))]
# The cli tests' short sweep: each kind of call with the failures that matter most for it.
SHORT = [("read", "EIO"), ("read", "SHORT"), ("read", "EINTR"), ("write", "ENOSPC"), ("write", "EINTR"),
         ("fsync", "EIO"), ("close", "ENOSPC")]


def sweep(case_list, plan=FULL, limit=None):
    """Runs every case with each call of each kind in `plan` failing in turn (at most `limit`
    points per case and kind, spread over the calls, the last always among them); returns
    (points run, problems)."""
    points, problems = 0, []
    for case in case_list:
        base = case.run()
        totals = {}
        for op, err in plan:
            if op not in totals:
                totals[op] = case.calls(op)
            total = totals[op]
            ns = list(range(1, total + 1))
            if limit and len(ns) > limit:
                ns = sorted({ns[int(i * len(ns) / limit)] for i in range(limit)} | {ns[-1]})
            for n in ns:
                got = case.run(op, n, err)
                points += 1
                bad = check(case, base, got, "%s, %s #%d of %d fails with %s" % (case.name, op, n, total, err))
                if bad:
                    problems.append(bad)
    return points, problems
