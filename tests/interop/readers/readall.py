"""CPython's zipfile (run with /usr/bin/python3) as one of the six readers of the differential test
(tests/interop/differential.py). Reads archive paths from stdin, one per line, and prints one JSON
line per archive: what zipfile returns for every entry, or why it refused."""
import json
import sys
import zipfile
import zlib


def raw_name(info):
    # zipfile decodes a name without bit 11 as CP437 (APPNOTE appendix D); encoding it back gives
    # the bytes in the archive, which the driver compares when the decodings differ.
    return info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "surrogateescape").hex()


def read_archive(path):
    res = {"path": path, "ok": True, "error": "", "entries": []}
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                crc, size = 0, 0
                with z.open(info) as f:
                    while True:
                        chunk = f.read(1 << 16)
                        if not chunk:
                            break
                        crc = zlib.crc32(chunk, crc)
                        size += len(chunk)
                res["entries"].append({"name": info.filename, "raw": raw_name(info), "size": size,
                                       "crc32": "%08x" % crc})
    except Exception as e:  # every exception zipfile raises is a refusal (BadZipFile, NotImplementedError, ...)
        res["ok"], res["error"], res["entries"] = False, "%s: %s" % (type(e).__name__, e), []
    return res


def main():
    for line in sys.stdin:
        path = line.rstrip("\n")
        if path:
            sys.stdout.write(json.dumps(read_archive(path)) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
