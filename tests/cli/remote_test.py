"""Archives at a URL and in S3: nginx (started here on 127.0.0.1, with its own prefix and config)
serves the fixtures and damaged copies, and the verdict and findings must be the local file's;
tests/cli/remote_server.py brings the faults (no ranges, cuts, a change mid-download, a stall,
errors); @20minutes/s3rver (tests/s3, installed by scripts/setup) checks SigV4 signatures."""
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import zipfile

import zmtest
from zmtest import run

HERE = os.path.dirname(os.path.abspath(__file__))
S3RVER = os.path.join(zmtest.SRC, "tests", "s3", "node_modules", "@20minutes", "s3rver")
S3_SERVER = os.path.join(zmtest.SRC, "tests", "s3", "server.js")
SERVERS = {}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    for _ in range(200):
        if proc.poll() is not None:
            raise AssertionError("%s exited: %s" % (what, proc.stderr.read() if proc.stderr else ""))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("%s did not start" % what)


def make_cert(d):
    """A self-signed certificate for 127.0.0.1, made with python3-cryptography."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    with open(os.path.join(d, "cert.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(d, "key.pem"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return os.path.join(d, "cert.pem")


NGINX_CONF = """
worker_processes 2;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/t-body; proxy_temp_path {d}/t-proxy; fastcgi_temp_path {d}/t-fcgi;
  uwsgi_temp_path {d}/t-uwsgi; scgi_temp_path {d}/t-scgi;
  default_type application/octet-stream;
  gzip off;
  sendfile on;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location /private/ {{ auth_basic "backups"; auth_basic_user_file {d}/htpasswd; }}
  }}
  server {{
    listen 127.0.0.1:{sport} ssl;
    ssl_certificate {d}/cert.pem;
    ssl_certificate_key {d}/key.pem;
    root {root};
    location = /to-http {{ return 302 http://127.0.0.1:{port}/infozip-file.zip; }}
    location = /to-https {{ return 302 https://127.0.0.1:{sport}/infozip-file.zip; }}
  }}
}}
"""


def damaged_copies(root):
    """Damage made by named edits of real writers' archives: cut short, a flipped data byte, the
    directory zeroed."""
    data = zmtest.read("infozip-file.zip")
    with open(os.path.join(root, "cut.zip"), "wb") as f:
        f.write(data[:len(data) * 2 // 3])
    lay = zmtest.Layout(data)
    start = next(st for st, i in zip(lay.starts, lay.infos) if i.compress_size > 10)
    name_len, extra_len = int.from_bytes(data[start + 26:start + 28], "little"), int.from_bytes(data[start + 28:start + 30], "little")
    at = start + 30 + name_len + extra_len + 5
    flipped = bytearray(data)
    flipped[at] ^= 0x55
    with open(os.path.join(root, "flipped.zip"), "wb") as f:
        f.write(flipped)
    zeroed = bytearray(data)
    zeroed[lay.cd_start:lay.eocd] = bytes(lay.eocd - lay.cd_start)
    with open(os.path.join(root, "zeroed-directory.zip"), "wb") as f:
        f.write(zeroed)
    # Several blocks of 1 MiB, so that ranged reads run in parallel and a change can fall between
    # them: random stored data and deflated text.
    with zipfile.ZipFile(os.path.join(root, "big.zip"), "w") as z:
        for i in range(3):
            z.writestr("random-%d.bin" % i, os.urandom(1500000), zipfile.ZIP_STORED)
            z.writestr("text-%d.txt" % i, ("line %d of a log\n" * 60000) % tuple(range(60000)), zipfile.ZIP_DEFLATED)
    with open(os.path.join(root, "big.zip"), "rb") as f:
        big = f.read()
    with open(os.path.join(root, "big-unfinished.zip"), "wb") as f:
        f.write(big[:big.rfind(b"PK\x01\x02", 0, big.find(b"PK\x05\x06")) - 1000])


def setUpModule():
    zmtest.need("nginx")
    d = tempfile.mkdtemp(prefix="zm-remote-")
    os.chmod(d, 0o755)  # nginx's workers run as nobody when the tests run as root
    root = os.path.join(d, "root")
    os.makedirs(os.path.join(root, "private"))
    for name in zmtest.fixtures():
        shutil.copy(zmtest.fixture_path(name), os.path.join(root, os.path.basename(name)))
    shutil.copy(zmtest.fixture_path("infozip-file.zip"), os.path.join(root, "private", "backup.zip"))
    damaged_copies(root)
    with open(os.path.join(d, "htpasswd"), "w") as f:
        f.write("alice:{PLAIN}s3cret-Pa55\n")
    make_cert(d)
    port, sport = free_port(), free_port()
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(NGINX_CONF.format(d=d, root=root, port=port, sport=sport))
    nginx = subprocess.Popen([zmtest.need("nginx"), "-p", d, "-c", os.path.join(d, "nginx.conf"), "-e",
                              os.path.join(d, "error.log")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = os.path.join(d, "requests.log")
    fault = subprocess.Popen([sys.executable, os.path.join(HERE, "remote_server.py"), root, "--log", log,
                              "--port-file", os.path.join(d, "port")], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    SERVERS.update(dir=d, root=root, nginx=nginx, fault=fault, log=log, port=port, sport=sport,
                   http="http://127.0.0.1:%d" % port, https="https://127.0.0.1:%d" % sport)
    wait_port(port, nginx, "nginx")
    wait_port(sport, nginx, "nginx (https)")
    for _ in range(200):
        if os.path.exists(os.path.join(d, "port")):
            break
        time.sleep(0.05)
    with open(os.path.join(d, "port")) as f:
        SERVERS["faults"] = "http://127.0.0.1:%s" % f.read().strip()


def tearDownModule():
    for k in ("nginx", "fault"):
        p = SERVERS.get(k)
        if p:
            p.terminate()
            p.wait(10)
    if SERVERS.get("dir"):
        shutil.rmtree(SERVERS["dir"], ignore_errors=True)


def requests():
    with open(SERVERS["log"]) as f:
        return [json.loads(line) for line in f]


def comparable(doc, path):
    """A report without what differs by where the bytes came from: the path and, for a pipe, the
    size placeholder."""
    doc = json.loads(json.dumps(doc).replace(json.dumps(path)[1:-1], "ARCHIVE"))
    doc["archive"].pop("path", None)
    return {"verdict": doc["verdict"], "findings": doc["findings"], "entries": doc["entries"]}


class RemoteMatchesLocal(unittest.TestCase):
    def same(self, command, name, url, *extra):
        local = os.path.join(SERVERS["root"], name)
        p1, d1 = zmtest.run_json(command, local, *extra)
        p2, d2 = zmtest.run_json(command, url, *extra)
        self.assertEqual(p1.returncode, p2.returncode, (name, url, p2.stderr))
        self.assertIsNotNone(d2, p2.stderr)
        self.assertEqual(comparable(d1, local), comparable(d2, url), (command, name))
        self.assertEqual(d2["archive"]["path"], url)
        return p2, d2

    def test_every_fixture_and_damaged_copy_verifies_over_http_as_on_disk(self):
        names = [os.path.basename(n) for n in zmtest.fixtures()]
        names += ["cut.zip", "flipped.zip", "zeroed-directory.zip", "big.zip", "big-unfinished.zip"]
        statuses = set()
        for name in names:
            p, _ = self.same("verify", name, "%s/%s" % (SERVERS["http"], name), "--connections", "3")
            statuses.add(p.returncode)
        self.assertEqual(statuses, {0, 1})  # both verdicts were compared

    def test_list_and_scan_over_http_as_on_disk(self):
        for name in ("infozip-file.zip", "zeroed-directory.zip", "python-stream-deflate-zip64.zip"):
            self.same("list", name, "%s/%s" % (SERVERS["http"], name))
            self.same("scan", name, "%s/%s" % (SERVERS["http"], name))

    def test_restore_from_a_url(self):
        with tempfile.TemporaryDirectory() as out:
            p = run("restore", SERVERS["http"] + "/big.zip", "-C", out, "-q")
            self.assertEqual(p.returncode, 0, p.stderr)
            with zipfile.ZipFile(os.path.join(SERVERS["root"], "big.zip")) as z:
                for info in z.infolist():
                    with open(os.path.join(out, info.filename), "rb") as f:
                        self.assertEqual(f.read(), z.read(info))

    def test_an_encrypted_sysreptor_backup_at_a_url_verifies_with_its_key(self):
        sys.path.insert(0, os.path.join(zmtest.SRC, "scripts"))
        import sysreptor_backup as sb
        key = bytes(range(32))
        with open(os.path.join(SERVERS["root"], "backup.zip.crypt"), "wb") as f:
            f.write(sb.encrypt(sb.backup_bytes(), key))
        p, doc = self.same("verify", "backup.zip.crypt", SERVERS["http"] + "/backup.zip.crypt", "--key", key.hex())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(doc["encryption"]["tag_ok"])
        self.assertNotIn(key.hex().encode(), p.stdout + p.stderr)
        with tempfile.TemporaryDirectory() as out:
            p = run("restore", SERVERS["http"] + "/backup.zip.crypt", "--key", key.hex(), "-C", out, "-q")
            self.assertEqual(p.returncode, 3, p.stderr)  # restore takes a plain ZIP (repair --key gives one)
            self.assertIn(b"encrypted SysReptor backup", p.stderr)
        # A server that ignores Range gives a stream, which is not decrypted: exit 3, and how.
        p, doc = zmtest.run_json("verify", SERVERS["faults"] + "/norange/backup.zip.crypt", "--key", key.hex())
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual([f["code"] for f in doc["findings"]], ["key_needed"])
        self.assertIn(b"zipmedic fetch", p.stderr)

    def test_restore_of_a_pattern_reads_only_the_directory_and_what_it_restores(self):
        name = "patterned.zip"
        with zipfile.ZipFile(os.path.join(SERVERS["root"], name), "w") as z:
            for i in range(4):
                z.writestr("big-%d.bin" % i, os.urandom(3 << 20), zipfile.ZIP_STORED)
            z.writestr("notes/wanted.txt", b"the one file the admin needs\n" * 100, zipfile.ZIP_DEFLATED)
            for i in range(4, 6):
                z.writestr("big-%d.bin" % i, os.urandom(3 << 20), zipfile.ZIP_STORED)
        size = os.path.getsize(os.path.join(SERVERS["root"], name))
        open(SERVERS["log"], "w").close()
        with tempfile.TemporaryDirectory() as out:
            p = run("restore", "%s/plain/%s" % (SERVERS["faults"], name), "-C", out, "-q", "notes/wanted.txt")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(os.listdir(out), ["notes"])
            with open(os.path.join(out, "notes", "wanted.txt"), "rb") as f:
                self.assertEqual(f.read(), b"the one file the admin needs\n" * 100)
        asked = 0
        for r in requests():
            if r["method"] == "GET":
                first, last = r["range"][len("bytes="):].split("-")
                asked += int(last) + 1 - int(first)
        # The end records' block, the directory, each local header and the wanted entry: a few
        # MiB of blocks, not the 18 MiB archive.
        self.assertLess(asked, size // 3, requests())

    def test_missing_object_is_cannot_open(self):
        p, doc = zmtest.run_json("verify", SERVERS["http"] + "/no-such.zip")
        self.assertEqual(p.returncode, 3)
        self.assertEqual(doc["findings"][0]["code"], "cannot_open")
        self.assertIn(b"404", p.stderr)


class Faults(unittest.TestCase):
    def setUp(self):
        open(SERVERS["log"], "w").close()

    def test_server_that_ignores_range_gives_the_pipes_verdict(self):
        for name in ("infozip-file.zip", "flipped.zip", "cut.zip", "big.zip"):
            with open(os.path.join(SERVERS["root"], name), "rb") as f:
                pipe, d1 = zmtest.run_json("verify", "-", input=f.read())
            url = "%s/norange/%s" % (SERVERS["faults"], name)
            p, d2 = zmtest.run_json("verify", url)
            self.assertEqual(p.returncode, pipe.returncode, p.stderr)
            self.assertEqual(comparable(d1, "<stdin>")["findings"], comparable(d2, url)["findings"])
        self.assertTrue(all(r["status"] == 200 for r in requests()))

    def test_a_cut_connection_is_resumed_with_if_range(self):
        url = SERVERS["faults"] + "/cut/300000/big.zip"
        p = run("verify", url, "--connections", "2")
        self.assertEqual(p.returncode, 0, p.stderr)
        resumed = [r for r in requests() if r["if_range"]]
        self.assertTrue(resumed)
        self.assertTrue(all(r["status"] == 206 and r["if_range"].startswith('"') for r in resumed))

    def test_an_object_that_changes_while_being_read_is_reported_never_mixed(self):
        p, doc = zmtest.run_json("verify", SERVERS["faults"] + "/change/2000000/big.zip")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(b"the object changed while being read", p.stderr)
        self.assertEqual(doc["verdict"], "unreadable")

    def test_a_stalled_answer_is_dropped_after_the_timeout_and_resumed(self):
        t = time.monotonic()
        p = run("verify", SERVERS["faults"] + "/slow/4/infozip-file.zip", "--timeout", "1")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertLess(time.monotonic() - t, 3.5)
        self.assertGreaterEqual(len([r for r in requests() if r["method"] == "GET"]), 2)

    def test_retries_are_bounded(self):
        p = run("verify", SERVERS["faults"] + "/fail/infozip-file.zip", "--retries", "2")
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"gave up", p.stderr)
        self.assertEqual(len([r for r in requests() if r["method"] == "GET"]), 3)

    def test_no_head_reads_a_stream(self):
        p, doc = zmtest.run_json("verify", SERVERS["faults"] + "/nohead/flipped.zip")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("decode_error", zmtest.codes(doc))


class Fetch(zmtest.TempDirTest):
    def setUp(self):
        super().setUp()
        open(SERVERS["log"], "w").close()

    def original(self, name):
        with open(os.path.join(SERVERS["root"], name), "rb") as f:
            return f.read()

    def test_fetch_writes_the_file_and_its_verdict(self):
        out = os.path.join(self.tmp, "got.zip")
        p, doc = zmtest.run_json("fetch", SERVERS["http"] + "/big.zip", "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(doc["verdict"], "ok")
        self.assertEqual(doc["command"], "fetch")
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.original("big.zip"))
        self.assertFalse(os.path.exists(out + ".part"))
        p = run("fetch", SERVERS["http"] + "/big.zip", "-o", out)
        self.assertEqual(p.returncode, 2)  # OUT exists: left alone without --force

    def test_fetch_resumes_a_partial_file_and_checks_it_is_the_same_object(self):
        out = os.path.join(self.tmp, "got.zip")
        # The server cuts after 1 MB and then fails; no retry without a byte is allowed: the part
        # stays, and the command says how to go on.
        p = run("fetch", SERVERS["faults"] + "/die/1000000/big.zip", "-o", out, "--retries", "0")
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"resumes", p.stderr)
        self.assertEqual(os.path.getsize(out + ".part"), 1000000)
        self.assertFalse(os.path.exists(out))
        p, doc = zmtest.run_json("fetch", SERVERS["faults"] + "/plain/big.zip", "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(doc["extra"]["fetch"]["resumed_from"] if "extra" in doc else doc["fetch"]["resumed_from"], 1000000)
        gets = [r for r in requests() if r["method"] == "GET"]
        self.assertEqual(gets[-1]["range"], "bytes=1000000-%d" % (len(self.original("big.zip")) - 1))
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.original("big.zip"))

    def test_a_part_of_another_object_is_started_over(self):
        out = os.path.join(self.tmp, "got.zip")
        with open(out + ".part", "wb") as f:
            f.write(self.original("big.zip")[:5000])
        os.setxattr(out + ".part", "user.zipmedic.validator", b'"another"')
        p = run("fetch", SERVERS["http"] + "/big.zip", "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"starting over", p.stderr)

    def test_fetch_through_a_server_that_cuts_every_connection(self):
        out = os.path.join(self.tmp, "got.zip")
        p = run("fetch", SERVERS["faults"] + "/cut/700000/big.zip", "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.original("big.zip"))
        self.assertGreaterEqual(len([r for r in requests() if r["if_range"]]), 3)

    def test_fetch_of_a_changing_object_fails_and_keeps_nothing_mixed(self):
        out = os.path.join(self.tmp, "got.zip")
        p = run("fetch", SERVERS["faults"] + "/change/1000000/big.zip", "-o", out)
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"the object changed while being read", p.stderr)
        self.assertFalse(os.path.exists(out))

    def test_a_never_finished_archive_ends_with_the_hint_to_repair(self):
        out = os.path.join(self.tmp, "got.zip")
        p = run("fetch", SERVERS["http"] + "/big-unfinished.zip", "-o", out)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"zipmedic repair", p.stderr)
        self.assertEqual(os.path.getsize(out), len(self.original("big-unfinished.zip")))


class Safety(zmtest.TempDirTest):
    def test_url_password_is_never_printed_nor_in_json(self):
        url = SERVERS["http"].replace("http://", "http://alice:s3cret-Pa55@") + "/private/backup.zip"
        for args in (("verify", url), ("verify", url, "--json"), ("list", url, "--json"), ("verify", url, "-v"),
                     ("verify", url.replace("backup", "missing"), "--json"),
                     ("fetch", url, "-o", os.path.join(self.tmp, "b.zip"), "--json")):
            p = run(*args)
            self.assertIn(p.returncode, (0, 3), (args, p.stderr))
            self.assertNotIn(b"s3cret", p.stdout + p.stderr, args)
        p, doc = zmtest.run_json("verify", url)
        self.assertEqual(p.returncode, 0, p.stderr)  # the password was used
        self.assertEqual(doc["archive"]["path"], url.replace("s3cret-Pa55", "***"))
        p = run("verify", url.replace("s3cret-Pa55", "wrong"))
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"401", p.stderr)

    def test_tls_is_verified_and_cacert_adds_a_ca(self):
        url = SERVERS["https"] + "/infozip-file.zip"
        p = run("verify", url)
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"--cacert", p.stderr)
        p = run("verify", url, "--cacert", os.path.join(SERVERS["dir"], "cert.pem"))
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_redirects_go_from_https_only_to_https(self):
        ca = os.path.join(SERVERS["dir"], "cert.pem")
        p = run("verify", SERVERS["https"] + "/to-https", "--cacert", ca)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run("verify", SERVERS["https"] + "/to-http", "--cacert", ca)
        self.assertEqual(p.returncode, 3, p.stderr)


class S3(zmtest.TempDirTest):
    @classmethod
    def setUpClass(cls):
        assert os.path.exists(S3RVER), "s3rver is not installed; run scripts/setup"
        cls.dir = tempfile.mkdtemp(prefix="zm-s3-")
        cls.port = free_port()
        cls.server = subprocess.Popen([zmtest.need("node"), S3_SERVER, os.path.join(cls.dir, "s3"), str(cls.port), "backups"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_port(cls.port, cls.server, "s3rver")
        cls.endpoint = "http://127.0.0.1:%d" % cls.port
        # Uploaded with curl's own SigV4 signing, the same way an admin's script would.
        for name in ("infozip-file.zip", "flipped.zip", "big.zip"):
            subprocess.run([zmtest.need("curl"), "-sSf", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "S3RVER:S3RVER",
                            "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T", os.path.join(SERVERS["root"], name),
                            "%s/backups/nightly/%s" % (cls.endpoint, name)], check=True, timeout=60)
        cls.env = dict(os.environ, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY="S3RVER", AWS_REGION="us-east-1")
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            cls.env.pop(k, None)

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait(10)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def zm(self, *args, env=None):
        return subprocess.run([zmtest.ZIPMEDIC, *args], capture_output=True, timeout=120, env=env or self.env)

    def test_verify_s3_gives_the_local_verdict(self):
        for name, status in (("infozip-file.zip", 0), ("flipped.zip", 1), ("big.zip", 0)):
            p = self.zm("verify", "s3://backups/nightly/" + name, "--s3-endpoint", self.endpoint, "--json")
            self.assertEqual(p.returncode, status, p.stderr)
            local = zmtest.run_json("verify", os.path.join(SERVERS["root"], name))[1]
            self.assertEqual(json.loads(p.stdout)["findings"], local["findings"])

    def test_credentials_from_the_shared_files_and_the_endpoint_from_the_environment(self):
        aws = os.path.join(self.tmp, "aws")
        os.makedirs(aws)
        with open(os.path.join(aws, "credentials"), "w") as f:
            f.write("[default]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n"
                    "[restore]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n")
        with open(os.path.join(aws, "config"), "w") as f:
            f.write("[profile restore]\nregion = us-east-1\n")
        env = {k: v for k, v in self.env.items() if not k.startswith("AWS_")}
        env.update(AWS_SHARED_CREDENTIALS_FILE=os.path.join(aws, "credentials"), AWS_CONFIG_FILE=os.path.join(aws, "config"),
                   AWS_PROFILE="restore", AWS_ENDPOINT_URL=self.endpoint)
        p = self.zm("verify", "s3://backups/nightly/infozip-file.zip", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        env["AWS_PROFILE"] = "default"
        p = self.zm("verify", "s3://backups/nightly/infozip-file.zip", "--json", env=env)
        self.assertEqual(p.returncode, 3)  # s3rver checked the signature and refused it
        self.assertNotIn(b"WRONG", p.stdout + p.stderr)

    def test_fetch_from_s3(self):
        out = os.path.join(self.tmp, "n.zip")
        p = self.zm("fetch", "s3://backups/nightly/big.zip", "-o", out, "--s3-endpoint", self.endpoint)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, "rb") as f, open(os.path.join(SERVERS["root"], "big.zip"), "rb") as g:
            self.assertEqual(f.read(), g.read())


if __name__ == "__main__":
    unittest.main()
