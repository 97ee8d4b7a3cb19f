"""Reader agreement: a differential fuzzer for zipmedic (issue 10, item 5).

Every fixture of fixtures/*.zip (nine writers) is mutated deterministically from a seed: edits of
one to three header fields of every record type, cuts, byte inserts and deletes, prefixes,
suffixes, name and extra-field edits. Each mutant is given to zipmedic and to six real readers
(unzip, 7-Zip, bsdtar, CPython's zipfile, Go's archive/zip, Java's ZipFile), and these must hold:

  verify-ok      `verify` exit 0 => every reader that supports the archive's methods reads it
                 without refusal and returns exactly the entries of verify's report (names, and
                 size and CRC-32 of the bytes it returns);
  pipe           `verify -` from a pipe exits with the file's status;
  scan           `scan` exit 0 => every entry it calls ok holds content that the original fixture
                 held (the walk trusts only what decoded);
  repair         `repair -o OUT` exit 0 or 1 => every reader reads OUT without refusal, OUT holds
                 only entries byte-identical (name and content) to entries of the original fixture
                 (or to one a name.both mutation renamed in both headers alike, which no repair can
                 tell from the writer's name), and `verify OUT` exits 0; as for any archive, a
                 reader that verify's report of OUT says lacks a feature is not held to it, and
                 one its name_charset_differs warning names may show a name's bytes in another
                 charset (no other name, no other bytes);
  false-alarm    `verify` exit 1 => some reader that supports the original fixture's methods
                 refuses the mutant (or times out), or returns entries other than the original's
                 (names, sizes, CRC-32; a name decoded with another charset counts as the same
                 when verify names that reader in a warn group, or the reader decodes the
                 unmutated fixture so), or a reader that lacks one of them refuses for another
                 reason. unzip's and 7-Zip's warning exit is no refusal. Reports whose errors
                 include one of zipmedic's own safety rules (SAFETY_CODES) are exempt: no reader
                 checks what those guard. A refusal verify claims for a reader that lacks one of
                 the methods, on an entry whose method it has, cannot be seen: an info
                 (false-alarm-unjudged);
  status         every exit status is 0, 1 or 3 (2 is a usage error, and these command lines are
                 valid), no signal, no timeout.

A failure is labelled `check/reader/mutation kind`; the mutant is saved with a JSON note beside it.
Disagreements that no rule decides are counted as info (`scan` calling damage where `verify` does
not, a reader decoding a name without bit 11 as CP437).

`python3 tests/interop/differential.py --help` for the long run; scripts/fuzz-readers wraps it.
"""
import argparse
import atexit
import collections
import glob
import hashlib
import io
import json
import os
import random
import re
import selectors
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("ZIPMEDIC_SRC", os.path.dirname(os.path.dirname(HERE)))
ZIPMEDIC = os.environ.get("ZIPMEDIC", os.path.join(SRC, "build", "zipmedic"))
_BUILT = ZIPMEDIC  # the harness's own tests put stand-ins in ZIPMEDIC whose reports are invented
FIXTURES = os.path.join(SRC, "fixtures")
READERS = ["unzip", "7z", "bsdtar", "python", "go", "java"]
# zipmedic's method names (report "method") that each reader can decode. Debian 12: unzip 6.0 is
# built with bzip2 and Deflate64 but has no LZMA; libarchive 3.6.2 has bzip2, LZMA, xz, zstd and
# PPMd (bsdtar reads 7zip-ppmd.zip whole);
# Go's archive/zip and Java's ZipFile know only stored and deflate.
SUPPORTS = {
    "unzip": {"stored", "deflate", "deflate64", "bzip2"},
    "7z": {"stored", "deflate", "deflate64", "bzip2", "lzma", "xz", "zstd", "ppmd"},
    "bsdtar": {"stored", "deflate", "bzip2", "lzma", "xz", "zstd", "ppmd"},
    "python": {"stored", "deflate", "bzip2", "lzma"},
    "go": {"stored", "deflate"},
    "java": {"stored", "deflate"},
}
METHOD_NAMES = {0: "stored", 8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstd", 95: "xz",
                98: "ppmd"}
_SCHEMA = []


def _schema():
    if not _SCHEMA:
        with open(os.path.join(SRC, "docs", "report.schema.json")) as f:
            _SCHEMA.append(json.load(f))
    return _SCHEMA[0]


TIMEOUT = float(os.environ.get("ZIPMEDIC_DIFF_TIMEOUT", "60"))
TOOL_ENV = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")


# ---------------------------------------------------------------------------------------------
# Names as zipmedic shows them: UTF-8 where the bytes are UTF-8, each other byte as \xNN.

def shown_name(raw):
    out, i = [], 0
    while i < len(raw):
        for n in (4, 3, 2, 1):
            try:
                ch = raw[i:i + n].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1:
                out.append(ch)
                i += n
                break
        else:
            out.append("\\x%02x" % raw[i])
            i += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Records of an archive: where each field lies (APPNOTE 4.3.7, 4.3.9, 4.3.12, 4.3.14-4.3.16).

FIELDS = {
    "lfh": [("version_needed", 4, 2), ("flags", 6, 2), ("method", 8, 2), ("time", 10, 2), ("date", 12, 2),
            ("crc", 14, 4), ("csize", 18, 4), ("usize", 22, 4), ("name_len", 26, 2), ("extra_len", 28, 2)],
    "cd": [("version_made", 4, 2), ("version_needed", 6, 2), ("flags", 8, 2), ("method", 10, 2), ("time", 12, 2),
           ("date", 14, 2), ("crc", 16, 4), ("csize", 20, 4), ("usize", 24, 4), ("name_len", 28, 2),
           ("extra_len", 30, 2), ("comment_len", 32, 2), ("disk_start", 34, 2), ("int_attr", 36, 2),
           ("ext_attr", 38, 4), ("offset", 42, 4)],
    "eocd": [("disk", 4, 2), ("cd_disk", 6, 2), ("entries_disk", 8, 2), ("entries", 10, 2), ("cd_size", 12, 4),
             ("cd_offset", 16, 4), ("comment_len", 20, 2)],
    "z64eocd": [("record_size", 4, 8), ("version_made", 12, 2), ("version_needed", 14, 2), ("disk", 16, 4),
                ("cd_disk", 20, 4), ("entries_disk", 24, 8), ("entries", 32, 8), ("cd_size", 40, 8),
                ("cd_offset", 48, 8)],
    "z64loc": [("disk", 4, 4), ("z64eocd_offset", 8, 8), ("total_disks", 16, 4)],
}


def dd_fields(wide, sig):
    """Data descriptor 4.3.9: optional signature, CRC, then 4- or 8-byte sizes (8 after ZIP64)."""
    o = 4 if sig else 0
    w = 8 if wide else 4
    return [("crc", o, 4), ("csize", o + 4, w), ("usize", o + 4 + w, w)]


