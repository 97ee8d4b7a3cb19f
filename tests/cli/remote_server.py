"""A small HTTP server with the faults remote archives meet, for tests/cli/remote_test.py and
scripts/bench. It serves the files of one directory under a path that names the fault:

  /plain/NAME            ranges, ETag and If-Range as nginx answers them
  /norange/NAME          Range ignored: always 200 with the whole object
  /cut/N/NAME            every answer's body cut (connection closed) after N bytes
  /change/N/NAME         the object changes once N bytes of it have been sent (a new ETag and
                         other bytes), and that answer is cut there
  /slow/S/NAME           the first GET sends its headers, then nothing for S seconds
  /fail/NAME             HEAD answers, every GET is 503
  /die/N/NAME            the first GET is cut after N bytes, every later one is 503
  /nohead/NAME           HEAD is 405; GETs are ranged as /plain

Each request is logged as one JSON line (method, path, Range, If-Range, status) in the file named
by --log, so tests can see what the client asked for."""
import argparse
import hashlib
import http.server
import json
import os
import re
import socketserver
import threading
import time


class State:
    def __init__(self, root, log):
        self.root = root
        self.log = log
        self.lock = threading.Lock()
        self.sent = {}      # /change: bytes sent so far per path
        self.changed = set()
        self.slowed = set()
        self.died = set()


class Object:
    """A file served in pieces, so that a 400 MB benchmark archive is not held in memory per
    request; its ETag is made from its size and modification time, as nginx makes it."""

    def __init__(self, path):
        self.path = path
        st = os.stat(path)
        self.size, self.etag = st.st_size, '"%x-%x"' % (int(st.st_mtime), st.st_size)

    def __len__(self):
        return self.size

    def pieces(self, start, end):
        with open(self.path, "rb") as f:
            f.seek(start)
            left = end - start
            while left > 0:
                b = f.read(min(left, 1 << 20))
                if not b:
                    return
                left -= len(b)
                yield b


def etag_of(data):
    if isinstance(data, Object):
        return data.etag
    return '"%s"' % hashlib.sha1(data).hexdigest()[:16]


def pieces(data, start, end):
    if isinstance(data, Object):
        return data.pieces(start, end)
    view = memoryview(data)
    return (view[i:min(i + (1 << 20), end)] for i in range(start, end, 1 << 20))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, *a):
        pass

    def note(self, status):
        rec = {"method": self.command, "path": self.path, "range": self.headers.get("Range"),
               "if_range": self.headers.get("If-Range"), "status": status}
        with self.state.lock, open(self.state.log, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def route(self):
        parts = self.path.lstrip("/").split("/")
        mode = parts[0]
        arg = None
        if mode in ("cut", "change", "slow", "die"):
            arg, parts = float(parts[1]), parts[2:]
        else:
            parts = parts[1:]
        path = os.path.join(self.state.root, "/".join(parts))
        if mode != "change":
            return mode, arg, Object(path)
        with open(path, "rb") as f:
            data = f.read()
        if self.path in self.state.changed:
            data = data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1:]
        return mode, arg, data

    def headers_for(self, status, data, length, extra=()):
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        self.send_header("ETag", etag_of(data))
        self.send_header("Last-Modified", "Mon, 07 Dec 2026 00:00:00 GMT")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.note(status)

    def do_HEAD(self):
        mode, _, data = self.route()
        if mode == "nohead":
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.note(405)
            return
        self.headers_for(200, data, len(data), [("Accept-Ranges", "bytes")] if mode != "norange" else [])

    def do_GET(self):
        mode, arg, data = self.route()
        if mode == "die":
            with self.state.lock:
                dead = self.path in self.state.died
                self.state.died.add(self.path)
            mode = "fail" if dead else "cut"
        if mode == "fail":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.note(503)
            return
        start, end, status = 0, len(data) - 1, 200
        m = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range") or "")
        if_range = self.headers.get("If-Range")
        if m and mode != "norange" and (if_range is None or if_range == etag_of(data)):
            start = int(m.group(1))
            end = min(int(m.group(2)), len(data) - 1) if m.group(2) else len(data) - 1
            status = 206
        body_len = end + 1 - start
        extra = [("Content-Range", "bytes %d-%d/%d" % (start, end, len(data)))] if status == 206 else []
        self.headers_for(status, data, body_len, extra)
        limit = body_len
        if mode == "cut":
            limit = min(limit, int(arg))
        if mode == "change":
            with self.state.lock:
                sent = self.state.sent.get(self.path, 0)
                if self.path not in self.state.changed and sent + body_len > arg:
                    limit = int(arg) - sent
                    self.state.changed.add(self.path)
                self.state.sent[self.path] = sent + limit
        if mode == "slow":
            with self.state.lock:
                first = self.path not in self.state.slowed
                self.state.slowed.add(self.path)
            if first:
                time.sleep(arg)
        try:
            for piece in pieces(data, start, start + limit):
                self.wfile.write(piece)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        if limit < body_len:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--log", required=True)
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    Handler.state = State(a.root, a.log)
    srv = Server(("127.0.0.1", 0), Handler)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
