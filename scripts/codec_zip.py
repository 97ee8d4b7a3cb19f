#!/usr/bin/env python3
"""Test-only ZIP writer for the methods no Debian tool writes into a ZIP: zstd (93) and xz (95).

    codec_zip.py zstd|xz OUT DIR [--descriptor]

Each file under DIR becomes one entry, compressed by the `zstd` or `xz` command-line tool as
7-Zip-zstd and WinZip do: the whole entry is one zstd frame, or one .xz stream (APPNOTE 4.4.5).
With --descriptor the sizes and CRC follow the data in a signed data descriptor (bit 3), as a
writer into a pipe does, and the compressor reads from a pipe too, so zstd frames carry no content
size. Directories and empty files are stored entries. Names are UTF-8 with bit 11 set.

This shares nothing with zipmedic's own repair code: tests compare one writer against the other.
"""
import os
import struct
import subprocess
import sys
import zlib

METHODS = {"zstd": 93, "xz": 95}
# APPNOTE 4.4.3.2: 6.3 is the version that lists these methods.
VERSION_NEEDED = 63
DOS_TIME, DOS_DATE = 0x6000, 0x5B7C  # 2025-11-28 12:00:00, a fixed stamp keeps outputs stable


def compress(method, data, piped):
    if method == "zstd":
        cmd = ["zstd", "-q", "-c", "-19"]
    else:
        cmd = ["xz", "--format=xz", "-q", "-c", "-6"]
    if piped:
        return subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
    # From a file, zstd records the content size in the frame header.
    import tempfile
    with tempfile.NamedTemporaryFile() as t:
        t.write(data)
        t.flush()
        return subprocess.run(cmd + [t.name], capture_output=True, check=True).stdout


def walk(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(d, os.path.dirname(root))
        out.append((rel + "/", None))
        for f in sorted(files):
            with open(os.path.join(d, f), "rb") as fh:
                out.append((rel + "/" + f, fh.read()))
    return out


def write(method, out_path, root, descriptor):
    code = METHODS[method]
    body = bytearray()
    central = bytearray()
    count = 0
    for name, data in walk(root):
        raw_name = name.encode("utf-8")
        is_dir = data is None
        # Empty files are stored, as 7-Zip and Info-ZIP write them; 7-Zip also reads an empty
        # .xz stream (header, index, footer) as leaving data after the payload.
        m = 0 if is_dir or not data else code
        payload = compress(method, data, descriptor) if m else b""
        crc = 0 if is_dir else zlib.crc32(data)
        usize = 0 if is_dir else len(data)
        flags = 0x800 | (0x08 if descriptor and m else 0)
        offset = len(body)
        known = not (flags & 0x08)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, VERSION_NEEDED if m else 20, flags, m, DOS_TIME, DOS_DATE,
                            crc if known else 0, len(payload) if known else 0, usize if known else 0,
                            len(raw_name), 0)
        body += raw_name + payload
        if not known:
            body += struct.pack("<IIII", 0x08074B50, crc, len(payload), usize)
        attrs = (0o40755 << 16 | 0x10) if is_dir else (0o100644 << 16)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0300 | VERSION_NEEDED, VERSION_NEEDED if m else 20,
                               flags, m, DOS_TIME, DOS_DATE, crc, len(payload), usize, len(raw_name), 0, 0, 0, 0,
                               attrs, offset)
        central += raw_name
        count += 1
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), len(body), 0)
    with open(out_path, "wb") as f:
        f.write(body + central + eocd)


def main(argv):
    if len(argv) < 4 or argv[1] not in METHODS:
        sys.exit(__doc__)
    write(argv[1], argv[2], os.path.abspath(argv[3]), "--descriptor" in argv[4:])


if __name__ == "__main__":
    main(sys.argv)