class Records:
    """Every record of an intact archive, found from its end records and directory."""

    def __init__(self, data):
        self.data = data
        self.eocd = data.rfind(b"PK\x05\x06")
        if self.eocd < 0:
            raise ValueError("no end record")
        cd_size, cd_off = struct.unpack_from("<II", data, self.eocd + 12)
        self.z64loc = self.z64eocd = None
        cd_end = self.eocd
        if self.eocd >= 20 and data[self.eocd - 20:self.eocd - 16] == b"PK\x06\x07":
            self.z64loc = self.eocd - 20
            z = data.rfind(b"PK\x06\x06", 0, self.z64loc)
            if z >= 0:
                self.z64eocd = z
                cd_end = z
                if cd_size == 0xFFFFFFFF:
                    cd_size = struct.unpack_from("<Q", data, z + 40)[0]
                if cd_off == 0xFFFFFFFF:
                    cd_off = struct.unpack_from("<Q", data, z + 48)[0]
        self.cd_start = cd_end - cd_size
        self.base = self.cd_start - cd_off  # a self-extractor stub shifts every offset by this
        self.cd = []   # (offset, name_len, extra_len, comment_len)
        self.lfh = []  # (offset, name_len, extra_len)
        self.dd = []   # (offset, wide, has_signature)
        p = self.cd_start
        while data[p:p + 4] == b"PK\x01\x02":
            flags, = struct.unpack_from("<H", data, p + 8)
            csize, = struct.unpack_from("<I", data, p + 20)
            n, m, k = struct.unpack_from("<HHH", data, p + 28)
            off, = struct.unpack_from("<I", data, p + 42)
            z64 = self._zip64_extra(data[p + 46 + n:p + 46 + n + m])
            if z64 is not None:
                vals = iter(z64)
                if struct.unpack_from("<I", data, p + 24)[0] == 0xFFFFFFFF:
                    next(vals, None)
                if csize == 0xFFFFFFFF:
                    csize = next(vals, csize)
                if off == 0xFFFFFFFF:
                    off = next(vals, off)
            self.cd.append((p, n, m, k))
            lo = off + self.base
            ln, lm = struct.unpack_from("<HH", data, lo + 26)
            self.lfh.append((lo, ln, lm))
            if flags & 8:
                wide = self._zip64_extra(data[lo + 30 + ln:lo + 30 + ln + lm]) is not None
                d = lo + 30 + ln + lm + csize
                self.dd.append((d, wide, data[d:d + 4] == b"PK\x07\x08"))
            p += 46 + n + m + k

    @staticmethod
    def _zip64_extra(extra):
        i = 0
        while i + 4 <= len(extra):
            hid, hlen = struct.unpack_from("<HH", extra, i)
            if hid == 1:
                body = extra[i + 4:i + 4 + hlen]
                return [struct.unpack_from("<Q", body, j)[0] for j in range(0, len(body) - 7, 8)]
            i += 4 + hlen
        return None

    def field_sites(self):
        """(kind, absolute offset, width) of every header field of every record."""
        sites = []
        for p, n, m in self.lfh:
            sites += [("lfh." + f, p + o, w) for f, o, w in FIELDS["lfh"]]
        for p, n, m, k in self.cd:
            sites += [("cd." + f, p + o, w) for f, o, w in FIELDS["cd"]]
        for p, wide, sig in self.dd:
            sites += [("dd." + f, p + o, w) for f, o, w in dd_fields(wide, sig)]
        sites += [("eocd." + f, self.eocd + o, w) for f, o, w in FIELDS["eocd"]]
        if self.z64eocd is not None:
            sites += [("z64eocd." + f, self.z64eocd + o, w) for f, o, w in FIELDS["z64eocd"]]
        if self.z64loc is not None:
            sites += [("z64loc." + f, self.z64loc + o, w) for f, o, w in FIELDS["z64loc"]]
        return sites

    def boundaries(self):
        """Offsets where records start and end: cuts and inserts there stress the walkers most."""
        b = {0, len(self.data), self.cd_start, self.eocd, self.base}
        for p, n, m in self.lfh:
            b |= {p, p + 30, p + 30 + n, p + 30 + n + m}
        for p, n, m, k in self.cd:
            b |= {p, p + 46 + n + m + k}
        for p, wide, sig in self.dd:
            b |= {p, p + (4 if sig else 0) + (20 if wide else 12)}
        for z in (self.z64eocd, self.z64loc):
            if z is not None:
                b.add(z)
        return sorted(x for x in b if 0 <= x <= len(self.data))


# ---------------------------------------------------------------------------------------------
# Mutations. Each returns (kind, detail, bytes); kind is the label failures are grouped by.

def _field_value(rng, kind, old, width):
    top = (1 << (8 * width)) - 1
    field = kind.split(".", 1)[1]
    special = {
        "version_needed": [10, 20, 45, 46, 51, 62, 63, 64, 0x3F, 0xFF, 0x0314, old | 0x0300],
        "version_made": [0, 20, 63, 0x0314, 0x0A00, 0x0B3F, 0xFF3F],
        "flags": [old ^ (1 << b) for b in (0, 1, 2, 3, 5, 6, 11, 13)],
        "method": [0, 1, 6, 8, 9, 12, 14, 93, 95, 98, 99],
        "disk_start": [1, 2, 0xFFFF], "disk": [1, 0xFFFF], "cd_disk": [1, 0xFFFF], "total_disks": [0, 2, 0xFFFFFFFF],
        "ext_attr": [0x10, 0x41ED0010, 0xA1FF0000, 0x81A40000, 0x01, 0x02, 0x81A40001, old ^ 0x10],
        "int_attr": [1, 2, 0xFFFF],
    }.get(field, [])
    generic = [0, top, old + 1, old - 1, old ^ (1 << rng.randrange(8 * width)), rng.randrange(top + 1),
               old + rng.randrange(2, 64), old - rng.randrange(2, 64), old * 2, 0xFFFF, 0xFFFFFFFF]
    for _ in range(20):
        v = rng.choice(special + generic if special and rng.random() < 0.6 else generic) & top
        if v != old:
            return v
    return old ^ 1


def mutate_fields(rng, data, rec, count):
    b = bytearray(data)
    sites = rec.field_sites()
    picked, details = [], []
    for _ in range(count):
        kind, off, width = rng.choice(sites)
        old = int.from_bytes(b[off:off + width], "little")
        new = _field_value(rng, kind, old, width)
        b[off:off + width] = new.to_bytes(width, "little")
        picked.append(kind)
        details.append("%s@%d: %#x -> %#x" % (kind, off, old, new))
    kind = picked[0] if count == 1 else "multi-field"
    return kind, "; ".join(details), bytes(b)


ELF_STUB = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + b"\x01\x00\x00\x00" + bytes(40)


def mutate_structure(rng, data, rec):
    what = rng.choice(["cut", "insert", "delete", "prefix.random", "prefix.elf", "suffix", "name", "extra"])
    n = len(data)
    at = rng.choice(rec.boundaries()) + rng.choice([0, 0, -1, 1, rng.randrange(-40, 40)]) \
        if rng.random() < 0.5 else rng.randrange(n)
    at = max(0, min(n, at))
    if what == "cut":
        at = max(1, min(n - 1, at))
        return "cut", "cut at %d of %d" % (at, n), data[:at]
    if what == "insert":
        ins = rng.choice([bytes([rng.randrange(256)]), bytes(rng.randrange(256) for _ in range(rng.randrange(1, 17))),
                          b"PK\x03\x04", b"PK\x07\x08", b"PK\x01\x02", b"PK\x05\x06", bytes(rng.randrange(1, 64))])
        return "insert", "insert %s at %d" % (ins.hex(), at), data[:at] + ins + data[at:]
    if what == "delete":
        k = rng.choice([1, 1, 2, 4, rng.randrange(1, 64)])
        at = min(at, n - k)
        return "delete", "delete %d bytes at %d" % (k, at), data[:at] + data[at + k:]
    if what == "prefix.random":
        k = rng.choice([1, 4, 30, 100, rng.randrange(1, 2000)])
        pre = bytes(rng.randrange(256) for _ in range(k))
        return "prefix.random", "%d random bytes before the archive" % k, pre + data
    if what == "prefix.elf":
        k = rng.choice([0, 100, rng.randrange(0, 1500)])
        pre = ELF_STUB + bytes(rng.randrange(256) for _ in range(k))
        return "prefix.elf", "ELF-like stub of %d bytes before the archive" % len(pre), pre + data
    if what == "suffix":
        suf = rng.choice([bytes([rng.randrange(256)]), bytes(rng.randrange(1, 512)),
                          bytes(rng.randrange(256) for _ in range(rng.randrange(1, 512))), b"PK\x05\x06" + bytes(18),
                          data[rec.eocd:]])
        return "suffix", "%d bytes after the archive (%s...)" % (len(suf), suf[:8].hex()), data + suf
    if what == "name":
        return mutate_name(rng, data, rec)
    return mutate_extra(rng, data, rec)


