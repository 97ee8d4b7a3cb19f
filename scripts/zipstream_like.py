"""A writer that reproduces zipstream-ng's ZIP layout (the one SysReptor's backups use), as
described in ../shared/ZIP-NOTES.md: every file entry has bit 3 and deflate level 3; entries of
unknown size get a local ZIP64 extra with zero sizes, 0xFFFFFFFF in the header's size fields,
version 45 and a 24-byte descriptor with signature; entries given as bytes get zero sizes, no
extra and a 16-byte descriptor. The central directory carries a ZIP64 extra only for values above
0x7FFFFFFF, and ZIP64 end records appear only past 65,535 entries or 0x7FFFFFFF offsets.
Only DOS times, no other extra fields, bit 11 for UTF-8 names.

Streaming: `write_entry` takes an iterable of chunks and never holds a whole entry in memory, so
the benchmark can write a 2.5 GiB entry with it.
"""
import struct
import zlib

LIMIT = 0x7FFFFFFF


class ZipstreamLike:
    def __init__(self, out, dos_time=(2026, 11, 1, 3, 0, 0), level=3):
        self.out = out
        self.pos = 0
        self.entries = []
        y, mo, d, h, mi, s = dos_time
        self.date = ((y - 1980) << 9) | (mo << 5) | d
        self.time = (h << 11) | (mi << 5) | (s // 2)
        self.level = level

    def _w(self, b):
        self.out.write(b)
        self.pos += len(b)

    def write_entry(self, name, chunks, sized=False):
        """sized=True mimics an entry given as bytes (zero sizes, no extra, 16-byte descriptor);
        otherwise the entry is of unknown size (ZIP64 local extra, 24-byte descriptor)."""
        raw = name.encode("utf-8")
        flags = 0x0008 | (0x0800 if any(c > 127 for c in raw) else 0)
        offset = self.pos
        zip64 = not sized
        extra = struct.pack("<HHQQ", 1, 16, 0, 0) if zip64 else b""
        self._w(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, flags, 8, self.time, self.date,
                            0, 0xFFFFFFFF if zip64 else 0, 0xFFFFFFFF if zip64 else 0, len(raw), len(extra)))
        self._w(raw + extra)
        comp = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        crc = 0
        usize = 0
        csize = 0
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
            usize += len(chunk)
            c = comp.compress(chunk)
            csize += len(c)
            self._w(c)
        c = comp.flush()
        csize += len(c)
        self._w(c)
        if zip64:
            self._w(struct.pack("<IIQQ", 0x08074B50, crc, csize, usize))
        else:
            self._w(struct.pack("<IIII", 0x08074B50, crc, csize, usize))
        self.entries.append((raw, flags, crc, csize, usize, offset, zip64))

    def close(self):
        cd_start = self.pos
        for raw, flags, crc, csize, usize, offset, zip64 in self.entries:
            vals = []
            if usize > LIMIT:
                vals.append(usize)
            if csize > LIMIT:
                vals.append(csize)
            if offset > LIMIT:
                vals.append(offset)
            extra = struct.pack("<HH", 1, 8 * len(vals)) + b"".join(struct.pack("<Q", v) for v in vals) if vals else b""
            self._w(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 45, 45 if zip64 else 20, flags, 8,
                                self.time, self.date, crc,
                                0xFFFFFFFF if csize > LIMIT else csize,
                                0xFFFFFFFF if usize > LIMIT else usize,
                                len(raw), len(extra), 0, 0, 0, (0o100644 << 16),
                                0xFFFFFFFF if offset > LIMIT else offset))
            self._w(raw + extra)
        cd_size = self.pos - cd_start
        n = len(self.entries)
        if n > 0xFFFF or cd_start > LIMIT or cd_size > LIMIT:
            z64 = self.pos
            self._w(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_start))
            self._w(struct.pack("<IIQI", 0x07064B50, 0, z64, 1))
            self._w(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF),
                                min(cd_size, 0xFFFFFFFF), min(cd_start, 0xFFFFFFFF), 0))
        else:
            # Between 2 and 4 GiB the classic record holds real values (zipstream-ng's habit).
            self._w(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cd_size, cd_start, 0))
