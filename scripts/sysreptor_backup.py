"""SysReptor-shaped backups for tests and demos: the entry layout of ZIP-NOTES written with
zipstream-ng's ZIP details (scripts/zipstream_like.py), and their encrypted form (.zip.crypt:
magic, JSON header with a 16-byte nonce, AES-256-GCM over the ZIP with the header as associated
data, 16-byte tag), written with python3-cryptography.

  sysreptor_backup.py OUT.zip [--scale S] [--drop NAME] [--cut-jsonl-line] [--no-stats]
  sysreptor_backup.py --encrypt IN.zip OUT.zip.crypt --key HEX
"""
import argparse
import base64
import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sysreptor_tree  # noqa: E402
from zipstream_like import ZipstreamLike  # noqa: E402

MAGIC = b"\xc2YPT"


def backup_bytes(scale=0.5, drop=(), cut_jsonl_line=False, no_stats=False):
    out = io.BytesIO()
    w = ZipstreamLike(out)
    for i, (name, data) in enumerate(sysreptor_tree.entries(scale=scale)):
        if name in drop or (no_stats and name == "stats.json"):
            continue
        if name == "backup.jsonl" and cut_jsonl_line:
            # A record cut in half inside the data: the CRC is computed over the cut data, so only
            # a content check can tell.
            lines = data.split(b"\n")
            k = len(lines) // 2
            lines[k] = lines[k][: len(lines[k]) // 2]
            data = b"\n".join(lines)
        w.write_entry(name, [data[k:k + 65536] for k in range(0, len(data), 65536)] or [b""], sized=i < 3)
    w.close()
    return out.getvalue()


def encrypt(plain, key, nonce=None, key_id=None):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    nonce = nonce or os.urandom(16)
    header = MAGIC + json.dumps({"cipher": "AES-GCM", "nonce": base64.b64encode(nonce).decode(),
                                 "key_id": key_id}).encode() + b"\x00"
    enc = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(header)
    body = enc.update(plain) + enc.finalize()
    return header + body + enc.tag


def decrypt(data, key):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    nul = data.index(b"\x00")
    header = data[: nul + 1]
    meta = json.loads(data[4:nul])
    nonce = base64.b64decode(meta["nonce"])
    dec = Cipher(algorithms.AES(key), modes.GCM(nonce, data[-16:])).decryptor()
    dec.authenticate_additional_data(header)
    return dec.update(data[nul + 1:-16]) + dec.finalize()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("out2", nargs="?")
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--drop", action="append", default=[])
    ap.add_argument("--cut-jsonl-line", action="store_true")
    ap.add_argument("--no-stats", action="store_true")
    ap.add_argument("--encrypt", action="store_true")
    ap.add_argument("--key")
    a = ap.parse_args()
    if a.encrypt:
        with open(a.out, "rb") as f, open(a.out2, "wb") as g:
            g.write(encrypt(f.read(), bytes.fromhex(a.key)))
        return
    data = backup_bytes(a.scale, a.drop, a.cut_jsonl_line, a.no_stats)
    with open(a.out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