def mutate_name(rng, data, rec):
    k = rng.randrange(len(rec.cd))
    where = rng.choice(["lfh", "cd", "both"])
    lo, ln, _ = rec.lfh[k]
    co, cn, _, _ = rec.cd[k]
    if ln == 0 or cn == 0:
        return mutate_fields(rng, data, rec, 1)
    i = rng.randrange(min(ln, cn))
    new = rng.choice([0x00, 0x01, 0x1B, 0x2F, 0x5C, 0x2E, 0x3A, 0x7F, 0x80, 0xC3, 0xFF, rng.randrange(256)])
    b = bytearray(data)
    old = b[co + 46 + i] if where == "cd" else b[lo + 30 + i]
    if new == old:
        new ^= 0x40
    if where in ("lfh", "both"):
        b[lo + 30 + i] = new
    if where in ("cd", "both"):
        b[co + 46 + i] = new
    return "name." + where, "entry %d name byte %d: %#x -> %#x (%s)" % (k, i, old, new, where), bytes(b)


def mutate_extra(rng, data, rec):
    """Edit an extra field (4.5): its id, its length, its bytes, or add one."""
    k = rng.randrange(len(rec.cd))
    where = rng.choice(["lfh", "cd"])
    if where == "lfh":
        p, n, m = rec.lfh[k]
        start, len_at = p + 30 + n, p + 28
    else:
        p, n, m, _ = rec.cd[k]
        start, len_at = p + 46 + n, p + 30
    b = bytearray(data)
    op = rng.choice(["id", "len", "body", "add", "add"]) if m >= 4 else "add"
    if op == "add":
        hid = rng.choice([0x0001, 0x5455, 0x7075, 0x7875, 0x000A, 0x9901, 0xCAFE])
        body = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 4, 8, 16, 28])))
        decl = len(body) if rng.random() < 0.6 else len(body) + rng.choice([1, 4, 100, -1])
        blk = struct.pack("<HH", hid, decl & 0xFFFF) + body
        at = start + rng.choice([0, m])
        struct.pack_into("<H", b, len_at, m + len(blk))
        b[at:at] = blk
        kind = "extra.%s.add" % where
        detail = "entry %d: %s extra %04x declaring %d bytes, %d given" % (k, where, hid, decl, len(body))
        if where == "lfh":
            return kind, detail, bytes(b)
        # A directory record grew: the end records must say so, else this is a directory cut.
        return kind, detail, _grow_directory(bytes(b), rec, len(blk))
    blocks, i = [], 0
    while i + 4 <= m:
        hid, hlen = struct.unpack_from("<HH", data, start + i)
        blocks.append((start + i, hid, hlen))
        i += 4 + hlen
    if not blocks:
        return mutate_fields(rng, data, rec, 1)
    at, hid, hlen = rng.choice(blocks)
    if op == "id":
        new = rng.choice([0x0001, 0x0000, 0x7075, 0xFFFF, hid ^ 0x0100])
        struct.pack_into("<H", b, at, new)
        detail = "entry %d: %s extra id %04x -> %04x" % (k, where, hid, new)
    elif op == "len":
        new = rng.choice([0, hlen + 1, hlen - 1, hlen + 4, 0xFFFF]) & 0xFFFF
        struct.pack_into("<H", b, at + 2, new)
        detail = "entry %d: %s extra %04x length %d -> %d" % (k, where, hid, hlen, new)
    else:
        if hlen == 0:
            return mutate_fields(rng, data, rec, 1)
        j = at + 4 + rng.randrange(hlen)
        b[j] ^= 1 << rng.randrange(8) if rng.random() < 0.5 else rng.randrange(1, 256)
        detail = "entry %d: %s extra %04x body byte %d changed" % (k, where, hid, j - at - 4)
    return "extra.%s.%s" % (where, op), detail, bytes(b)


def _grow_directory(data, rec, grow):
    b = bytearray(data)
    e = rec.eocd + grow
    size, = struct.unpack_from("<I", b, e + 12)
    if size != 0xFFFFFFFF:
        struct.pack_into("<I", b, e + 12, size + grow)
    if rec.z64eocd is not None:
        z = rec.z64eocd + grow
        struct.pack_into("<Q", b, z + 40, struct.unpack_from("<Q", b, z + 40)[0] + grow)
        lo = rec.z64loc + grow
        struct.pack_into("<Q", b, lo + 8, struct.unpack_from("<Q", b, lo + 8)[0] + grow)
    return bytes(b)


def make_mutant(fixture_names, fixture_data, seed, index):
    """Mutant `index` of run `seed`: the same pair always gives the same bytes."""
    if index < len(fixture_names):
        # The first mutants of every run are the fixtures themselves: real writers' archives that
        # verify calls whole must satisfy the readers before any damage is made.
        name = fixture_names[index]
        return {"index": index, "fixture": name, "kind": "none", "detail": "the fixture as written",
                "data": fixture_data[name]}
    rng = random.Random("%s:%d" % (seed, index))
    name = fixture_names[rng.randrange(len(fixture_names))]
    data = fixture_data[name]
    rec = Records(data)
    r = rng.random()
    if r < 0.5:
        kind, detail, out = mutate_fields(rng, data, rec, 1)
    elif r < 0.65:
        kind, detail, out = mutate_fields(rng, data, rec, rng.choice([2, 3]))
    else:
        kind, detail, out = mutate_structure(rng, data, rec)
    return {"index": index, "fixture": name, "kind": kind, "detail": detail, "data": out}


# ---------------------------------------------------------------------------------------------
# Readers. Go, Java and Python run as one process per worker that reads paths on stdin.

_BUILT = {}


def build_readers(tmp=None):
    """Compile the Go and Java readers once per process (cached), into a temporary directory."""
    if "cmds" in _BUILT:
        return _BUILT["cmds"]
    tmp = tmp or tempfile.mkdtemp(prefix="zipmedic-readers-")
    _BUILT["dir"] = tmp
    atexit.register(shutil.rmtree, tmp, True)
    rd = os.path.join(HERE, "readers")
    env = dict(os.environ, GOCACHE=os.path.join(tmp, "gocache"), GOPATH=os.path.join(tmp, "gopath"),
               GOFLAGS="", GOPROXY="off", GO111MODULE="off", CGO_ENABLED="0")
    go_bin = os.path.join(tmp, "readall-go")
    p = subprocess.run(["go", "build", "-o", go_bin, os.path.join(rd, "readall.go")], env=env,
                       capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError("go build readall.go failed: " + p.stderr.decode(errors="replace"))
    p = subprocess.run(["javac", "-d", tmp, os.path.join(rd, "ReadAll.java")], capture_output=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError("javac ReadAll.java failed: " + p.stderr.decode(errors="replace"))
    _BUILT["cmds"] = {
        "go": [go_bin],
        # The JIT's tiers cost more than they save on archives of a few KB.
        "java": ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-Xmx512m", "-cp", tmp, "ReadAll"],
        "python": ["/usr/bin/python3", os.path.join(rd, "readall.py")],
    }
    return _BUILT["cmds"]


class BatchReader:
    """A reader process kept alive across archives: one path in, one JSON line out, with a deadline
    per archive (a reader that hangs is killed, the archive counted as a timeout, and restarted)."""

    def __init__(self, cmd):
        self.cmd, self.proc = cmd, None

    def _start(self):
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=TOOL_ENV)
        self.buf = b""

    def close(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()
            self.proc = None

    def read(self, path, timeout=TIMEOUT):
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            self.proc.stdin.write(path.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.close()
            return {"ok": False, "error": "reader process died", "entries": [], "crashed": True}
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while b"\n" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self.close()
                    return {"ok": False, "error": "timeout after %gs" % timeout, "entries": [], "timeout": True}
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    self.close()
                    return {"ok": False, "error": "reader process died", "entries": [], "crashed": True}
                self.buf += chunk
        finally:
            sel.close()
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


def _run(cmd, timeout=TIMEOUT):
    # `bsdtar -xO` writes the entries' bytes to stdout: only stderr says why it failed.
    out = subprocess.DEVNULL if "-xOf" in cmd else subprocess.PIPE
    try:
        p = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, timeout=timeout, stdin=subprocess.DEVNULL,
                           env=TOOL_ENV)
        p.stdout = p.stdout or b""
        return p
    except subprocess.TimeoutExpired:
        return None


def _walk_extracted(root, listed):
    """Entries as a command-line tool wrote them: listed names found on disk, then files on disk
    that no listed name reached (a tool that lists one name and writes another)."""
    entries, seen = [], set()
    rootb = os.fsencode(root)
    for name in listed:
        # Tools strip a leading "/" and refuse "..": never look outside the extraction folder.
        rel = os.path.normpath(name.strip(b"/")) if name.strip(b"/") else b""
        p = os.path.join(rootb, rel) if rel and not rel.startswith(b"..") else None
        if p is None or not os.path.lexists(p):
            entries.append({"raw": name, "missing": True})
            continue
        seen.add(os.path.normpath(p))
        entries.append(_disk_entry(name, p))
    unlisted = []
    for dirpath, dirs, files in os.walk(rootb):
        # An empty folder nothing listed reached is a folder entry written under another name
        # (unzip converting a code-page name, seed 77, mutant 3939).
        folders = [d for d in dirs if not os.path.islink(os.path.join(dirpath, d)) and
                   not os.listdir(os.path.join(dirpath, d))]
        for f in files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))] + folders:
            p = os.path.normpath(os.path.join(dirpath, f))
            if p not in seen:
                unlisted.append(_disk_entry(os.path.relpath(p, rootb), p))
    if unlisted:
        # The disk is what the tool really produced: a listed name it did not write under that
        # name is the same entry as an unlisted file it did write.
        entries = [e for e in entries if not e.get("missing")]
    entries += unlisted
    out = []
    for e in entries:
        if e.get("missing"):
            out.append({"name": shown_name(e["raw"]), "size": -1, "crc32": "missing"})
        else:
            out.append(e)
    return out


