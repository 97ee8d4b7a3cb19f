"""Every finding code in src/report/codes.def, produced for real (issue 23).

CASES holds one small case per code: a fixture (fixtures/MANIFEST.tsv: made by real writers) with a
named byte edit, an archive a real tool makes here, or one laid out by Python's zipfile. Each runs
the command the code belongs to and checks only that the code is in the JSON report's findings and
the exit status man/zipmedic.1 gives for it (EXIT STATUS: 0 whole, 1 damage or restore refused,
3 cannot proceed or locked). Readers, severities and messages are checked elsewhere.

A code added to codes.def without a case here fails test_every_code_has_a_case.
"""
import io
import json
import os
import re
import struct
import subprocess
import sys
import unittest
import warnings
import zipfile

from zmtest import FIXTURES, SRC, ZIPMEDIC, Layout, TempDirTest, fixture_path, need, read, replace_name, report

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import sysreptor_backup as sb  # noqa: E402

CODES_DEF = os.path.join(SRC, "src", "report", "codes.def")
PASSWORD = "zipmedic-pw"  # scripts/make-fixtures, the password of fixtures/encrypted/
KEY = bytes(range(32))

# Codes that no input can produce, each with the reason: none today.
DEAD_CODES = {}


def defined_codes():
    with open(CODES_DEF) as f:
        return re.findall(r"^ZM_CODE\((\w+),", f.read(), re.M)


CASES = {}  # code -> (exit status, case); a case takes the test and returns (process, report)


def case(code, exit_status):
    def register(fn):
        assert code not in CASES, code
        CASES[code] = (exit_status, fn)
        return fn
    return register


def patched(data, *edits):
    """`data` with each (offset, struct format, value) written in."""
    b = bytearray(data)
    for at, fmt, value in edits:
        struct.pack_into(fmt, b, at, value)
    return bytes(b)


def index_of(lay, suffix):
    return next(i for i, x in enumerate(lay.infos) if x.filename.endswith(suffix))


def records(data):
    """name -> (directory record, local header) offsets, read with struct: Layout reads the
    contents too, which an encrypted archive refuses without its password."""
    end = data.rfind(b"PK\x05\x06")
    cd_size, cd_off = struct.unpack_from("<II", data, end + 12)
    at, out = end - cd_size, {}
    while data[at:at + 4] == b"PK\x01\x02":
        n, m, c = struct.unpack_from("<HHH", data, at + 28)
        out[data[at + 46:at + 46 + n].decode()] = (at, struct.unpack_from("<I", data, at + 42)[0])
        at += 46 + n + m + c
    return out


def encrypted(name):
    with open(os.path.join(FIXTURES, "encrypted", name), "rb") as f:
        return f.read()


def insert_before_directory(data, blob):
    """`data` with `blob` between the last entry and the directory, the end record's directory
    offset moved past it (4.3.16)."""
    end = data.rfind(b"PK\x05\x06")
    cd_off, = struct.unpack_from("<I", data, end + 16)
    return patched(data[:cd_off] + blob + data[cd_off:], (end + len(blob) + 16, "<I", cd_off + len(blob)))


def seven_zip_pieces(t):
    """The fixture tree split by 7-Zip into NAME.zip.001 ... pieces of 16 KiB (three of them)."""
    out = os.path.join(t.tmp, "pieces")
    os.makedirs(out)
    subprocess.run([need("7z"), "a", "-tzip", "-bso0", "-bsp0", "-v16k", os.path.join(out, "s.zip"), "backup"],
                   cwd=os.path.join(FIXTURES, "tree"), check=True)
    pieces = sorted(os.path.join(out, n) for n in os.listdir(out))
    t.assertGreaterEqual(len(pieces), 3)
    return pieces


# --- The end records and the directory (APPNOTE 4.3.12-4.3.16) ---

