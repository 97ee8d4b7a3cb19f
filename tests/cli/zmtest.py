"""Shared helpers for the CLI and interop tests: the binary, the fixtures, named byte edits."""
import csv
import json
import os
import shutil
import struct
import subprocess
import zipfile

SRC = os.environ.get("ZIPMEDIC_SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ZIPMEDIC = os.environ.get("ZIPMEDIC", os.path.join(SRC, "build", "zipmedic"))
FIXTURES = os.path.join(SRC, "fixtures")


def need(tool):
    """The path of a tool the tests run (a reader, a writer, a shell). scripts/setup installs every
    one from Debian's packages, so a missing tool is a broken setup: it fails the test instead of
    skipping the check that needed it."""
    path = shutil.which(tool)
    if path is None:
        raise AssertionError("%s is not installed; run scripts/setup" % tool)
    return path


def fixtures():
    with open(os.path.join(FIXTURES, "MANIFEST.tsv")) as f:
        return [row["file"] for row in csv.DictReader(f, delimiter="\t")]


def fixture_path(name):
    return os.path.join(FIXTURES, name)


def read(name):
    with open(fixture_path(name), "rb") as f:
        return f.read()


def run(*args, stdin=subprocess.DEVNULL, input=None, timeout=300):
    kw = {"input": input} if input is not None else {"stdin": stdin}
    return subprocess.run([ZIPMEDIC, *args], capture_output=True, timeout=timeout, **kw)


_SCHEMA = None


def schema():
    """docs/report.schema.json, which every JSON document the tests see must satisfy."""
    global _SCHEMA
    if _SCHEMA is None:
        with open(os.path.join(SRC, "docs", "report.schema.json")) as f:
            _SCHEMA = json.load(f)
    return _SCHEMA


def validate(doc):
    import jsonschema
    jsonschema.validate(doc, schema())
    return doc


def reports(out):
    """Every line of --json output (JSON Lines: a report per archive, then a summary for several),
    each validated against the schema."""
    text = out.decode() if isinstance(out, bytes) else out
    assert text == "" or text.endswith("\n"), text[-200:]
    return [validate(json.loads(line)) for line in text.splitlines()]


def report(out):
    """The one report of a single archive's --json output: one line, validated."""
    docs = reports(out)
    assert len(docs) == 1, "%d JSON lines where one was expected" % len(docs)
    return docs[0]


def run_json(*args, **kw):
    p = run(*args, "--json", **kw)
    doc = report(p.stdout) if p.stdout.strip() else None
    return p, doc


def codes(doc, entry=None):
    return {f["code"] for f in doc["findings"] if entry is None or f["entry"] == entry}


class Layout:
    """Where each entry of an intact archive lies: from Python's zipfile, which reads the
    central directory, so the tests do not depend on zipmedic's own parser."""

    def __init__(self, data):
        import io
        self.data = data
        z = zipfile.ZipFile(io.BytesIO(data))
        self.infos = sorted(z.infolist(), key=lambda i: i.header_offset)
        self.contents = {i.filename: z.read(i) for i in self.infos}
        end = data.rfind(b"PK\x05\x06")
        self.eocd = end
        cd_size, cd_off = struct.unpack("<II", data[end + 12:end + 20])
        self.cd_start = end - cd_size
        # zip64 end record + locator sit between directory and end record when present
        loc = data.rfind(b"PK\x06\x07", 0, end)
        if loc != -1 and loc == end - 20:
            z64 = struct.unpack("<Q", data[loc + 8:loc + 16])[0]
            shift = self.cd_start - cd_off if cd_off != 0xFFFFFFFF else 0
            zoff = data.rfind(b"PK\x06\x06", 0, loc)
            cd_size64 = struct.unpack("<Q", data[zoff + 40:zoff + 48])[0]
            self.cd_start = zoff - cd_size64
        self.shift = self.cd_start - (z.start_dir if hasattr(z, "start_dir") else self.cd_start)
        base = self.cd_start - z.start_dir  # concat offset Python computed for prefixed archives
        self.starts = [i.header_offset + base for i in self.infos]

    def extent(self, k):
        """[start, end) of entry k: from its local header to the next one (or the directory)."""
        end = self.starts[k + 1] if k + 1 < len(self.starts) else self.cd_start
        return self.starts[k], end

    def data_offset(self, k):
        s = self.starts[k]
        n, m = struct.unpack("<HH", self.data[s + 26:s + 30])
        return s + 30 + n + m

    def cd_record(self, k):
        """Offset of entry k's central directory record (directory order = header order here)."""
        p = self.cd_start
        order = sorted(range(len(self.infos)), key=lambda i: self.infos[i].header_offset)
        records = []
        while self.data[p:p + 4] == b"PK\x01\x02":
            n, m, c = struct.unpack("<HHH", self.data[p + 28:p + 34])
            records.append(p)
            p += 46 + n + m + c
        return records[order[k]] if len(records) == len(order) else records[k]


def replace_name(data, lay, k, new_name, local=True, central=True):
    """Named byte edit: entry k's name replaced by another of the same length."""
    b = bytearray(data)
    old = lay.infos[k].orig_filename.encode("utf-8") if lay.infos[k].flag_bits & 0x800 else \
        lay.infos[k].orig_filename.encode("cp437")
    assert len(old) == len(new_name), (old, new_name)
    if local:
        s = lay.starts[k]
        b[s + 30:s + 30 + len(old)] = new_name
    if central:
        r = lay.cd_record(k)
        b[r + 46:r + 46 + len(old)] = new_name
    return bytes(b)


def name_of(info):
    """The entry's raw name bytes shown as zipmedic shows them: Info-ZIP writes UTF-8 without
    bit 11, which Python decodes as CP437."""
    raw = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return info.orig_filename


import tempfile  # noqa: E402
import unittest  # noqa: E402


class TempDirTest(unittest.TestCase):
    """A fresh temporary directory per test, with a helper to write a file into it."""

    def setUp(self):
        self.tmpdir = tempfile.TemporaryDirectory()
        self.tmp = self.tmpdir.name

    def tearDown(self):
        self.tmpdir.cleanup()

    def write(self, name, data):
        p = os.path.join(self.tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        return p