def _disk_entry(name, p):
    st = os.lstat(p)
    if stat.S_ISLNK(st.st_mode):
        content = os.readlink(p)
    elif stat.S_ISDIR(st.st_mode):
        content = b""
        if not name.endswith(b"/"):
            name += b"/"  # written as a directory: that is what a restore gets
    elif not stat.S_ISREG(st.st_mode):
        # An edited "external attributes" field can make a tool (as root) create a FIFO, socket or
        # device node; opening one could block, and it holds none of the entry's bytes anyway.
        return {"name": shown_name(name), "size": -1, "crc32": "special-file-%o" % stat.S_IFMT(st.st_mode)}
    else:
        with open(p, "rb") as f:
            content = f.read()
    return {"name": shown_name(name), "size": len(content), "crc32": "%08x" % zlib.crc32(content)}


def _tool_result(path, verdict_cmd, list_cmd, extract_cmd, parse_list, tmp, warning_exits=(), list_may_fail=False):
    """`warning_exits`: the exit statuses a tool documents as "warnings, but every entry was
    processed" (unzip's and 7-Zip's 1): the entries it extracted are then compared like any
    other's, and the warning is kept in res["warned"], never taken for a refusal.
    `list_may_fail`: a listing that fails after the test read every entry is such a warning too
    (bsdtar -t skips stored bit-3 data to the first "PK\7\8", which bsdtar -x reads past)."""
    res = {"path": path, "ok": True, "error": "", "entries": [], "warned": ""}
    for what, cmd in (("test", verdict_cmd), ("list", list_cmd)):
        p = _run(cmd)
        if p is None:
            return dict(res, ok=False, error="%s: timeout" % what, timeout=True)
        if p.returncode < 0:
            return dict(res, ok=False, error="%s: killed by signal %d" % (what, -p.returncode), crashed=True)
        if p.returncode in warning_exits or (what == "list" and list_may_fail and p.returncode != 0 and
                                             b"Truncated ZIP file header" in p.stderr):
            res["warned"] = res["warned"] or "%s exit %d: %s" % (what, p.returncode, _tail(p))
        elif p.returncode != 0:
            # error_full: every message, which says whether the refusal is for a method it lacks.
            return dict(res, ok=False, error="%s exit %d: %s" % (what, p.returncode, _tail(p)),
                        error_full="%s exit %d: %s" % (what, p.returncode, _tail(p, 20000)))
        if what == "list":
            listed = parse_list(p.stdout)
    out = tempfile.mkdtemp(dir=tmp)
    try:
        p = _run(extract_cmd(out))
        if p is None:
            return dict(res, ok=False, error="extract: timeout", timeout=True)
        if p.returncode in warning_exits:
            res["warned"] = res["warned"] or "extract exit %d: %s" % (p.returncode, _tail(p))
        elif p.returncode != 0:
            return dict(res, ok=False, error="extract exit %d: %s" % (p.returncode, _tail(p)),
                        error_full="extract exit %d: %s" % (p.returncode, _tail(p, 20000)))
        res["entries"] = _walk_extracted(out, listed)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return res


def _tail(p, limit=300):
    t = (p.stdout + p.stderr).decode("utf-8", "replace").strip().splitlines()
    return " | ".join(x.strip() for x in t if x.strip())[-limit:]


def _parse_7z_slt(out):
    names, cur = [], None
    body = out.split(b"\n----------\n", 1)[-1]
    for line in body.split(b"\n"):
        if line.startswith(b"Path = "):
            cur = line[7:]
            names.append(cur)
        elif line.startswith(b"Folder = +") and cur is not None and names:
            names[-1] = cur + b"/"
    return names


def read_unzip(path, tmp):
    return _tool_result(path, ["unzip", "-tqq", path], ["unzip", "-Z1", path],
                        lambda out: ["unzip", "-qq", "-o", path, "-d", out],
                        lambda o: [x for x in o.split(b"\n") if x], tmp, warning_exits=(1,))


def read_7z(path, tmp):
    return _tool_result(path, ["7z", "t", "-bd", path], ["7z", "l", "-slt", path],
                        lambda out: ["7z", "x", "-y", "-bd", "-o" + out, path], _parse_7z_slt, tmp,
                        warning_exits=(1,))


_BSDTAR_ESCAPES = {b"a": b"\a", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v",
                   b"\\": b"\\"}


def _bsdtar_unescape(line):
    """`bsdtar -t` prints a backslash as two and other unprintable bytes as \\ooo or \\n
    (safe_fprintf): the name's own bytes are what it extracts to."""
    def one(m):
        e = m.group(1)
        return bytes([int(e, 8)]) if len(e) == 3 else _BSDTAR_ESCAPES.get(e, b"\\" + e)
    return re.sub(rb"\\([0-7]{3}|.)", one, line, flags=re.S)


def read_bsdtar(path, tmp):
    return _tool_result(path, ["bsdtar", "-xOf", path], ["bsdtar", "-tf", path],
                        lambda out: ["bsdtar", "-xf", path, "-C", out],
                        lambda o: [_bsdtar_unescape(x) for x in o.split(b"\n") if x], tmp, list_may_fail=True)


class ReaderSet:
    """The six readers, for one worker."""

    def __init__(self, tmp):
        cmds = build_readers()
        self.tmp = tmp
        self.batch = {k: BatchReader(cmds[k]) for k in ("python", "go", "java")}

    def read(self, path):
        out = {"unzip": read_unzip(path, self.tmp), "7z": read_7z(path, self.tmp),
               "bsdtar": read_bsdtar(path, self.tmp)}
        for k, b in self.batch.items():
            out[k] = b.read(path)
        return out

    def close(self):
        for b in self.batch.values():
            b.close()


# ---------------------------------------------------------------------------------------------
# Comparison.

def reader_key(e, reader=None):
    """An entry as a reader returned it. Go keeps a name's bytes undecoded (its JSON string is
    only our transport), so its name is those bytes shown as zipmedic shows names."""
    name = e["name"]
    if reader == "go" and "raw" in e:
        name = shown_name(bytes.fromhex(e["raw"]))
    return (name, e["size"], e["crc32"])