@case("eocd_missing", 1)
def eocd_missing(t):
    # A download that stopped at 60 %: no end record in the file.
    data = read("infozip-file.zip")
    return t.zm("verify", t.write("cut.zip", data[:len(data) * 6 // 10]))


@case("eocd_inconsistent", 1)
def eocd_inconsistent(t):
    # The end record counts one entry more than the directory holds.
    data = read("infozip-file.zip")
    end = data.rfind(b"PK\x05\x06")
    count, = struct.unpack_from("<H", data, end + 10)
    return t.zm("verify", t.write("count.zip", patched(data, (end + 10, "<H", count + 1))))


@case("cd_unreadable", 1)
def cd_unreadable(t):
    # The directory zeroed where the end record points: the walk of the local headers takes over.
    data = read("infozip-pipe.zip")
    lay = Layout(data)
    b = bytearray(data)
    b[lay.cd_start:lay.eocd] = bytes(lay.eocd - lay.cd_start)
    return t.zm("verify", t.write("zeroed.zip", bytes(b)))


@case("zip64_inconsistent", 1)
def zip64_inconsistent(t):
    # Info-ZIP's forced ZIP64 (zip -fz) with the locator's total disks 0, as OneDrive writes it
    # (4.3.15; docs/readers.md, rule 11).
    out = os.path.join(t.tmp, "fz.zip")
    subprocess.run([need("zip"), "-q", "-fz", "-r", out, "backup"], cwd=os.path.join(FIXTURES, "tree"), check=True)
    with open(out, "rb") as f:
        data = f.read()
    loc = data.rfind(b"PK\x06\x07")
    return t.zm("verify", t.write("onedrive.zip", patched(data, (loc + 16, "<I", 0))))


@case("disk_number_nonzero", 1)
def disk_number_nonzero(t):
    # A directory record's disk number start 1 in a single-volume archive (4.4.13).
    data = read("infozip-file.zip")
    lay = Layout(data)
    return t.zm("verify", t.write("disk.zip", patched(data, (lay.cd_record(1) + 34, "<H", 1))))


@case("version_unsupported", 1)
def version_unsupported(t):
    # Version needed to extract 6.4 in the directory (4.4.3): Python refuses above 6.3.
    data = read("infozip-file.zip")
    lay = Layout(data)
    return t.zm("verify", t.write("v64.zip", patched(data, (lay.cd_record(1) + 6, "<H", 64))))


@case("extra_field_malformed", 1)
def extra_field_malformed(t):
    # An extended timestamp (0x5455) of no bytes added to a directory record (docs/readers.md,
    # rule 26), the directory size grown to hold it.
    data = read("python-stream-stored.zip")
    r = Layout(data).cd_record(0)
    n, m = struct.unpack_from("<HH", data, r + 28)
    b = data[:r + 46 + n + m] + b"UT\x00\x00" + data[r + 46 + n + m:]
    end = b.rfind(b"PK\x05\x06")
    cd_size, = struct.unpack_from("<I", b, end + 12)
    return t.zm("verify", t.write("ut.zip", patched(b, (r + 30, "<H", m + 4), (end + 12, "<I", cd_size + 4))))


# --- Entries: headers, data, descriptors ---

@case("cd_lfh_mismatch", 1)
def cd_lfh_mismatch(t):
    # An entry renamed in the directory only.
    data = read("infozip-file.zip")
    lay = Layout(data)
    k = index_of(lay, "a.bin")
    old = lay.infos[k].filename.encode()
    return t.zm("verify", t.write("renamed.zip", replace_name(data, lay, k, old[:-5] + b"z.bin", local=False)))


@case("local_header_unreadable", 1)
def local_header_unreadable(t):
    # The second entry's local header signature gone ("PK\3\4" -> "XK\3\4"), where the directory points.
    data = read("infozip-file.zip")
    lay = Layout(data)
    return t.zm("verify", t.write("nosig.zip", patched(data, (lay.starts[1], "<B", ord("X")))))


@case("crc_mismatch", 1)
def crc_mismatch(t):
    # One bit of a stored entry's data flipped.
    data = read("python-stream-stored.zip")
    lay = Layout(data)
    at = lay.data_offset(1) + 5
    return t.zm("verify", t.write("flip.zip", patched(data, (at, "<B", data[at] ^ 1))))


@case("size_mismatch", 1)
def size_mismatch(t):
    # A stored entry's uncompressed size one more than its data, in both headers alike.
    data = read("infozip-file.zip")
    lay = Layout(data)
    k = index_of(lay, "VERSION")
    size = lay.infos[k].file_size + 1
    return t.zm("verify", t.write("size.zip", patched(data, (lay.starts[k] + 22, "<I", size),
                                                      (lay.cd_record(k) + 24, "<I", size))))


@case("decode_error", 1)
def decode_error(t):
    # A Deflate stream that starts with the reserved block type 3 (RFC 1951 3.2.3).
    data = read("zipstream-ng-sysreptor.zip")
    lay = Layout(data)
    k = index_of(lay, "uploadedassets/a5c11300-0000.bin")
    return t.zm("verify", t.write("btype3.zip", patched(data, (lay.data_offset(k), "<B", 0x07))))


@case("entry_truncated", 1)
def entry_truncated(t):
    # The same stopped download: the file ends inside an entry.
    data = read("infozip-file.zip")
    return t.zm("verify", t.write("cut.zip", data[:len(data) * 6 // 10]))


@case("descriptor_mismatch", 1)
def descriptor_mismatch(t):
    # Info-ZIP into a pipe: the first data descriptor's CRC changed (4.3.9; Go checks it).
    data = read("infozip-pipe.zip")
    dd = data.find(b"PK\x07\x08")
    return t.zm("verify", t.write("ddcrc.zip", patched(data, (dd + 4, "<I", 0xDEADBEEF))))


@case("descriptor_sizes_mismatch", 0)
def descriptor_sizes_mismatch(t):
    # The first descriptor's compressed size off by 256 KiB; its CRC and the directory agree.
    data = read("infozip-pipe.zip")
    dd = data.find(b"PK\x07\x08")
    size, = struct.unpack_from("<I", data, dd + 8)
    return t.zm("verify", t.write("ddsize.zip", patched(data, (dd + 8, "<I", size + 0x40000))))


@case("descriptor_missing", 1)
def descriptor_missing(t):
    # Python's zipfile into a pipe (bit 3): the last entry's compressed size in the directory runs
    # its data to 5 bytes before the end of the file, where no 12-byte descriptor fits (4.3.9).
    data = read("python-stream-stored.zip")
    lay = Layout(data)
    k = len(lay.infos) - 1
    size = len(data) - 5 - lay.data_offset(k)
    return t.zm("verify", t.write("nodd.zip", patched(data, (lay.cd_record(k) + 20, "<I", size))))


@case("local_descriptor_conflict", 1)
def local_descriptor_conflict(t):
    # A bit-3 entry's local CRC made non-zero (4.4.4 says zero); libarchive compares it.
    data = read("infozip-pipe.zip")
    lay = Layout(data)
    k = index_of(lay, "records.jsonl")
    return t.zm("verify", t.write("lcrc.zip", patched(data, (lay.starts[k] + 14, "<I", 0x12345678))))


@case("overlapping_entries", 1)
def overlapping_entries(t):
    # Two directory records pointing at the same local header.
    data = read("infozip-file.zip")
    lay = Layout(data)
    r1, r2 = lay.cd_record(1), lay.cd_record(2)
    return t.zm("verify", t.write("overlap.zip", data[:r2 + 42] + data[r1 + 42:r1 + 46] + data[r2 + 46:]))


@case("unsupported_method", 1)
def unsupported_method(t):
    # A stored entry relabelled Imploded (method 6) in both headers: nothing here decodes it.
    data = read("python-stream-stored.zip")
    lay = Layout(data)
    return t.zm("verify", t.write("implode.zip", patched(data, (lay.starts[1] + 8, "<H", 6),
                                                         (lay.cd_record(1) + 10, "<H", 6))))


@case("entry_unconfirmed", 1)
def entry_unconfirmed(t):
    # scan of Info-ZIP's archive with 64 bytes that are no record right after the empty entry's
    # header: nothing vouches for an empty entry but the record that follows it.
    data = read("infozip-file.zip")
    lay = Layout(data)
    k = index_of(lay, "empty.txt")
    return t.zm("scan", t.write("unconfirmed.zip", data[:lay.data_offset(k)] + b"\xAA" * 64 + data[lay.starts[k + 1]:]))


@case("damaged_stretch", 1)
def damaged_stretch(t):
    # scan over 64 bytes of noise between two entries: the walk resumes at the next header.
    data = read("infozip-file.zip")
    lay = Layout(data)
    return t.zm("scan", t.write("noise.zip", data[:lay.starts[3]] + b"\xAA" * 64 + data[lay.starts[3]:]))


@case("gap_bytes", 0)
def gap_bytes(t):
    # 64 zero bytes between the last entry and the directory that no entry accounts for.
    return t.zm("verify", t.write("gap.zip", insert_before_directory(read("infozip-file.zip"), bytes(64))))


@case("unreferenced_local_header", 0)
def unreferenced_local_header(t):
    # A whole entry from Python's zipfile put before the directory, which does not list it.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("stowaway.txt", b"not in the directory\n")
    stowaway = buf.getvalue()[:buf.getvalue().find(b"PK\x01\x02")]
    return t.zm("verify", t.write("stowaway.zip", insert_before_directory(read("infozip-file.zip"), stowaway)))


@case("trailing_bytes", 0)
def trailing_bytes(t):
    # 100 zero bytes after the end record, as bsdtar's block padding leaves them.
    return t.zm("verify", t.write("padded.zip", read("python-stream-stored.zip") + bytes(100)))


@case("prefix_bytes", 0)
def prefix_bytes(t):
    # A self-extractor stub whose offsets zip -A adjusted.
    return t.zm("verify", fixture_path("sfx-adjusted.zip"))


@case("prefix_unrecognised", 1)
def prefix_unrecognised(t):
    # A shell-script stub put before the archive with offsets not counting it: 7-Zip cannot open it.
    return t.zm("verify", fixture_path("sfx-shifted.zip"))


# --- Names, comments and what an entry is ---

@case("duplicate_name", 1)
def duplicate_name(t):
    # Python's zipfile writes a name twice (with a UserWarning).
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("a.txt", b"first\n")
            z.writestr("a.txt", b"second\n")
    return t.zm("verify", t.write("twice.zip", buf.getvalue()))


@case("unsafe_path", 1)
def unsafe_path(t):
    # A name starting with '../', which could write outside the restore target.
    data = read("infozip-file.zip")
    lay = Layout(data)
    k = index_of(lay, "a.bin")
    old = lay.infos[k].filename.encode()
    return t.zm("verify", t.write("dotdot.zip", replace_name(data, lay, k, b"../" + old[3:])))


@case("name_invalid", 1)
def name_invalid(t):
    # A name whose bit 11 says UTF-8 but whose bytes are not (4.4.4): Java, Python and libarchive
    # refuse the archive (docs/readers.md, rule 51). Python writes "añb.txt" with bit 11; one byte
    # of the name, in both headers, becomes 0xff.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a\u00f1b.txt", b"a\n")
    data = buf.getvalue().replace("a\u00f1b.txt".encode(), b"a\xff\xb1b.txt")
    return t.zm("verify", t.write("bad-utf8.zip", data))


@case("name_charset_differs", 0)
def name_charset_differs(t):
    # Info-ZIP stores the UTF-8 name of Bericht-übersicht.md without bit 11: Python shows CP437.
    return t.zm("verify", fixture_path("infozip-file.zip"))


@case("comment_invalid", 1)
def comment_invalid(t):
    # An entry comment in Latin-1 (4.3.12's file comment) on an entry whose bit 11 says UTF-8 (a
    # non-ASCII name makes Python set it): Java's ZipFile decodes it as UTF-8 and refuses the archive.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("caf\u00e9.txt")
        info.comment = b"caf\xe9"
        z.writestr(info, b"a\n")
    return t.zm("verify", t.write("latin1.zip", buf.getvalue()))


@case("directory_with_data", 1)
def directory_with_data(t):
    # Python's zipfile writes data under a name ending in '/' (docs/readers.md, rule 66).
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", b"a\n")
        z.writestr(zipfile.ZipInfo("d/"), b"data in a folder\n")
    return t.zm("verify", t.write("folder.zip", buf.getvalue()))


@case("entry_kind_differs", 1)
def entry_kind_differs(t):
    # An empty file's attributes set to a Unix directory (040755): 7-Zip and libarchive make a folder.
    data = read("infozip-file.zip")
    lay = Layout(data)
    k = index_of(lay, "empty.txt")
    return t.zm("verify", t.write("dirattr.zip", patched(data, (lay.cd_record(k) + 38, "<I", 0o40755 << 16))))


@case("mode_dropped", 0)
def mode_dropped(t):
    # Info-ZIP's zip keeps a setuid bit, which restore strips.
    src = os.path.join(t.tmp, "tree")
    os.makedirs(src)
    with open(os.path.join(src, "run"), "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(os.path.join(src, "run"), 0o4755)
    out = os.path.join(t.tmp, "setuid.zip")
    subprocess.run([need("zip"), "-q", out, "run"], cwd=src, check=True)
    return t.zm("verify", out)


@case("name_too_long", 0)
def name_too_long(t):
    # A 300-byte component: no Linux file system holds it.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("d/" + "n" * 300, b"data\n")
    return t.zm("verify", t.write("long.zip", buf.getvalue()))


@case("symlink_entry", 0)
def symlink_entry(t):
    # Info-ZIP's zip -y stores the link itself.
    src = os.path.join(t.tmp, "tree")
    os.makedirs(src)
    with open(os.path.join(src, "target.txt"), "w") as f:
        f.write("data\n")
    os.symlink("target.txt", os.path.join(src, "link"))
    out = os.path.join(t.tmp, "links.zip")
    subprocess.run([need("zip"), "-q", "-y", "-r", out, "."], cwd=src, check=True)
    return t.zm("verify", out)


@case("readers_lack_feature", 0)
def readers_lack_feature(t):
    # Deflate64 (method 9): Python, Go, Java and libarchive lack it.
    return t.zm("verify", fixture_path("7zip-deflate64.zip"))


# --- Encryption (APPNOTE 6.1 ZipCrypto, 7.2 strong encryption; WinZip AE-2) ---

@case("password_needed", 3)
def password_needed(t):
    # 7-Zip's AES-256 (AE-2) without a password: structure checked, data not (verdict locked).
    return t.zm("verify", t.write("aes.zip", encrypted("7zip-aes256.zip")))


@case("password_wrong", 3)
def password_wrong(t):
    # The AES password verifier (2 bytes after the salt) does not match.
    return t.zm("verify", t.write("aes.zip", encrypted("7zip-aes256.zip")), "--password", "not-the-password")


@case("auth_mismatch", 1)
def auth_mismatch(t):
    # One bit of AES ciphertext flipped, past the salt and verifier, before the MAC.
    data = encrypted("7zip-aes256.zip")
    _, lfh = records(data)["backup/data/a.bin"]
    at = lfh + 200
    return t.zm("verify", t.write("aes.zip", patched(data, (at, "<B", data[at] ^ 0x10))), "--password", PASSWORD)


@case("encrypted_entry", 1)
def encrypted_entry(t):
    # 7-Zip's ZipCrypto with bit 6 (PKWARE strong encryption) set in both headers of one entry.
    data = encrypted("7zip-zipcrypto.zip")
    cd, lfh = records(data)["backup/data/a.bin"]
    flags = struct.unpack_from("<H", data, lfh + 6)[0] | 0x40
    return t.zm("verify", t.write("strong.zip", patched(data, (lfh + 6, "<H", flags), (cd + 8, "<H", flags))),
                "--password", PASSWORD)


# --- SysReptor backups (scripts/sysreptor_backup.py: the layout and the .zip.crypt format) ---

@case("key_needed", 3)
def key_needed(t):
    # An encrypted backup and no --key (nor ZIPMEDIC_KEY, which zm() leaves out).
    return t.zm("verify", t.write("b.zip.crypt", sb.encrypt(sb.backup_bytes(), KEY)))


@case("crypt_tag_mismatch", 1)
def crypt_tag_mismatch(t):
    # The wrong key: the AES-GCM tag does not match.
    return t.zm("verify", t.write("b.zip.crypt", sb.encrypt(sb.backup_bytes(), KEY)), "--key", "ff" * 32)


@case("crypt_unauthenticated", 1)
def crypt_unauthenticated(t):
    # A download of the encrypted backup that stopped at 60 %: no tag to check.
    crypt = sb.encrypt(sb.backup_bytes(), KEY)
    return t.zm("repair", t.write("cut.zip.crypt", crypt[:len(crypt) * 6 // 10]), "--key", KEY.hex(),
                "-o", os.path.join(t.tmp, "fixed.zip"))


@case("profile_missing_entry", 1)
def profile_missing_entry(t):
    # A backup without backup.jsonl, which every SysReptor backup holds.
    return t.zm("verify", "--profile", "sysreptor", t.write("b.zip", sb.backup_bytes(drop=("backup.jsonl",))))


@case("profile_bad_content", 1)
def profile_bad_content(t):
    # A line of backup.jsonl cut in half with the CRC computed over the cut data.
    return t.zm("verify", "--profile", "sysreptor", t.write("b.zip", sb.backup_bytes(cut_jsonl_line=True)))


@case("backup_incomplete", 1)
def backup_incomplete(t):
    # SysReptor's streamed backup that never got to write stats.json.
    return t.zm("verify", "--profile", "sysreptor", t.write("b.zip", sb.backup_bytes(no_stats=True)))


# --- Split sets (APPNOTE 8.5) ---

@case("volume_missing", 1)
def volume_missing(t):
    # The middle piece deleted.
    pieces = seven_zip_pieces(t)
    os.remove(pieces[1])
    return t.zm("verify", pieces[0])


@case("volume_truncated", 1)
def volume_truncated(t):
    # The last piece cut in half: no end record at its end.
    pieces = seven_zip_pieces(t)
    os.truncate(pieces[-1], os.path.getsize(pieces[-1]) // 2)
    return t.zm("verify", pieces[0])


# --- repair and restore ---

@case("entry_salvaged", 1)
def entry_salvaged(t):
    # zipstream-ng's backup cut inside backup.jsonl; --salvage-partial keeps its intact start.
    data = read("zipstream-ng-sysreptor.zip")
    lay = Layout(data)
    s, e = lay.extent(index_of(lay, "backup.jsonl"))
    return t.zm("repair", t.write("cut.zip", data[:(s + e) // 2]), "-o", os.path.join(t.tmp, "out.zip"),
                "--salvage-partial")


@case("metadata_lost", 1)
def metadata_lost(t):
    # bsdtar's archive cut before its directory: the modes were only in the directory records.
    data = read("bsdtar-file.zip")
    lay = Layout(data)
    s, e = lay.extent(index_of(lay, "records.jsonl"))
    return t.zm("repair", t.write("cut.zip", data[:(s + e) // 2]), "-o", os.path.join(t.tmp, "out.zip"))


@case("restore_target_exists", 1)
def restore_target_exists(t):
    # A file of the user's where an entry of the archive would go, and no --force.
    out = os.path.join(t.tmp, "out")
    t.write("out/backup/VERSION", b"the user's own\n")
    return t.zm("restore", fixture_path("infozip-file.zip"), "-C", out)


@case("restore_through_symlink", 1)
def restore_through_symlink(t):
    # Python's zipfile: a link 'escape' to a folder outside the target, then a file under it.
    outside = os.path.join(t.tmp, "outside")
    os.makedirs(outside)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        link = zipfile.ZipInfo("escape")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        z.writestr(link, outside)
        z.writestr("escape/pwned.txt", b"pwned\n")
    return t.zm("restore", t.write("escape.zip", buf.getvalue()), "-C", os.path.join(t.tmp, "out"))


@case("restore_unwritable", 1)
def restore_unwritable(t):
    # Python's zipfile: a name component of 300 bytes, which no Linux filesystem takes (NAME_MAX).
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("d/" + "n" * 300, b"x\n")
    return t.zm("restore", t.write("long.zip", buf.getvalue()), "-C", os.path.join(t.tmp, "out"))


# --- Why nothing could be judged (exit 3, verdict unreadable) ---

@case("cannot_open", 3)
def cannot_open(t):
    # No such file.
    return t.zm("verify", os.path.join(t.tmp, "missing.zip"))


@case("empty_file", 3)
def empty_file(t):
    return t.zm("verify", t.write("empty.zip", b""))


@case("not_a_zip", 3)
def not_a_zip(t):
    # Text with no "PK" anywhere: neither an end record nor a local header.
    return t.zm("verify", t.write("text.zip", b"no signature of any ZIP record in here\n" * 50))


@case("io_failed", 3)
def io_failed(t):
    # A repair written to /dev/full, whose every write fails with ENOSPC (a full disk).
    data = read("infozip-file.zip")
    return t.zm("repair", t.write("cut.zip", data[:len(data) * 6 // 10]), "-o", "/dev/full")


class EveryCode(TempDirTest):
    def zm(self, *args):
        """zipmedic with --json, without a password or key from the environment."""
        env = {k: v for k, v in os.environ.items() if k not in ("ZIPMEDIC_PASSWORD", "ZIPMEDIC_KEY")}
        p = subprocess.run([ZIPMEDIC, *args, "--json"], capture_output=True, stdin=subprocess.DEVNULL, env=env,
                           timeout=120)
        return p, report(p.stdout) if p.stdout.strip() else None

    def write(self, name, data):
        os.makedirs(os.path.dirname(os.path.join(self.tmp, name)), exist_ok=True)
        return super().write(name, data)

    def test_every_code_has_a_case(self):
        defined = defined_codes()
        self.assertEqual(len(defined), len(set(defined)), "a code is defined twice in codes.def")
        self.assertEqual(set(DEAD_CODES) - set(defined), set(), "DEAD_CODES names codes that are not in codes.def")
        self.assertEqual(set(DEAD_CODES) & set(CASES), set(), "a code is both dead and produced")
        self.assertEqual(set(CASES), set(defined) - set(DEAD_CODES))


def _produces(code):
    exit_status, fn = CASES[code]

    def test(self):
        p, doc = fn(self)
        self.assertIsNotNone(doc, "no JSON report: %s" % p.stderr.decode(errors="replace"))
        found = sorted({f["code"] for f in doc["findings"]})
        self.assertIn(code, found, p.stderr.decode(errors="replace"))
        self.assertEqual(p.returncode, exit_status, found)
    return test


for _code in CASES:
    setattr(EveryCode, "test_produces_" + _code, _produces(_code))


if __name__ == "__main__":
    unittest.main()
