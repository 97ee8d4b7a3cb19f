"""Deterministic SysReptor-shaped backup contents (layout from ../shared/ZIP-NOTES.md):
VERSION, migrations.json, configurations.json, backup.jsonl, files under uploadedimages/,
uploadedassets/, uploadedfiles/, archivedfiles/ (which start with C2 59 50 54), stats.json last."""
import json
import random

CRYPT_MAGIC = b"\xc2\x59\x50\x54"


def entries(scale=1.0, seed=42):
    """Yields (name, bytes) in SysReptor's order. scale=1 gives about 300 KB."""
    rnd = random.Random(seed)
    yield "VERSION", b"2026.11\n"
    yield "migrations.json", json.dumps([{"app": "pentests", "name": "0%03d_auto" % i} for i in range(40)]).encode()
    yield "configurations.json", json.dumps({"DEFAULT_LANGUAGE": "en", "GUEST_USERS_CAN_EDIT": False}).encode()
    lines = []
    models = ["pentests.pentestproject", "pentests.pentestfinding", "pentests.reportsection", "users.pentestuser"]
    for i in range(int(1200 * scale)):
        m = models[i % len(models)]
        lines.append(json.dumps({"model": m, "pk": "%08x-0000-4000-8000-%012x" % (i, rnd.getrandbits(48)),
                                 "fields": {"title": "Finding %d" % i, "cvss": rnd.choice(["7.5", "9.8", "4.3"]),
                                            "description": "Lorem ipsum dolor sit amet " * rnd.randint(1, 6)}}))
    yield "backup.jsonl", ("\n".join(lines) + "\n").encode()
    for folder, count in (("uploadedimages", 4), ("uploadedassets", 2), ("uploadedfiles", 3), ("archivedfiles", 2)):
        for k in range(max(1, int(count * scale))):
            size = int(rnd.lognormvariate(9.5, 0.8))
            body = rnd.randbytes(size)
            if folder == "archivedfiles":
                body = CRYPT_MAGIC + body
            yield "%s/%08x-%04d.bin" % (folder, rnd.getrandbits(32), k), body
    yield "stats.json", json.dumps({"version": "2026.11", "format": "zip"}).encode()
