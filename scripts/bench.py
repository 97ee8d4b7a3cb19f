"""scripts/bench: zipmedic against the tools admins have, on the same files in the same run.

Every command runs once to warm the page cache, then --runs times; the table gives medians, the
ratio of each peer's median to zipmedic verify's on the same archive, and peak RSS from
/usr/bin/time. Results go to stdout and to BENCH_DIR/bench-results.md; --readme also writes
them into README.md between the bench markers.
"""
import argparse
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench_data  # noqa: E402

ZM = os.path.join(TOP, "build", "zipmedic")
FLOOR = os.path.join(TOP, "build", "zipmedic_floor")


def run_once(shell_cmd):
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system) of the command marked @ in
    shell_cmd. A command that prints "seconds=X" times itself (the floor tool's decoding, without
    reading its input into memory first)."""
    with tempfile.NamedTemporaryFile() as t:
        cmd = shell_cmd.replace("@", "/usr/bin/time -f '%%M %%U %%S %%e' -o %s " % t.name)
        start = time.perf_counter()
        p = subprocess.run(["bash", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if p.returncode not in (0, 1):
            raise SystemExit("bench: %s failed (%d): %s" % (cmd, p.returncode, p.stderr.decode()[-500:]))
        own = re.search(rb"seconds=([0-9.]+)", p.stdout)
        if own:
            elapsed = float(own.group(1))
        fields = open(t.name).read().split()[-4:]
    if shell_cmd.startswith("rm -rf"):
        # A restore's fresh target is made before the timed command: its own wall time counts.
        elapsed = float(fields[3])
    return elapsed, int(fields[0]) / 1024, float(fields[1]) + float(fields[2])


def timed_group(commands, runs):
    """Runs the commands of one archive in turn, round after round (the first round warms the
    cache and is not counted), so that a shared machine's slow spells fall on all of them alike;
    returns (median wall, peak RSS, median CPU) per command."""
    samples = [[] for _ in commands]
    for rnd in range(runs + 1):
        for i, cmd in enumerate(commands):
            m = run_once(cmd)
            if rnd:
                samples[i].append(m)
    return [(statistics.median(x[0] for x in s), max(x[1] for x in s), statistics.median(x[2] for x in s))
            for s in samples]


def entry_list(path, out):
    """Writes "offset length method" for every entry, for the floor tool's bare decoding loop."""
    import struct
    import zipfile
    with zipfile.ZipFile(path) as z, open(path, "rb") as f, open(out, "w") as o:
        for info in z.infolist():
            f.seek(info.header_offset)
            head = f.read(30)
            name_len, extra_len = struct.unpack("<HH", head[26:30])
            o.write("%d %d %d\n" % (info.header_offset + 30 + name_len + extra_len, info.compress_size,
                                    info.compress_type))


def deflate_extent(path):
    """(offset, length) of the largest entry's compressed data, for the floor tool."""
    import struct
    import zipfile
    with zipfile.ZipFile(path) as z:
        info = max(z.infolist(), key=lambda i: i.compress_size)
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        head = f.read(30)
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    return info.header_offset + 30 + name_len + extra_len, info.compress_size


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(open("/proc/meminfo").read().split()[1]) // (1 << 20)
    return "%s, %d cores, %d GiB, %s" % (cpu, os.cpu_count(), mem, platform.platform())