def same_bytes_other_decoding(zm_name, e):
    """True when a reader shows zipmedic's name differently only because it decodes the same bytes
    with another charset: Python 3.11 decodes a name without bit 11 as CP437 (APPNOTE appendix D);
    unzip 6.0 translates names of entries "made by" MS-DOS from OEM code page, bit 11 or not."""
    if "raw" in e:
        return shown_name(bytes.fromhex(e["raw"])) == zm_name
    # Bytes that are not UTF-8 are shown as \xNN escapes (shown_name): another charset for them.
    parts = re.split(r"((?:\\x[0-9a-f]{2})+)", zm_name)
    if zm_name.isascii() and len(parts) == 1:
        return False
    pattern = ""
    for i, part in enumerate(parts):
        if i % 2:
            pattern += "[^\\x00-\\x7f]+?"
        else:
            pattern += "".join(re.escape(run) if run.isascii() else ".+?"
                               for run in re.findall(r"[\x00-\x7f]+|[^\x00-\x7f]+", part))
    return re.fullmatch(pattern, e["name"], re.S) is not None


def compare(reader, reader_entries, want):
    """(missing, extra, decoded): wanted (name, size, crc32) the reader did not return, what it
    returned instead, and pairs that differ only in how the name's bytes were decoded."""
    got = collections.Counter(reader_key(e, reader) for e in reader_entries)
    want = collections.Counter(want)
    missing, extra = want - got, got - want
    by_key = {reader_key(e, reader): e for e in reader_entries}
    decoded = []
    for k in list(extra.elements()):
        for w in list(missing.elements()):
            if w[1:] == k[1:] and same_bytes_other_decoding(w[0], by_key[k]):
                decoded.append((w[0], k[0]))
                missing[w] -= 1
                extra[k] -= 1
                break
    return sorted((+missing).elements()), sorted((+extra).elements()), decoded


def noted_readers(doc, groups=None):
    """Readers that zipmedic's report names in a finding, in any group or in those of `groups`
    (JSON "readers": {"refuse": [...], "warn": [...], "lack": [...]})."""
    out = set()
    for f in (doc or {}).get("findings", []):
        out |= {str(r).lower().replace("-", "").replace("7zip", "7z").replace("libarchive", "bsdtar")
                for g, group in f.get("readers", {}).items() if groups is None or g in groups for r in group}
    return out


# zipmedic's own rules: error findings that no reader checks (their readers column in
# src/report/codes.def is NONE) but that the verdict must still carry, because what they guard is
# not the bytes a reader returns: a name stored twice (a restore overwrites one with the other), a
# name that escapes the restore target, a symbolic link a restore would write through, an empty
# entry the walk found that nothing confirms, and entries zipmedic could not check at all
# (encryption it cannot decrypt, a missing or wrong password, a method it cannot decode, a
# SysReptor profile or backup check). When one of these is an error of the report, every reader
# returning the original's bytes does not make the exit 1 a false alarm.
SAFETY_CODES = frozenset({
    "duplicate_name", "unsafe_path", "symlink_entry", "restore_through_symlink", "entry_unconfirmed",
    "encrypted_entry", "password_needed", "password_wrong", "unsupported_method", "crypt_tag_mismatch",
    "profile_missing_entry", "profile_bad_content", "backup_incomplete",
})


# How each reader says it refused for a method it lacks (SUPPORTS), and for nothing else: unzip's
# exit 81 (unsupported compression or encryption), bsdtar's per-entry message (all its messages,
# its closing line aside), Python's NotImplementedError, Go's ErrAlgorithm, Java's check of every
# directory record's method on opening.
LACK_ERRORS = {
    "unzip": r"(test|list|extract) exit 81: ",
    "bsdtar": r"(?:(?:[^|]*Unsupported ZIP compression method[^|]*|bsdtar: Error exit delayed from previous errors\.)"
              r"(?: \| |$))+",
    "python": r"NotImplementedError: That compression method is not supported$",
    "go": r"[^\n]*: zip: unsupported compression algorithm$",
    "java": r"java\.util\.zip\.ZipException: invalid CEN header \(bad compression method: \d+\)$",
}


def lack_error(reader, error):
    pat = LACK_ERRORS.get(reader)
    if reader == "bsdtar":
        error = error.split(": ", 1)[-1]  # "test exit 1: "
    return bool(pat) and re.fullmatch(pat, error, re.S) is not None


def methods_of(entries):
    return {e.get("method", "stored") for e in entries}


def lacks(reader, methods, encrypted=False):
    if encrypted and reader in ("python", "go", "java"):
        return "no encryption"
    miss = sorted(m for m in methods if m not in SUPPORTS[reader])
    return ("no " + ", ".join(miss)) if miss else None


class Reference:
    """The original fixture read by Python's zipfile: what a repair may keep."""

    def __init__(self, data):
        z = zipfile.ZipFile(io.BytesIO(data))
        self.entries = set()
        self.listed = []  # the same keys in directory order, duplicates kept
        self.contents = set()
        self.methods = set()
        for i in z.infolist():
            raw = i.orig_filename.encode("utf-8" if i.flag_bits & 0x800 else "cp437")
            try:
                c = z.read(i)
                key = (shown_name(raw), len(c), "%08x" % zlib.crc32(c))
            except NotImplementedError:
                # Deflate64, zstd, xz: zipfile cannot decode them; an unmutated fixture's directory
                # is its writer's word, and every fixture is checked whole by the readers that can.
                key = (shown_name(raw), i.file_size, "%08x" % i.CRC)
            self.entries.add(key)
            self.listed.append(key)
            self.contents.add(key[1:])
            self.methods.add(METHOD_NAMES.get(i.compress_type, str(i.compress_type)))


def zipmedic(*args, input=None):
    try:
        kw = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
        p = subprocess.run([ZIPMEDIC, *args], capture_output=True, timeout=TIMEOUT, **kw)
    except subprocess.TimeoutExpired:
        return None, None
    doc = None
    if "--json" in args:
        try:
            doc = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            doc = None
        if doc is not None and ZIPMEDIC == _BUILT:
            # A report outside docs/report.schema.json is a defect like any other: it fails here.
            import jsonschema
            jsonschema.validate(doc, _schema())
    return p, doc


