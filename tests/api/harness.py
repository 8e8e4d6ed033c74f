"""harness.py: what the black-box API tests share.

Each test file runs as `python3 tests/api/test_x.py path/to/wfreg` (ctest passes the
built binary; the WFREG_BIN environment variable works too). A Server starts
`wfreg serve --listen 127.0.0.1:0 --workers 2` on a fresh temporary SQLite database,
after `wfreg migrate up` and `wfreg users add` for an admin and a viewer, reads its log
(stderr) until the "Listening on" line, and stops it with SIGTERM at the end, checking
that it exits 0 within 5 seconds and that the sanitizers (in the ASan build) reported
nothing. Every wait and every loop here is bounded in count and in time; only 127.0.0.1
is ever contacted. Python's standard library only.

WFREG_TEST_TIMEOUT_SCALE (a number, default 1) stretches the waits for slow builds (the
ASan build sets it); the server's own promise (exit within 5 s of SIGTERM) is checked
against 5 s times that scale.
"""

import http.client
import json as jsonlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

WFREG = os.environ.get("WFREG_BIN")
SCALE = max(1.0, float(os.environ.get("WFREG_TEST_TIMEOUT_SCALE", "1") or "1"))

ADMIN = "admin"
ADMIN_PASSWORD = "admin-password-1"
VIEWER = "viewer"
VIEWER_PASSWORD = "viewer-password-1"
SECRET_KEY = "api-test-secret-key"

LISTEN_RE = re.compile(r"Listening on http://127\.0\.0\.1:(\d+)")
TOKEN_RE = re.compile(r"wfr_[A-Za-z0-9_-]{43}")
# What the sanitizers print when they find something.
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:")

# Variables that would change what the server does; only what a test sets reaches it.
_CLEARED = re.compile(
    r"^(DATABASE_URL|SECRET_KEY|WFREG_.*|LOG_LEVEL|LOG_FORMAT|N8N_API_.*|PREFECT_API_.*"
    r"|WINDMILL_API_.*|WINDMILL_WORKSPACE)$")


def scaled(seconds):
    return seconds * SCALE


def clean_env(extra=None, base=None):
    """The environment for wfreg: base (else ours without what would change wfreg's
    behaviour) with extra on top; a value of None in extra unsets that variable."""
    env = dict(base) if base is not None else {
        k: v for k, v in os.environ.items() if not _CLEARED.match(k)}
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


class Response:
    """One HTTP answer: status (None when the server closed the connection without
    answering), headers (a dict with lower-case names; header_list keeps them all),
    body (bytes)."""

    def __init__(self, status, header_list, body):
        self.status = status
        self.header_list = header_list
        self.headers = {k.lower(): v for k, v in header_list}
        self.body = body

    def json(self):
        return jsonlib.loads(self.body.decode("utf-8"))

    def __iter__(self):  # status, headers, body = server.request(...)
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        return "<%s %r>" % (self.status, self.body[:300])


