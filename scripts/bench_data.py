"""Deterministic benchmark inputs (issue: speed and memory).

tree(dir): a SysReptor-like tree of about 400 MB: half JSON-lines text (records of a few hundred
bytes, about 7:1 under deflate) in 40 files, half incompressible "uploads" with log-normal sizes
(median about 100 KB, long tail) in 620 files: 660 files in all.
"""
import json
import os
import random
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zipstream_like import ZipstreamLike  # noqa: E402

MB = 1 << 20
WORDS = ("finding vulnerability injection cross site scripting authentication bypass server misconfiguration "
         "privilege escalation remote code execution sensitive data exposure weak password policy outdated "
         "software certificate validation directory listing information disclosure session fixation").split()


def jsonl_block(rnd, size):
    """JSON lines that deflate about 7:1: repeated keys and vocabulary, random ids and numbers."""
    out = []
    n = 0
    while n < size:
        rec = {"model": rnd.choice(["pentests.pentestfinding", "pentests.reportsection", "pentests.pentestproject",
                                    "pentests.uploadedimage", "users.pentestuser"]),
               "pk": "%08x-%04x-4000-8000-%012x" % (rnd.getrandbits(32), rnd.getrandbits(16), n // 97),
               "fields": {"title": " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 5))),
                          "cvss": "CVSS:3.1/AV:N/AC:%s/PR:N/UI:N/S:U/C:H/I:H/A:%s" % (rnd.choice("LH"),
                                                                                      rnd.choice("NLH")),
                          "updated": "2026-%02d-%02dT%02d:%02d:%02dZ" % (rnd.randint(1, 12), rnd.randint(1, 28),
                                                                          rnd.randint(0, 23), rnd.randint(0, 59),
                                                                          rnd.randint(0, 59)),
                          "order": rnd.randint(0, 500),
                          "text": " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(8, 40)))}}
        line = json.dumps(rec, separators=(", ", ": ")) + "\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


def tree(root, seed=2026):
    if os.path.exists(os.path.join(root, ".complete")):
        return
    rnd = random.Random(seed)
    os.makedirs(os.path.join(root, "exports"), exist_ok=True)
    block = jsonl_block(rnd, 8 * MB)
    for i in range(40):
        # Each file is the block rotated differently, so files differ but compress alike.
        cut = rnd.randrange(len(block))
        cut = block.index(b"\n", cut) + 1 if b"\n" in block[cut:] else 0
        data = (block[cut:] + block[:cut])[: 5 * MB]
        name = "backup.jsonl" if i == 0 else "exports/export-%02d.jsonl" % i
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    sizes = [min(int(rnd.lognormvariate(11.5, 1.5)), 24 * MB) for _ in range(620)]
    scale = (200 * MB) / sum(sizes)
    for k, s in enumerate(sizes):
        folder = ["uploadedimages", "uploadedfiles", "uploadedassets", "archivedfiles"][k % 4]
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        with open(os.path.join(root, folder, "%05d.bin" % k), "wb") as f:
            f.write(rnd.randbytes(max(1, int(s * scale))))
    open(os.path.join(root, ".complete"), "w").close()


def files(root):
    out = []
    for d, dirs, fs in os.walk(root):
        dirs.sort()
        for f in sorted(fs):
            if f != ".complete":
                out.append(os.path.relpath(os.path.join(d, f), root))
    return out


def zipstream_archive(root, path):
    with open(path, "wb") as out:
        w = ZipstreamLike(out)
        for rel in files(root):
            with open(os.path.join(root, rel), "rb") as f:
                w.write_entry(rel, iter(lambda: f.read(MB), b""))
        w.close()


def big_entry_archive(path, size=int(2.5 * (1 << 30)), seed=7):
    """One streamed ZIP64 JSON-lines entry of `size` bytes (deflate level 1) and a few dozen uploads."""
    rnd = random.Random(seed)
    block = jsonl_block(rnd, 16 * MB)

    def chunks():
        left = size
        while left > 0:
            n = min(left, len(block))
            yield block[:n]
            left -= n

    with open(path, "wb") as out:
        w = ZipstreamLike(out, level=1)
        w.write_entry("backup.jsonl", chunks())
        for k in range(36):
            w.write_entry("uploadedimages/%03d.png" % k, [rnd.randbytes(int(rnd.lognormvariate(11.5, 1.0)))])
        w.close()


def many_small_archive(path, n=200000):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(n):
            z.writestr("uploadedimages/%06d.json" % i, '{"id": %d, "ok": true}\n' % i)


def million_archive(path, n=1000000):
    """The million-entry backup: a million tiny deflated JSON files with 70-byte names (ZIP64 end records,
    as Python writes them past 65,535 entries)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(n):
            name = "sysreptor/uploadedfiles/project-0000000000000000000000/screenshot-%07d.json" % i
            z.writestr(name, '{"id": %d, "ok": true, "note": "x"}\n' % i)


def overlap_bomb(path, n=65535, size=1 << 30):
    """One local header holding `size` zeros, deflated (about 1 MiB), and `n` directory records
    that all point at it under names of their own: the zip-bomb layout that costs a verify that
    decodes each record's data n x size."""
    import struct
    import zlib
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block, body, crc = bytes(1 << 20), [], 0
    for _ in range(size >> 20):
        body.append(c.compress(block))
        crc = zlib.crc32(block, crc)
    body.append(c.flush())
    body = b"".join(body)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(body), size, 1, 0) + b"0" + body)
        cd_off = f.tell()
        for i in range(n):
            name = b"%05d" % i
            f.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, 0, 8, 0, 0x21, crc, len(body), size,
                                len(name), 0, 0, 0, 0, 0o100644 << 16, 0) + name)
        cd_size = f.tell() - cd_off
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cd_size, cd_off, 0))


def cut_directory_off(src, dst):
    """The archive without its central directory and end records: a backup never finished."""
    with zipfile.ZipFile(src) as z:
        cd = z.start_dir
    with open(src, "rb") as f, open(dst, "wb") as o:
        o.write(f.read(cd))


if __name__ == "__main__":
    what, dest = sys.argv[1], sys.argv[2]
    {"tree": tree, "zipstream": lambda p: zipstream_archive(sys.argv[3], p), "big": big_entry_archive,
     "many": many_small_archive}[what](dest)
