#!/usr/bin/env python3
"""A restore raced by an attacker who owns a folder under DIR: while zipmedic restores a few
thousand files under d/, another process keeps swapping DIR/d with a symbolic link to a folder
outside DIR (rename and symlink, or an atomic RENAME_EXCHANGE through renameat2). Nothing may land
outside, whatever the restore's exit status.

    scripts/restore_race.py [ROUNDS] [FILES]      (default 20 rounds of 3,000 files)

The CLI test tests/cli/restore_safety_test.py runs a few rounds of it."""
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile

RENAME_EXCHANGE = 2
AT_FDCWD = -100
_libc = ctypes.CDLL(None, use_errno=True)


def exchange(a, b):
    return _libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_EXCHANGE) == 0


def make_archive(path, files):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(files):
            z.writestr("d/f%05d" % i, b"x" * (i % 97))


def swapper(target, outside, stop, atomic):
    d = os.path.join(target, "d")
    aside = os.path.join(target, "d.real")
    link = os.path.join(target, "d.link")
    if atomic:
        os.symlink(outside, link)
    while not stop.is_set():
        try:
            if atomic:
                exchange(d, link)
            else:
                os.rename(d, aside)
                os.symlink(outside, d)
                os.unlink(d)
                os.rename(aside, d)
        except OSError:
            pass


def one_round(zipmedic, archive, work, atomic, force):
    target = os.path.join(work, "target")
    outside = os.path.join(work, "outside")
    for p in (target, outside):
        shutil.rmtree(p, ignore_errors=True)
    os.makedirs(os.path.join(target, "d"))
    os.makedirs(outside)
    stop = threading.Event()
    t = threading.Thread(target=swapper, args=(target, outside, stop, atomic))
    t.start()
    try:
        args = [zipmedic, "restore", archive, "-C", target, "-q"] + (["--force"] if force else [])
        p = subprocess.run(args, capture_output=True, timeout=300)
    finally:
        stop.set()
        t.join()
    landed = []
    for root, dirs, files in os.walk(outside):
        landed += [os.path.join(root, f) for f in files + dirs]
    return p.returncode, landed


def race(zipmedic, rounds, files=3000):
    """(exit statuses, files that landed outside) over `rounds` rounds."""
    work = tempfile.mkdtemp(prefix="zipmedic-race-")
    try:
        archive = os.path.join(work, "many.zip")
        make_archive(archive, files)
        statuses, landed = [], []
        for r in range(rounds):
            rc, out = one_round(zipmedic, archive, work, atomic=r % 2 == 1, force=r % 4 >= 2)
            statuses.append(rc)
            landed += out
        return statuses, landed
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    files = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    zipmedic = os.environ.get("ZIPMEDIC", os.path.join(os.path.dirname(__file__), "..", "build", "zipmedic"))
    statuses, landed = race(zipmedic, rounds, files)
    print("exit statuses:", statuses)
    print("landed outside:", len(landed))
    return 1 if landed or any(s not in (0, 1, 3) for s in statuses) else 0


if __name__ == "__main__":
    sys.exit(main())