class Server:
    """A wfreg server on a fresh database. env: extra environment variables (for the
    server and the commands run with cli(); None unsets one); users: make the admin and
    the viewer. same_db_as: another Server whose database (and environment, with env on
    top) this one uses, without migrating or adding users."""

    def __init__(self, env=None, workers=2, users=True, log_format=None, same_db_as=None,
                 args=()):
        if not WFREG:
            raise RuntimeError("no wfreg binary: pass it as the first argument or WFREG_BIN")
        self.workers = workers
        self.args = list(args)  # more `wfreg serve` options
        self.proc = None
        self.port = None
        self.lines = []  # every stderr line of the server, in order
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._reader = None
        if same_db_as is not None:
            # a second process on another server's database (and environment)
            self.tmp, self.db_path = None, same_db_as.db_path
            self.env = clean_env(env, base=same_db_as.env)
            self.cwd = same_db_as.cwd
            return
        self.tmp = tempfile.TemporaryDirectory(prefix="wfreg-api.")
        self.cwd = self.tmp.name
        self.db_path = os.path.join(self.tmp.name, "db.sqlite")
        extra = {"DATABASE_URL": "sqlite:" + self.db_path, "SECRET_KEY": SECRET_KEY}
        if log_format:
            extra["LOG_FORMAT"] = log_format
        extra.update(env or {})
        self.env = clean_env(extra)
        self.cli("migrate", "up", check=True)
        if users:
            self.add_user(ADMIN, "admin", ADMIN_PASSWORD)
            self.add_user(VIEWER, "viewer", VIEWER_PASSWORD)

    # --- the command line, on the same database ----------------------------------------

    def cli(self, *args, input=None, check=False, timeout=None):
        p = subprocess.run([WFREG] + list(args), input=input, env=self.env,
                           capture_output=True, cwd=self.cwd,
                           timeout=timeout or scaled(60))
        if check and p.returncode != 0:
            raise AssertionError("wfreg %s: exit %d\nstdout: %s\nstderr: %s" % (
                " ".join(args), p.returncode, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace")))
        return p

    def add_user(self, name, role, password):
        self.cli("users", "add", name, "--role", role, "--password-stdin",
                 input=password.encode(), check=True)

    def create_token(self, user, label, wait=True):
        """`wfreg tokens create`: returns (token, id); the id from `tokens list --json`.
        wait: until the running server accepts the token (it notices another process's
        commit within a second; bounded at 3 s)."""
        p = self.cli("tokens", "create", "--user", user, "--label", label, check=True)
        m = TOKEN_RE.search(p.stdout.decode())
        if not m:
            raise AssertionError("tokens create printed no token: %r" % p.stdout[:500])
        token = m.group(0)
        if wait and self.proc is not None:
            ok = poll(lambda: self.request("GET", "/api/v1/auth/me", token=token).status == 200,
                      3)
            if not ok:
                raise AssertionError("the server does not accept the new token within 3 s")
        return token, self.token_id(label)

    def token_id(self, label):
        p = self.cli("tokens", "list", "--json", check=True)
        data = jsonlib.loads(p.stdout.decode())
        if isinstance(data, dict):
            data = data.get("items") or data.get("tokens") or []
        ids = [t["id"] for t in data if t.get("label") == label]
        if len(ids) != 1:
            raise AssertionError("tokens list --json: %d tokens labelled %r: %r"
                                 % (len(ids), label, data))
        return ids[0]

    def sql(self, query, params=()):
        """One statement on the database, from outside the server; returns the rows."""
        db = sqlite3.connect(self.db_path, timeout=scaled(10))
        try:
            rows = db.execute(query, params).fetchall()
            db.commit()
            return rows
        finally:
            db.close()

    # --- start and stop ---------------------------------------------------------------

    def start(self):
        self.proc = subprocess.Popen(
            [WFREG, "serve", "--listen", "127.0.0.1:0", "--workers", str(self.workers)]
            + self.args,
            env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + scaled(10)
        while time.monotonic() < deadline and not self._listening.is_set():
            if self.proc.poll() is not None:
                break
            self._listening.wait(0.05)
        if not self._listening.is_set():
            rc = self.proc.poll()
            if rc is None:
                self.proc.kill()
                self.proc.wait(scaled(5))
            self._reader.join(scaled(5))
            raise AssertionError("the server did not print 'Listening on' (exit %s); log:\n%s"
                                 % (rc, self.log_text()))
        return self

    def _read_log(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with self._lock:
                self.lines.append(line)
            if self.port is None:
                m = LISTEN_RE.search(line)
                if m:
                    self.port = int(m.group(1))
                    self._listening.set()

    def log(self):
        with self._lock:
            return list(self.lines)

    def log_text(self):
        return "\n".join(self.log())

    def wait_log(self, pattern, timeout=5, start=0):
        """Waits (bounded) for a log line matching pattern after line number start;
        returns it, or None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + scaled(timeout)
        while True:
            for line in self.log()[start:]:
                if rx.search(line):
                    return line
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def quiet_mark(self, quiet=0.2, timeout=3):
        """The number of log lines once none has come for `quiet` seconds (bounded):
        the lines of the requests answered so far are all written by then."""
        deadline = time.monotonic() + scaled(timeout)
        n = len(self.log())
        since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.02)
            m = len(self.log())
            if m != n:
                n, since = m, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        return n

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """The exit code, or None when it did not exit in time (it is then killed)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(scaled(10))
            return None
        finally:
            if self._reader:
                self._reader.join(scaled(5))

    def stop(self, timeout=5):
        """SIGTERM; returns (exit code or None, seconds it took)."""
        if self.proc is None or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), 0.0
        t0 = time.monotonic()
        self.signal(signal.SIGTERM)
        rc = self.wait_exit(scaled(timeout))
        return rc, time.monotonic() - t0

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(scaled(10))
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        if self.tmp is not None:
            self.tmp.cleanup()

    def sanitizer_reports(self):
        return [l for l in self.log() if SANITIZER_RE.search(l)]

    # --- HTTP ---------------------------------------------------------------------------

    def connect(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(timeout))

    def request(self, method, path, body=None, token=None, headers=None, raw=None, conn=None,
                timeout=10):
        """One request. body: a dict or list is sent as JSON (Content-Type:
        application/json unless headers say otherwise), bytes or str as they are. raw:
        bytes written as they are to a new socket instead (method, path and the rest are
        then ignored). conn: an open HTTPConnection to reuse (keep-alive). Returns a
        Response, which also unpacks as (status, headers, body)."""
        if raw is not None:
            return self.raw(raw, timeout=timeout)
        hdrs = {}
        if isinstance(body, (dict, list)):
            body = jsonlib.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        elif isinstance(body, str):
            body = body.encode()
        if token:
            hdrs["Authorization"] = "Bearer " + token
        hdrs.update(headers or {})
        own = conn is None
        c = conn or self.connect(timeout)
        try:
            c.request(method, path, body=body, headers=hdrs)
            resp = c.getresponse()
            data = resp.read()
            return Response(resp.status, resp.getheaders(), data)
        finally:
            if own:
                c.close()

    def json(self, method, path, body=None, token=None, headers=None):
        """request(), then the body parsed as JSON (None when empty): (status, headers, obj)."""
        r = self.request(method, path, body=body, token=token, headers=headers)
        obj = None
        if r.body:
            try:
                obj = r.json()
            except ValueError:
                raise AssertionError("%s %s: %d with a body that is not JSON: %r"
                                     % (method, path, r.status, r.body[:300]))
        return r.status, r.headers, obj

    def raw(self, data, timeout=10, shutdown_write=False):
        """Writes data as it is and reads one response. status None when the server
        closed the connection without an answer."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=scaled(timeout))
        try:
            try:
                s.sendall(data)
                if shutdown_write:
                    s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # it may refuse before reading everything; read what it said
            return read_response(s, timeout)
        finally:
            s.close()

    def raw_request(self, method, path, body=b"", headers=None, timeout=10):
        """A request written by hand on a new socket (for what http.client cannot send or
        would choke on: a body the server refuses before reading it, odd paths)."""
        hdrs = {"Host": "127.0.0.1", "Connection": "close"}
        if body:
            hdrs["Content-Length"] = str(len(body))
        hdrs.update(headers or {})
        head = "%s %s HTTP/1.1\r\n" % (method, path)
        head += "".join("%s: %s\r\n" % kv for kv in hdrs.items())
        return self.raw(head.encode("latin-1") + b"\r\n" + (body or b""), timeout=timeout)

    def login(self, username, password):
        status, _, obj = self.json("POST", "/api/v1/auth/login",
                                   {"username": username, "password": password})
        if status != 200:
            raise AssertionError("login %s: %d %r" % (username, status, obj))
        return obj["token"]


class RawReader:
    """Reads HTTP/1.1 responses one after the other from a socket (Content-Length or
    until close), keeping what it read past one answer for the next (pipelining)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _more(self, deadline):
        if time.monotonic() > deadline:
            return False
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, socket.timeout, OSError):
            chunk = b""
        self.buf += chunk
        return bool(chunk)

    def response(self, timeout=10):
        deadline = time.monotonic() + scaled(timeout)
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 1 << 20 or not self._more(deadline):
                r, self.buf = Response(None, [], self.buf), b""
                return r
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ")[1])
        except (IndexError, ValueError):
            r, self.buf = Response(None, [], self.buf), b""
            return r
        hl = []
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hl.append((k.strip(), v.strip()))
        length = None
        for k, v in hl:
            if k.lower() == "content-length" and v.isdigit():
                length = int(v)
        self.buf = rest
        while (length is None or len(self.buf) < length) and self._more(deadline):
            pass
        if length is None:
            body, self.buf = self.buf, b""
        else:
            body, self.buf = self.buf[:length], self.buf[length:]
        return Response(status, hl, body)


def read_response(s, timeout=10):
    """Reads one HTTP/1.1 response from socket s."""
    return RawReader(s).response(timeout)


def poll(fn, timeout, every=0.05, max_tries=1000):
    """Calls fn until it returns a true value, at most timeout seconds (scaled) and
    max_tries times; returns the last value."""
    deadline = time.monotonic() + scaled(timeout)
    v = None
    for _ in range(max_tries):
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(every)
    return v


class ServerTestCase(unittest.TestCase):
    """A test class with one server for all its tests (started in setUpClass with
    server_env, stopped in tearDownClass with the exit checks) and tokens for the admin
    (cls.admin) and the viewer (cls.viewer)."""

    server_env = None
    server_log_format = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server(env=cls.server_env, log_format=cls.server_log_format)
        try:
            cls.server.start()
            cls.admin = cls.server.login(ADMIN, ADMIN_PASSWORD)
            cls.viewer = cls.server.login(VIEWER, VIEWER_PASSWORD)
        except BaseException:
            cls.server.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            rc, took = cls.server.stop()
            problems = []
            if rc != 0:
                problems.append("exit %s after SIGTERM (%.1f s)" % (rc, took))
            if cls.server.sanitizer_reports():
                problems.append("sanitizer reports: %s" % cls.server.sanitizer_reports()[:5])
            if problems:
                raise AssertionError("; ".join(problems) + "\nlog tail:\n"
                                     + "\n".join(cls.server.log()[-40:]))
        finally:
            cls.server.close()

    # helpers ----------------------------------------------------------------------------

    def req(self, method, path, body=None, token=None, headers=None, **kw):
        return self.server.request(method, path, body=body, token=token, headers=headers, **kw)

    def jreq(self, method, path, body=None, token=None, headers=None):
        return self.server.json(method, path, body=body, token=token, headers=headers)

    def assertStatus(self, resp, status, what=""):
        self.assertEqual(resp.status, status, "%s: got %s, body %r"
                         % (what, resp.status, resp.body[:500]))

    def assertDetail(self, obj, what=""):
        """The {"detail": "..."} error shape."""
        self.assertIsInstance(obj, dict, what)
        self.assertIn("detail", obj, what)
        self.assertIsInstance(obj["detail"], str, what)

    def assertValidation(self, obj, locs, what=""):
        """The 422 shape, with exactly these locs (a list of lists, in any order)."""
        self.assertIsInstance(obj, dict, what)
        self.assertIsInstance(obj.get("detail"), list, "%s: %r" % (what, obj))
        for d in obj["detail"]:
            self.assertIsInstance(d.get("loc"), list, what)
            self.assertIsInstance(d.get("msg"), str, what)
            self.assertIsInstance(d.get("type"), str, what)
        got = sorted(tuple(d["loc"]) for d in obj["detail"])
        self.assertEqual(got, sorted(tuple(l) for l in locs), "%s: %r" % (what, obj))

    def create_engine(self, name, **fields):
        body = {"name": name, "engine_type": "n8n", "api_url": "https://%s.example.com" % name}
        body.update(fields)
        status, _, obj = self.jreq("POST", "/api/v1/engines", body, token=self.admin)
        self.assertEqual(status, 201, "create %s: %r" % (name, obj))
        return obj


def main():
    """Entry point of each test file: `test_x.py path/to/wfreg [unittest args]`."""
    global WFREG
    args = sys.argv[1:]
    if args and not args[0].startswith("-"):
        WFREG = os.path.abspath(args.pop(0))
    if not WFREG or not os.access(WFREG, os.X_OK):
        sys.stderr.write("usage: %s path/to/wfreg [unittest options]\n" % sys.argv[0])
        sys.exit(2)
    unittest.main(module="__main__", argv=[sys.argv[0]] + args, verbosity=2)