def targets(rows):
    """(what, measured, limit) for each number the issue names that this run measured: time ratios
    of medians taken side by side, and peak RSS in MiB."""
    t = {(archive, tool): (secs, rss) for archive, tool, secs, rss, _cpu, _base in rows}
    out = []

    def ratio(what, archive, a, b, limit):
        if (archive, a) in t and (archive, b) in t:
            out.append((what, t[(archive, a)][0] / t[(archive, b)][0], limit))

    ratio("repair -o of the never-finished 400 MB backup / verify of the whole one", "zipstream-400M.zip (repair)",
          "zipmedic repair -o (no directory)", "zipmedic verify", 1.3)
    ratio("a million entries: verify / unzip -t", "million-1M.zip", "zipmedic verify", "unzip -tqq", 1.0)
    ratio("a million entries: verify - / verify of the file", "million-1M.zip", "zipmedic verify - (pipe)",
          "zipmedic verify", 1.3)
    ratio("a million entries: repair -o / verify", "million-1M.zip", "zipmedic repair -o (no directory)",
          "zipmedic verify", 2.0)
    # Restore (issue 27): its time over the peer's, so "at least 1.5x faster than bsdtar" is a
    # ratio of at most 1/1.5.
    ratio("restore of the 400 MB tree / bsdtar -x", "infozip-400M.zip restore", "zipmedic restore", "bsdtar -x", 1 / 1.5)
    ratio("restore of the 400 MB tree / unzip -q", "infozip-400M.zip restore", "zipmedic restore", "unzip -q", 1.0)
    ratio("restore of the 400 MB tree / 7z x", "infozip-400M.zip restore", "zipmedic restore", "7z x", 1.0)
    ratio("a million entries: restore / unzip -q", "million-1M.zip restore", "zipmedic restore", "unzip -q", 1.0)
    if ("overlap-bomb-65535.zip", "zipmedic verify") in t:
        out.append(("65,535 records over one 1 GiB stream: verify (s)", t[("overlap-bomb-65535.zip", "zipmedic verify")][0], 5.0))
    for archive, tool, limit in (("million-1M.zip", "zipmedic verify", 96), ("million-1M.zip", "zipmedic repair -o (no directory)", 192),
                                 ("million-1M.zip restore", "zipmedic restore", 192),
                                 ("zipstream-400M.zip (repair)", "zipmedic repair -o (no directory)", 192)):
        if (archive, tool) in t:
            out.append(("%s, %s: peak RSS (MiB)" % (archive, tool), t[(archive, tool)][1], limit))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=os.environ.get("ZIPMEDIC_BENCH_DIR", os.path.join(TOP, "build", "bench-data")))
    ap.add_argument("--skip-big", action="store_true", help="leave out the 2.5 GiB entry")
    ap.add_argument("--only-zipmedic", action="store_true", help="time zipmedic alone (profiling)")
    ap.add_argument("--readme", action="store_true", help="write the table into README.md")
    ap.add_argument("--skip-restore", action="store_true",
                    help="leave out the restores (a million-entry restore takes minutes a run)")
    ap.add_argument("--only", default="", help="time only the archives whose name holds this (e.g. million)")
    ap.add_argument("--remote", action="store_true",
                    help="only the remote rows: verify from nginx against the file, fetch through a server that "
                         "cuts every 100 MB against one curl -o")
    a = ap.parse_args()
    d = a.dir
    os.makedirs(d, exist_ok=True)
    q = shlex.quote

    tree = os.path.join(d, "tree")
    if a.remote and os.path.exists(os.path.join(d, "infozip-400M.zip")):
        return remote_bench(a, d, os.path.join(d, "infozip-400M.zip"))
    print("bench: preparing inputs in %s (first time only)" % d, file=sys.stderr)
    bench_data.tree(tree)
    arch = {"infozip-400M.zip": None, "zipstream-400M.zip": None}
    if not os.path.exists(os.path.join(d, "infozip-400M.zip")):
        subprocess.run("cd %s && zip -q -r %s ." % (q(tree), q(os.path.join(d, "infozip-400M.zip"))), shell=True,
                       check=True)
    if a.remote:
        return remote_bench(a, d, os.path.join(d, "infozip-400M.zip"))
    if not os.path.exists(os.path.join(d, "zipstream-400M.zip")):
        bench_data.zipstream_archive(tree, os.path.join(d, "zipstream-400M.zip"))
    if not a.skip_big:
        arch["zipstream-2.5G-entry.zip"] = None
        if not os.path.exists(os.path.join(d, "zipstream-2.5G-entry.zip")):
            bench_data.big_entry_archive(os.path.join(d, "zipstream-2.5G-entry.zip"))
    many = os.path.join(d, "many-200k.zip")
    if not os.path.exists(many):
        bench_data.many_small_archive(many)
    full = os.path.join(d, "zipstream-400M.zip")
    cut = os.path.join(d, "zipstream-400M-cut60.zip")
    cut_len = os.path.getsize(full) * 6 // 10
    with open(full, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(cut_len))

    rows = []

    def group(archive, commands):
        """commands: (tool, shell command) pairs; the first is the base of the ratios."""
        if a.only not in archive or (a.skip_restore and archive.endswith(" restore")):
            return
        results = timed_group([c for _, c in commands], a.runs)
        base = results[0][0]
        for (tool, _), (t, r, c) in zip(commands, results):
            rows.append([archive, tool, t, r, c, base if tool != commands[0][0] else None])
            print("  %-26s %-40s %8.3f s %7.1f MiB %7.3f s CPU" % (archive, tool, t, r, c), file=sys.stderr)

    cores = os.cpu_count() or 1
    for name in arch:
        path = os.path.join(d, name)
        p = q(path)
        cmds = [("zipmedic verify", "@ %s verify -q %s" % (ZM, p)),
                ("zipmedic verify - (pipe)", "@ bash -c %s" % q("cat %s | %s verify -q -" % (p, ZM))),
                # The machine's own limits: the bytes moved through a pipe with no work done on
                # them, and every entry decoded by ISA-L from memory with nothing else done (for
                # the one long entry, its single stream on one core).
                ("floor: cat | read, no work", "@ bash -c %s" % q("cat %s | %s drain" % (p, FLOOR)))]
        if name.startswith("zipstream-2.5G"):
            off, length = deflate_extent(path)
            cmds.append(("floor: ISA-L inflate+CRC alone, 1 stream", "@ %s inflate %s %d %d" % (FLOOR, p, off, length)))
        else:
            listing = path + ".entries"
            entry_list(path, listing)
            cmds.append(("floor: ISA-L inflate+CRC alone, %d threads" % cores,
                         "@ %s inflate-all %s %s %d" % (FLOOR, p, q(listing), cores)))
        if not a.only_zipmedic:
            cmds += [("bsdtar -xOf >/dev/null", "@ bsdtar -xOf %s >/dev/null" % p),
                     ("7z t", "@ 7z t %s" % p),
                     ("unzip -tqq", "@ unzip -tqq %s" % p),
                     ("python3 -m zipfile -t", "@ /usr/bin/python3 -m zipfile -t %s" % p)]
        group(name, cmds)

    # Repair in place of the cut backup; the file is cut back to its length after every run.
    group("zipstream-400M-cut60.zip",
          [("zipmedic verify", "@ %s verify -q %s" % (ZM, q(cut))),
           ("zipmedic repair --in-place",
            "@ %s repair --in-place -q %s; truncate -s %d %s" % (ZM, q(cut), cut_len, q(cut)))])

    # The backup that was never finished (every entry, no directory), repaired to a copy, beside
    # verify of the finished one: a repair should cost about what reading the entries once does.
    # And one entry of the finished one verified: the time of that entry, not of the archive.
    never = os.path.join(d, "zipstream-400M-no-directory.zip")
    if not os.path.exists(never):
        bench_data.cut_directory_off(full, never)
    fixed = os.path.join(d, "zipstream-400M-repaired.zip")
    group("zipstream-400M.zip (repair)",
          [("zipmedic verify", "@ %s verify -q %s" % (ZM, q(full))),
           ("zipmedic repair -o (no directory)", "@ %s repair -q --force -o %s %s" % (ZM, q(fixed), q(never))),
           # What writing the output costs here, with no other work: a repair cannot take less.
           ("floor: cp of the input, fsynced", "@ bash -c %s" % q("cp %s %s && sync %s" % (q(never), q(fixed), q(fixed)))),
           ("zipmedic verify ARCHIVE one-entry", "@ %s verify -q %s uploadedimages/00000.bin" % (ZM, q(full)))])

    many_cmds = [("zipmedic verify", "@ %s verify -q %s" % (ZM, q(many)))]
    if not a.only_zipmedic:
        many_cmds.append(("bsdtar -xOf >/dev/null", "@ bsdtar -xOf %s >/dev/null" % q(many)))
    group("many-200k.zip", many_cmds)

    # A million entries, where the time goes to metadata and memory to the catalogue.
    million = os.path.join(d, "million-1M.zip")
    if not os.path.exists(million):
        bench_data.million_archive(million)
    unfinished = os.path.join(d, "million-1M-no-directory.zip")
    if not os.path.exists(unfinished):
        bench_data.cut_directory_off(million, unfinished)
    repaired = os.path.join(d, "million-1M-repaired.zip")
    m = q(million)
    million_cmds = [("zipmedic verify", "@ %s verify -q %s" % (ZM, m)),
                    ("zipmedic verify - (pipe)", "@ bash -c %s" % q("cat %s | %s verify -q -" % (m, ZM))),
                    ("zipmedic scan", "@ %s scan -q %s" % (ZM, m)),
                    ("zipmedic repair -o (no directory)",
                     "@ %s repair -q --force -o %s %s" % (ZM, q(repaired), q(unfinished)))]
    if not a.only_zipmedic:
        million_cmds += [("unzip -tqq", "@ unzip -tqq %s" % m),
                         ("bsdtar -xOf >/dev/null", "@ bsdtar -xOf %s >/dev/null" % m)]
    group("million-1M.zip", million_cmds)

    # Restores side by side, each into a fresh folder on the same filesystem (made before the
    # timed command): the 400 MB tree as Info-ZIP wrote it, and the million small entries.
    out = os.path.join(d, "restore-out")
    fresh = "rm -rf %s && mkdir -p %s && " % (q(out), q(out))

    def restore_cmds(path, peers):
        p = q(path)
        cmds = [("zipmedic restore", fresh + "@ %s restore -q %s -C %s" % (ZM, p, q(out)))]
        peer_cmds = {"bsdtar -x": "@ bsdtar -xf %s -C %s" % (p, q(out)),
                     "unzip -q": "@ unzip -q %s -d %s" % (p, q(out)),
                     "7z x": "@ 7z x -y -bso0 -bsp0 -o%s %s" % (q(out), p)}
        if not a.only_zipmedic:
            cmds += [(tool, fresh + peer_cmds[tool]) for tool in peers]
        return cmds

    group("infozip-400M.zip restore", restore_cmds(os.path.join(d, "infozip-400M.zip"),
                                                   ["bsdtar -x", "unzip -q", "7z x"]))
    group("million-1M.zip restore", restore_cmds(million, ["unzip -q"]))
    shutil.rmtree(out, ignore_errors=True)

    # Overlap bomb: 65,535 records over one local header of 1 GiB of zeros; its data is decoded
    # once, not once per record (target: under 5 s).
    bomb = os.path.join(d, "overlap-bomb-65535.zip")
    if not os.path.exists(bomb):
        bench_data.overlap_bomb(bomb)
    group("overlap-bomb-65535.zip", [("zipmedic verify", "@ %s verify -q %s" % (ZM, q(bomb)))])

    lines = ["Measured %s on %s, page cache warm, median of %d runs after a warm-up, the commands of each "
             "archive taking turns. CPU is the timed command's own (for a pipe, `cat`'s included; peak RSS is "
             "the largest process's). The floor rows "
             "are not verifiers: they show what this machine allows (the bytes through a pipe with no work; "
             "every entry decoded by ISA-L from memory with no other work, the long entry's one stream on "
             "one core)." % (time.strftime("%Y-%m-%d"), machine(), a.runs), "",
             "| archive | command | median | vs zipmedic verify | peak RSS | CPU (user+sys) |",
             "|---|---|---:|---:|---:|---:|"]
    for archive, tool, t, r, c, base in rows:
        ratio = "%.1fx slower" % (t / base) if base and t >= base else ("%.2fx" % (t / base) if base else "")
        if (tool.startswith("zipmedic") or tool.startswith("floor")) and base and not archive.endswith("restore"):
            ratio = "%.2fx its time" % (t / base)
        extra = ""
        count = 200000 if archive.startswith("many") else 1000000 if archive.startswith("million") else 0
        if archive.endswith("restore") and base:
            ratio = "%.2fx zipmedic restore's time" % (t / base)
        if count and (tool == "zipmedic verify" or tool.startswith("bsdtar") or tool.startswith("unzip")):
            extra = " (%.0f entries/s)" % (count / t)
        lines.append("| %s | %s | %.3f s%s | %s | %.0f MiB | %.2f s |" % (archive, tool, t, extra, ratio, r, c))
    lines += ["", "| target (the issue's numbers) | measured | limit | |", "|---|---:|---:|---|"]
    for what, got, limit in targets(rows):
        lines.append("| %s | %.2f | %.2f | %s |" % (what, got, limit, "holds" if got <= limit else "MISSED"))
    table = "\n".join(lines) + "\n"
    print(table)
    with open(os.path.join(d, "bench-results.md"), "w") as f:
        f.write(table)
    if a.readme:
        readme = os.path.join(TOP, "README.md")
        text = open(readme).read()
        text = re.sub(r"(<!-- bench:start -->\n).*?(<!-- bench:end -->)", lambda m: m.group(1) + table + m.group(2),
                      text, flags=re.S)
        open(readme, "w").write(text)