class Checker:
    """Runs the checks on mutants; one per worker."""

    def __init__(self, fixture_data, tmp, refs=None, false_alarm_every=1):
        self.tmp = tmp
        # 1: every mutant verify calls damaged is read by the six readers too (the long run);
        # N: only those whose index is a multiple of N, for a quicker run.
        self.false_alarm_every = max(1, false_alarm_every)
        self.readers = ReaderSet(tmp)
        self.refs = refs or {k: Reference(v) for k, v in fixture_data.items()}
        self.fixture_data, self.views, self.originals = fixture_data, {}, {}
        self.original_wants, self.original_methods = {}, {}

    def close(self):
        self.readers.close()

    def status(self, fails, cmd, p, kind):
        if p is None:
            fails.append(("timeout/%s/%s" % (cmd, kind), "%s: no exit within %gs" % (cmd, TIMEOUT)))
            return None
        if p.returncode < 0:
            fails.append(("crash/%s/%s" % (cmd, kind), "%s: killed by signal %d" % (cmd, -p.returncode)))
            return None
        if p.returncode not in (0, 1, 3):
            fails.append(("bad-exit/%s/%s" % (cmd, kind), "%s: exit %d: %s" % (cmd, p.returncode, _tail(p))))
            return None
        return p.returncode

    def check(self, m):
        """Failures and notes for mutant m: ([(class, detail)], [(class, detail)], facts)."""
        kind = m["kind"]
        fails, infos, facts = [], [], {}
        path = os.path.join(self.tmp, "mutant-%d.zip" % m["index"])
        with open(path, "wb") as f:
            f.write(m["data"])
        try:
            self._check(path, m, kind, fails, infos, facts)
        finally:
            for p in (path, path + ".out.zip"):
                if os.path.exists(p):
                    os.unlink(p)
        return fails, infos, facts

    def _check(self, path, m, kind, fails, infos, facts):
        p, doc = zipmedic("verify", "--json", path)
        v = self.status(fails, "verify", p, kind)
        facts["verify"] = v
        if v in (0, 1) and doc is None:
            # Exit 3 (cannot proceed) may say why on stderr alone; a verdict comes as a document.
            fails.append(("bad-json/verify/" + kind, "verify --json exit %d printed no JSON document" % v))
        if doc:
            facts["verify_findings"] = sorted({f.get("code", "?") for f in doc.get("findings", [])})
        pp, _ = zipmedic("verify", "--json", "-", input=m["data"])
        pv = self.status(fails, "verify-pipe", pp, kind)
        facts["verify_pipe"] = pv
        if v is not None and pv is not None and pv != v:
            fails.append(("pipe/%s/%d->%d" % (kind, v, pv), "verify FILE exit %d, verify - exit %d" % (v, pv)))
        sp, sdoc = zipmedic("scan", "--json", path)
        s = self.status(fails, "scan", sp, kind)
        facts["scan"] = s
        ref = self.refs[m["fixture"]]
        if s == 0 and sdoc:
            for e in sdoc.get("entries", []):
                if e.get("status") == "ok" and (e.get("uncompressed_size"), e.get("crc32")) not in ref.contents:
                    fails.append(("scan-ok-foreign/" + kind, "scan exit 0, entry %r (%s bytes, crc %s) holds "
                                  "content the original never had" % (e.get("name"), e.get("uncompressed_size"),
                                                                       e.get("crc32"))))
        if v is not None and s is not None and (v == 0) != (s == 0):
            infos.append(("scan-verify/%s/verify%d-scan%d" % (kind, v, s), "verify exit %d, scan exit %d" % (v, s)))
        if v == 0 and doc:
            # decoded_size: the data's own length where no reader holds it to the claimed size.
            want = [(e["name"], e.get("decoded_size", e["uncompressed_size"]), e["crc32"]) for e in doc["entries"]]
            encrypted = any(e.get("status") == "encrypted" or e.get("encrypted") for e in doc["entries"])
            self._readers_agree(path, m["fixture"], "verify-ok", kind, want, methods_of(doc["entries"]), encrypted,
                                doc, fails, facts)
        elif v is not None and v != 0:
            if v == 1 and doc and m["index"] % self.false_alarm_every == 0:
                self._false_alarm(path, m, kind, ref, doc, fails, infos, facts)
            out = path + ".out.zip"
            rp, rdoc = zipmedic("repair", path, "-o", out, "--json", "--force")  # out is reused
            r = self.status(fails, "repair", rp, kind)
            facts["repair"] = r
            if r in (0, 1):
                if not os.path.exists(out):
                    fails.append(("repair-no-output/" + kind, "repair exit %d, but no %s" % (r, out)))
                    return
                self._repaired(out, kind, m["fixture"], ref, fails, facts, self.renamed(m))

    def _false_alarm(self, path, m, kind, ref, doc, fails, infos, facts):
        """verify exit 1 promises that some reader refuses the archive or reads other bytes or
        another name. When every reader that supports the original fixture's methods reads it
        without refusal and returns exactly the original's entries (names, sizes, CRC-32), that
        promise is false: the damage verify calls is one no reader sees."""
        findings = doc.get("findings", [])
        errors = [f for f in findings if f.get("severity") == "error"]
        results = self.readers.read(path)
        facts["readers"] = {k: {"ok": v["ok"], "error": v["error"], "warned": v.get("warned", "")}
                            for k, v in results.items()}
        if not errors or any(f.get("code") in SAFETY_CODES for f in errors):
            return
        fixture = m["fixture"]
        self.original_view(fixture, READERS[0])  # reads the unmutated fixture once per worker
        warned_by_zipmedic = noted_readers(doc, ("warn",))
        how = []
        methods_by_name = collections.defaultdict(set)
        for e in doc.get("entries", []):
            methods_by_name[e.get("name")].add(e.get("method", "stored"))
        for reader in READERS:
            res = results[reader]
            lacked = lacks(reader, ref.methods)
            if lacked and not res["ok"]:
                # A reader that lacks one of the fixture's methods and stops at it shows only part
                # of what it does: a refusal for another reason is a refusal, and what zipmedic
                # says it refuses is taken as unjudged unless the finding's entry uses a method
                # the reader lacks (then the claim is moot: it cannot read that entry at all).
                # One that reads the whole mutant all the same is compared like the others.
                if not lack_error(reader, res.get("error_full", res["error"])):
                    return
                moot = [f for f in errors if reader in noted_readers({"findings": [f]}, ("refuse",))]
                unjudged = [f for f in moot if not methods_by_name.get(f.get("entry")) or any(
                    x in SUPPORTS[reader] for x in methods_by_name[f.get("entry")])]
                if unjudged:
                    infos.append(("false-alarm-unjudged/%s/%s" % (unjudged[0].get("code"), kind),
                                  "%s lacks %s and is said to refuse: not judged" % (reader, lacked[3:])))
                    return
                how.append("%s lacks %s" % (reader, lacked[3:]))
                continue
            if not res["ok"]:
                return  # a refusal or a timeout is what exit 1 promises
            missing, extra, decoded = compare(reader, res["entries"], ref.listed)
            if missing or extra:
                return
            orig = self.originals[fixture][reader]
            as_before = orig["ok"] and collections.Counter(reader_key(e, reader) for e in res["entries"]) == \
                collections.Counter(reader_key(e, reader) for e in orig["entries"])
            # Another charset for the same name bytes is the same name when verify's report says so
            # (a reader named in a finding's warn group), or when the reader decodes the unmutated
            # fixture's names the same way.
            if decoded and not as_before and reader not in warned_by_zipmedic:
                return
            how.append("%s reads the original's entries%s%s" % (
                reader, ", names decoded %s" % ", ".join("%r as %r" % d for d in decoded[:2]) if decoded else "",
                " with a warning (%s)" % res["warned"][:120] if res.get("warned") else ""))
        # The clearest case: every reader returned what it returns for the unmutated fixture, and
        # verify calls that fixture whole.
        as_fixture = self.original_wants[fixture] is not None and all(
            results[r]["ok"] == self.originals[fixture][r]["ok"] and
            collections.Counter(reader_key(e, r) for e in results[r]["entries"]) ==
            collections.Counter(reader_key(e, r) for e in self.originals[fixture][r]["entries"])
            for r in READERS)
        shown = ["%s(%s; refuse %s, warn %s, lack %s)" % (
            f.get("code"), f.get("severity"), *(",".join(f.get("readers", {}).get(g, [])) or "-"
                                                for g in ("refuse", "warn", "lack"))) for f in findings]
        facts["false_alarm"] = {"as_fixture": as_fixture, "findings": [
            {k: f.get(k) for k in ("code", "severity", "entry", "offset", "message", "readers")} for f in findings]}
        fails.append(("false-alarm/%s/%s" % (errors[0].get("code", "?"), kind),
                      "verify exit 1 with %s, yet %s; %s" % (
                          "; ".join(shown), "; ".join(how),
                          "every reader returns what it returns for the unmutated fixture, which verifies exit 0"
                          if as_fixture else "the unmutated fixture does not verify exit 0 or reads otherwise")))

    def renamed(self, m):
        """Entries a name.both mutation renamed consistently: the local header and the directory
        agree on the new name, so no repair can tell it from the writer's; a repair that keeps the
        entry under it keeps what the archive says, not something foreign."""
        hit = re.match(r"entry (\d+) name byte (\d+): 0x[0-9a-f]+ -> (0x[0-9a-f]+) \(both\)", m["detail"])
        if m["kind"] != "name.both" or not hit:
            return set()
        k, i, new = int(hit.group(1)), int(hit.group(2)), int(hit.group(3), 16)
        data = self.fixture_data[m["fixture"]]
        p, n, _, _ = Records(data).cd[k]
        raw = bytearray(data[p + 46:p + 46 + n])
        raw[i] = new
        info = zipfile.ZipFile(io.BytesIO(data)).infolist()[k]
        content = (info.file_size, "%08x" % info.CRC)
        return {(shown_name(bytes(raw)),) + content: (shown_name(data[p + 46:p + 46 + n]),) + content}

    def _readers_agree(self, path, fixture, check, kind, want, methods, encrypted, doc, fails, facts):
        results = self.readers.read(path)
        noted = noted_readers(doc)
        # The verdict contract: a reader the report says lacks a feature the archive uses (a method,
        # the charset of code-page names) is not held to it; one it names as warning may show
        # another name (a charset, folders made of backslashes) but must return the same bytes.
        lacking, warned = noted_readers(doc, ("lack",)), noted_readers(doc, ("warn",))
        facts["readers"] = {k: {"ok": v["ok"], "error": v["error"]} for k, v in results.items()}
        for reader in READERS:
            res = results[reader]
            if lacks(reader, methods, encrypted) or reader in lacking:
                continue
            # Grouped with the unmutated fixture's own failure when the reader did the same there.
            label = "as-fixture" if kind != "none" and self.inherited(fixture, reader, res, want) else kind
            if not res["ok"]:
                tag = "timeout" if res.get("timeout") else "refused"
                fails.append(("%s-%s/%s/%s" % (check, tag, reader, label), "%s: %s" % (reader, res["error"])))
                continue
            missing, extra, decoded = compare(reader, res["entries"], want)
            if reader in warned and sorted(m[1:] for m in missing) == sorted(x[1:] for x in extra):
                missing, extra = [], []
            if missing or extra:
                fails.append(("%s-differs/%s/%s" % (check, reader, label),
                              "%s: zipmedic has %s, the reader returned %s" % (reader, missing[:4], extra[:4])))
            # Another charset for the same name bytes is a reader's rule, not damage; but verify's
            # exit 0 promises the name too, so its report must name the reader (issue 10, item 3).
            if decoded and reader not in noted:
                fails.append(("%s-name-decoding/%s" % (check, reader),
                              "%s shows %s; zipmedic's report names no reader" % (
                                  reader, ", ".join("%r as %r" % d for d in decoded[:3]))))

    def original_view(self, fixture, reader):
        """(name, size, crc32) of each entry of the unmutated fixture as this reader returns it."""
        if fixture not in self.views:
            path = os.path.join(self.tmp, "original-" + fixture)
            with open(path, "wb") as f:
                f.write(self.fixture_data[fixture])
            self.originals[fixture] = self.readers.read(path)
            p, doc = zipmedic("verify", "--json", path)
            ok = p is not None and p.returncode == 0 and doc
            self.original_wants[fixture] = [(e["name"], e["uncompressed_size"], e["crc32"])
                                            for e in doc["entries"]] if ok else None
            self.original_methods[fixture] = methods_of(doc["entries"]) if ok else set()
            self.views[fixture] = {r: {reader_key(e, r) for e in res["entries"]} if res["ok"] else set()
                                   for r, res in self.originals[fixture].items()}
            os.unlink(path)
        return self.views[fixture][reader]

    def inherited(self, fixture, reader, res, want):
        """True when the reader did the same with the unmutated fixture (refused it, or returned the
        same difference): the failure belongs to the fixture's class, not to the mutation."""
        self.original_view(fixture, reader)
        orig = self.originals[fixture][reader]
        orig_want = self.original_wants[fixture]
        # Nothing to inherit when verify did not call the fixture whole, or when the reader was
        # excused there for a method it lacks (the mutant may hide that method from verify).
        if orig_want is None or lacks(reader, self.original_methods[fixture]):
            return False
        if not res["ok"]:
            return not orig["ok"]
        same = compare(reader, orig["entries"], orig_want)[:2] == compare(reader, res["entries"], want)[:2]
        return orig["ok"] and same

    def _repaired(self, out, kind, fixture, ref, fails, facts, renamed=None):
        renamed = renamed or {}
        vp, vdoc = zipmedic("verify", "--json", out)
        ov = self.status(fails, "verify-repaired", vp, kind)
        # The verdict contract for the output as for any archive: a reader its report says lacks a
        # feature (a code-page name for Java) is not held to it, and one its name_charset_differs
        # warning names may show a name's bytes in another charset (a name that is not UTF-8,
        # written without bit 11).
        lacking = noted_readers(vdoc, ("lack",))
        warned = noted_readers({"findings": [f for f in (vdoc or {}).get("findings", [])
                                             if f.get("code") == "name_charset_differs"]}, ("warn",))
        if ov is not None and ov != 0:
            fails.append(("repair-unverified/" + kind, "verify of repair's output exits %d: %s" % (ov, _tail(vp))))
        results = self.readers.read(out)
        facts["repair_readers"] = {k: {"ok": v["ok"], "error": v["error"]} for k, v in results.items()}
        for reader in READERS:
            res = results[reader]
            if lacks(reader, ref.methods) or reader in lacking:
                continue
            if not res["ok"]:
                fails.append(("repair-refused/%s/%s" % (reader, kind), "%s: %s" % (reader, res["error"])))
                continue
            # The same name bytes decoded the same way as in the original are the original's name.
            seen = self.original_view(fixture, reader)
            allowed = ref.entries | set(renamed)
            foreign = [e for e in res["entries"] if reader_key(e, reader) not in allowed | seen]
            # A renamed entry whose original name this reader already decoded another way keeps
            # the writer's bit 11 and host: that decoding is the fixture's, not the repair's.
            decoded = [(k[0], reader_key(e, reader)[0]) for e in foreign for k in allowed
                       if k[1:] == reader_key(e, reader)[1:] and same_bytes_other_decoding(k[0], e)
                       and not (k in renamed and renamed[k] not in seen)]
            if decoded and reader not in warned:
                # repair writes the names: it chooses bit 11 and "version made by", so it owns
                # how readers decode them.
                fails.append(("repair-name-decoding/%s" % reader, "%s shows %s" % (
                    reader, ", ".join("%r as %r" % d for d in decoded[:3]))))
            foreign = [reader_key(e, reader) for e in foreign if not any(
                k[1:] == reader_key(e, reader)[1:] and same_bytes_other_decoding(k[0], e) for k in allowed)]
            if foreign:
                fails.append(("repair-foreign/%s/%s" % (reader, kind),
                              "%s reads entries the original did not hold: %s" % (reader, foreign[:4])))