def remote_bench(a, d, archive):
    """verify https-less http://127.0.0.1 (nginx, the test's configuration) of the 400 MB tree
    against the same file on disk, and fetch through tests/cli/remote_server.py cutting every
    connection after 100 MB against one uncut curl -o from nginx. Targets: 0.8x the disk's speed
    at most 64 MiB; 1.2x curl's time."""
    sys.path.insert(0, os.path.join(TOP, "tests", "cli"))
    import remote_test  # noqa: E402  (its nginx and fault server)
    remote_test.setUpModule()
    try:
        root = remote_test.SERVERS["root"]
        os.symlink(archive, os.path.join(root, "bench.zip"))
        url = remote_test.SERVERS["http"] + "/bench.zip"
        cut_url = remote_test.SERVERS["faults"] + "/cut/100000000/bench.zip"
        out = os.path.join(d, "fetched.zip")
        q = shlex.quote
        groups = [("infozip-400M.zip", [("zipmedic verify (disk)", "@ %s verify -q %s" % (ZM, q(archive))),
                                        ("zipmedic verify http:// (nginx)", "@ %s verify -q %s" % (ZM, url))]),
                  ("infozip-400M.zip", [("curl -o (nginx, uncut)", "rm -f %s; @ curl -sSf -o %s %s" % (q(out), q(out), url)),
                                        ("curl -o (the fault server, uncut)", "rm -f %s; @ curl -sSf -o %s %s" % (
                                            q(out), q(out), cut_url.replace("/cut/100000000/", "/plain/"))),
                                        ("zipmedic fetch (cut every 100 MB)",
                                         "rm -f %s %s.part; @ %s fetch -q %s -o %s" % (q(out), q(out), ZM, cut_url, q(out)))])]
        print("| archive | command | median | vs the first row | peak RSS | CPU (user+sys) |\n|---|---|---:|---:|---:|---:|")
        for name, cmds in groups:
            results = timed_group([c for _, c in cmds], a.runs)
            base = results[0][0]
            for (tool, _), (t, r, c) in zip(cmds, results):
                print("| %s | %s | %.3f s | %.2fx its time | %.0f MiB | %.2f s |" % (name, tool, t, t / base, r, c))
    finally:
        remote_test.tearDownModule()


if __name__ == "__main__":
    main()