# ---------------------------------------------------------------------------------------------
# Runs.

def load_fixtures(src=FIXTURES):
    out = {}
    for p in sorted(glob.glob(os.path.join(src, "*.zip"))):
        with open(p, "rb") as f:
            out[os.path.basename(p)] = f.read()
    if "infozip-pipe.zip" in out:
        out["infozip-pipe.zip+zip64-end"] = with_zip64_end(out["infozip-pipe.zip"])
    return out


def with_zip64_end(data):
    """The archive with a ZIP64 end record and locator (4.3.14, 4.3.15) and all-ones in the classic
    end record (4.4.1.4). No writer of the fixtures emits them for a small archive (they appear past
    65,535 entries or 4 GiB), yet their fields are what readers disagree on: this variant lets the
    mutator edit them."""
    rec = Records(data)
    entries, = struct.unpack_from("<H", data, rec.eocd + 10)
    cd_size, cd_off = struct.unpack_from("<II", data, rec.eocd + 12)
    z64 = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_off)
    loc = struct.pack("<4sIQI", b"PK\x06\x07", 0, rec.eocd - rec.base, 1)
    eocd = bytearray(data[rec.eocd:])
    struct.pack_into("<HHII", eocd, 8, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    return data[:rec.eocd] + z64 + loc + bytes(eocd)


_WORKER = {}


def _worker_init(fixture_data, run_tmp=None, refs=None, false_alarm_every=1):
    tmp = tempfile.mkdtemp(prefix="worker-", dir=run_tmp)
    _WORKER["fixtures"] = fixture_data
    _WORKER["names"] = sorted(fixture_data)
    _WORKER["checker"] = Checker(fixture_data, tmp, refs, false_alarm_every)
    _WORKER["tmp"] = tmp


def _worker_run(seed, index):
    m = make_mutant(_WORKER["names"], _WORKER["fixtures"], seed, index)
    try:
        fails, infos, facts = _WORKER["checker"].check(m)
    except Exception:  # a harness bug must not end a long run; it is reported as its own class
        import traceback
        fails, infos, facts = [("harness-error/" + m["kind"], traceback.format_exc()[-1500:])], [], {}
    return {"index": index, "fixture": m["fixture"], "kind": m["kind"], "detail": m["detail"], "data": m["data"],
            "fails": fails, "infos": infos, "facts": facts}


def _worker_close():
    if "checker" in _WORKER:
        _WORKER["checker"].close()
        shutil.rmtree(_WORKER["tmp"], ignore_errors=True)
        _WORKER.clear()


def _pool_task(args):
    seed, indices = args
    return [_worker_run(seed, i) for i in indices]


def run(count, seed, jobs=1, out_dir=None, keep_per_class=5, progress=None, fixture_data=None,
        false_alarm_every=1):
    """Check `count` mutants of run `seed`; returns a summary dict. With out_dir, each failure class
    keeps its `keep_per_class` smallest mutants there, with a .json note each. The false-alarm
    check (six more reader runs) is made on the exit-1 mutants whose index is a multiple of
    `false_alarm_every`."""
    fixture_data = fixture_data or load_fixtures()
    build_readers()
    # Built here, not in the workers: a pool whose initializer fails restarts it for ever.
    refs = {k: Reference(v) for k, v in fixture_data.items()}
    t0 = time.monotonic()
    results = []
    run_tmp = tempfile.mkdtemp(prefix="zipmedic-diff-")
    try:
        results = _run_all(count, seed, jobs, progress, fixture_data, run_tmp, refs, false_alarm_every)
    finally:
        shutil.rmtree(run_tmp, ignore_errors=True)
    return summarise(results, seed, time.monotonic() - t0, out_dir, keep_per_class)


def _run_all(count, seed, jobs, progress, fixture_data, run_tmp, refs, false_alarm_every=1):
    results = []
    if jobs <= 1:
        _worker_init(fixture_data, run_tmp, refs, false_alarm_every)
        try:
            for i in range(count):
                results.append(_worker_run(seed, i))
                if progress:
                    progress(len(results), count)
        finally:
            _worker_close()
    else:
        import multiprocessing
        chunks = [(seed, list(range(i, min(count, i + 20)))) for i in range(0, count, 20)]
        ctx = multiprocessing.get_context("fork")
        # Each worker's reader processes see their stdin close, and end, when the worker ends.
        with ctx.Pool(jobs, initializer=_worker_init,
                      initargs=(fixture_data, run_tmp, refs, false_alarm_every)) as pool:
            for batch in pool.imap_unordered(_pool_task, chunks):
                results += batch
                if progress:
                    progress(len(results), count)
    return results


def wrong_exit0(cls):
    """A class saying verify exit 0 while a reader refused or read other bytes or another name (a
    name decoded with another charset is a warning the report owes, not a wrong verdict)."""
    return re.match(r"verify-ok-(refused|timeout|differs)/", cls) is not None


def false_alarm(cls):
    return cls.startswith("false-alarm/")


def summarise(results, seed, seconds, out_dir, keep_per_class):
    classes = collections.defaultdict(list)
    infos = collections.Counter()
    verify_ok = verify_damaged = wrong0 = false1 = 0
    for r in results:
        verify_ok += r["facts"].get("verify") == 0
        verify_damaged += r["facts"].get("verify") == 1
        wrong0 += any(wrong_exit0(c) for c, _ in r["fails"])
        false1 += any(false_alarm(c) for c, _ in r["fails"])
        for cls, detail in {c: d for c, d in r["fails"]}.items():
            classes[cls].append((r, detail))
        for cls in {c for c, _ in r["infos"]}:
            infos[cls] += 1
    summary = {"seed": seed, "mutants": len(results), "seconds": round(seconds, 1), "verify_ok": verify_ok,
               "verify_damaged": verify_damaged, "wrong_exit0": wrong0, "false_alarms": false1,
               "failing_mutants": sum(1 for r in results if r["fails"]),
               "classes": {}, "infos": dict(infos)}
    for cls, hits in sorted(classes.items()):
        hits.sort(key=lambda h: (h[0]["kind"] != "none", h[0]["kind"] == "multi-field", len(h[0]["data"]),
                                 h[0]["index"]))
        entry = {"count": len(hits), "mutants": sorted(h[0]["index"] for h in hits), "example": {"index": hits[0][0]["index"], "fixture": hits[0][0]["fixture"],
                                                 "mutation": hits[0][0]["detail"], "failure": hits[0][1]}}
        if out_dir:
            d = os.path.join(out_dir, re.sub(r"[^A-Za-z0-9._-]+", "_", cls))
            os.makedirs(d, exist_ok=True)
            files = []
            for r, detail in hits[:keep_per_class]:
                base = os.path.join(d, "seed%s-%d" % (seed, r["index"]))
                with open(base + ".zip", "wb") as f:
                    f.write(r["data"])
                with open(base + ".json", "w") as f:
                    json.dump({"class": cls, "failure": detail, "seed": seed, "index": r["index"],
                               "fixture": r["fixture"], "mutation": r["detail"], "kind": r["kind"],
                               "all_failures": r["fails"], "facts": r["facts"],
                               "sha256": hashlib.sha256(r["data"]).hexdigest()}, f, indent=1)
                files.append(base + ".zip")
            entry["files"] = files
        summary["classes"][cls] = entry
    return summary


def table(summary):
    n = max(1, summary["mutants"])
    lines = ["%d mutants (seed %s) in %.0f s; verify exit 0 on %d, exit 1 on %d; %d mutants with failures" % (
        summary["mutants"], summary["seed"], summary["seconds"], summary["verify_ok"],
        summary.get("verify_damaged", 0), summary["failing_mutants"]),
        "wrong exit 0 (a reader refuses or reads other bytes or names): %d mutants" % summary.get("wrong_exit0", 0),
        "false alarm (exit 1, every reader reads the original's bytes and names): %d mutants" % summary.get(
            "false_alarms", 0)]
    groups = [("wrong exit 0", wrong_exit0), ("false alarm", false_alarm),
              ("other failure", lambda c: not wrong_exit0(c) and not false_alarm(c))]
    for title, pick in groups:
        rows = sorted(((c, e) for c, e in summary["classes"].items() if pick(c)),
                      key=lambda kv: (-kv[1]["count"], kv[0]))
        if rows:
            lines += ["", "%-64s %7s %9s" % (title + ": class (check/reader/mutation)", "count", "per 1000")]
            lines += ["%-64s %7d %9.1f" % (c, e["count"], 1000.0 * e["count"] / n) for c, e in rows]
    if summary["infos"]:
        lines += ["", "%-64s %7s" % ("info (no rule decides)", "count")]
        for cls, c in sorted(summary["infos"].items(), key=lambda kv: -kv[1]):
            lines.append("%-64s %7d" % (cls, c))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Differential fuzzer: zipmedic against six ZIP readers.")
    ap.add_argument("count", nargs="?", type=int, default=20000, help="mutants to check (default 20000)")
    ap.add_argument("seed", nargs="?", default="1", help="run seed (default 1)")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("-o", "--out", default="diff-failures", help="folder for failing mutants")
    ap.add_argument("--keep", type=int, default=5, help="mutants kept per failure class")
    ap.add_argument("--false-alarm-every", type=int, default=1, metavar="N",
                    help="read with the six readers only every Nth mutant verify calls damaged (default 1: all)")
    args = ap.parse_args(argv)
    if not os.access(ZIPMEDIC, os.X_OK):
        print("differential: no zipmedic at %s (set ZIPMEDIC)" % ZIPMEDIC, file=sys.stderr)
        return 2
    last = [0.0]

    def progress(done, total):
        if time.monotonic() - last[0] > 10 or done == total:
            last[0] = time.monotonic()
            print("differential: %d/%d mutants" % (done, total), file=sys.stderr, flush=True)

    summary = run(args.count, args.seed, args.jobs, args.out, args.keep, progress,
                  false_alarm_every=args.false_alarm_every)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(table(summary))
    print("\nmutants and notes: %s/<class>/; summary: %s/summary.json" % (args.out, args.out))
    return 1 if summary["classes"] or summary["wrong_exit0"] or summary["false_alarms"] else 0


if __name__ == "__main__":
    sys.exit(main())
