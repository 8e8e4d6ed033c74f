"""fakebase.py: what the fake engine servers (fake_n8n, fake_prefect, fake_windmill) share.

A FakeServer is an HTTP/1.1 server on loopback (127.0.0.1 or ::1 only) that a test starts
in-process (`with FakeN8n(keys=["k"]) as fake: ...`) or as a process (`python3
fake_n8n.py --port 0 --key k`, which prints `listening http://127.0.0.1:PORT` first).
Each engine module answers its engine's own paths, auth and bodies; this module gives them:

- the request log (method, path, query, every header as sent, body) that tests read to
  check what a client sent, and where it sent it;
- switches for failure behaviour, set at start or at run time: slow, hang, reset, truncate,
  garbage, html, redirect, down, throttle, status and refuse (see SWITCH_MODES);
- a control path, /__fake/..., that no real engine has: it is answered before any switch
  and is never recorded (see FakeServer._control);
- Run, the state machine of one run: it walks its engine's states with time, per poll or
  only when told, and can be held in its first state ("no worker").

Python's standard library only. Every wait here is bounded in time.
"""

import base64
import hashlib
import json
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOOPBACK = ("127.0.0.1", "::1")
HANG_MAX_S = 300.0        # a hung request is let go (connection closed) after this at most
MAX_BODY = 16 << 20       # request bodies over this are refused with 413
BASE_TIME = 1735689600.0  # 2025-01-01T00:00:00Z: generated data is dated from here

SWITCH_MODES = {
    "slow": "answer normally after delay_ms (default 100)",
    "hang": "read the request, never answer; the connection is closed after hang_ms "
            "(default: when the fake stops, at most %d s)" % HANG_MAX_S,
    "reset": "read the request, close the connection without answering (TCP RST)",
    "truncate": "send the status line, headers and half the body, then reset",
    "garbage": "200 with the engine's JSON content type and a body that is not JSON",
    "html": "200 text/html (the editor's or UI's index page), as a wrong base path gets",
    "redirect": "status (default 302) with Location: location + the request's path and "
                "query; location is required, e.g. another fake's url",
    "down": "503 with the fake's error body (Retry-After when retry_after is given)",
    "throttle": "429 with Retry-After (retry_after, default 1) and the fake's error body",
    "status": "any status with body (text) and content_type as given",
    "refuse": "close the listening socket: connections are refused; it listens again on "
              "the same port after duration_ms (never when not given)",
}
_SWITCH_KEYS = {"mode", "delay_ms", "path", "method", "times", "hang_ms", "status",
                "location", "retry_after", "body", "content_type", "duration_ms"}

OUTCOMES = {
    "success": "success", "succeeded": "success", "completed": "success",
    "failed": "failed", "failure": "failed", "error": "failed",
    "crashed": "crashed",
    "cancelled": "cancelled", "canceled": "cancelled",
    "skipped": "skipped",
    "paused": "paused", "waiting": "paused",
    "queued": "queued", "running": "running", "unknown": "unknown",
}
ADVANCE_MODES = ("time", "poll", "manual")


def normalise_outcome(word):
    """One of success, failed, crashed, cancelled, skipped, paused, queued, running,
    unknown, from the engines' or wfreg's word for it."""
    o = OUTCOMES.get(str(word).lower())
    if o is None:
        raise ValueError("unknown outcome %r (one of %s)" % (word, ", ".join(sorted(OUTCOMES))))
    return o


# --- small helpers -------------------------------------------------------------------------

def iso_ms(t):
    """2025-01-01T00:00:00.000Z (n8n, JavaScript's toISOString)."""
    d = datetime.fromtimestamp(t, timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def iso_us(t):
    """2025-01-01T00:00:00.000000Z (Prefect and Windmill)."""
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s):
    """A timestamp from a fixture: ISO 8601 text or seconds since the epoch."""
    if isinstance(s, (int, float)):
        return float(s)
    s = str(s).strip().replace("Z", "+00:00")
    d = datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.timestamp()


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def stable_id(prefix, i, length=16):
    """A fixed alphanumeric id for generated item i (n8n ids look like this)."""
    h = int.from_bytes(hashlib.sha256(("%s:%s" % (prefix, i)).encode()).digest(), "big")
    out = []
    for _ in range(length):
        h, r = divmod(h, 62)
        out.append(_B62[r])
    return "".join(out)


def stable_uuid(prefix, i):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "wfreg-fake:%s:%s" % (prefix, i)))


def json_bytes(obj):
    """Compact JSON, as express, FastAPI and serde all send it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Request:
    """One request as the fake read it. path is the raw path (not decoded), query the
    parsed query string (name -> list of values)."""

    def __init__(self, method, target, headers, body):
        self.method = method
        self.target = target
        parts = urlsplit(target)
        self.path = parts.path or "/"
        self.raw_query = parts.query
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default


class Response:
    def __init__(self, status, body=b"", content_type=None, headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else str(body).encode("utf-8")
        self.content_type = content_type
        self.headers = list(headers or [])


# --- runs ----------------------------------------------------------------------------------

class Run:
    """A run walking through steps (its engine's states, first to last).

    advance "time": step i is reached step_ms * i after start (start = creation, or a
    later scheduled time). "poll": each observation (a status request for this run)
    shows the next step; the first shows the first. "manual": it moves only when told
    (Run.force). hold (no worker): it stays in its first step whatever the mode, until
    forced. force(i) moves it to step i at least, in every mode."""

    def __init__(self, steps, advance="time", step_ms=100, hold=False, start_at=None):
        if advance not in ADVANCE_MODES:
            raise ValueError("advance must be one of %s" % (ADVANCE_MODES,))
        self.steps = list(steps)
        self.advance = advance
        self.step_ms = max(1, int(step_ms))
        self.hold = bool(hold)
        self.created = time.time()
        self.t0 = max(self.created, start_at or self.created)
        self.polls = 0
        self.forced = 0
        self.reached = {0: self.created}

    @property
    def last(self):
        return len(self.steps) - 1

    def _natural(self, now):
        if self.hold or self.advance == "manual":
            return 0
        if self.advance == "poll":
            return self.polls
        if now < self.t0:
            return 0
        return int((now - self.t0) * 1000 // self.step_ms)

    def index(self, now=None):
        """The step shown now, without counting as an observation."""
        now = time.time() if now is None else now
        i = min(self.last, max(self._natural(now), self.forced))
        self._mark(i, now)
        return i

    def observe(self):
        """The step shown to a status request; in poll mode the next one moves on."""
        i = self.index()
        if self.advance == "poll" and not self.hold:
            self.polls += 1
        return i

    def _mark(self, i, now):
        for j in range(i + 1):
            if j not in self.reached:
                if self.advance == "time" and not self.hold and j > self.forced:
                    self.reached[j] = self.t0 + j * self.step_ms / 1000.0
                else:
                    self.reached[j] = now

    def time_of(self, i):
        """When step i was reached (None when not yet)."""
        return self.reached.get(i)

    def force(self, i):
        self.forced = max(self.forced, min(self.last, i))
        self.index()

    def set_steps(self, steps):
        """Another path (another outcome) from the current step on; the steps already
        passed stay."""
        cur = self.index()
        here = self.steps[cur]
        rest = list(steps[steps.index(here) + 1:]) if here in steps else list(steps[-1:])
        self.steps = self.steps[:cur + 1] + rest

    def final(self, now=None):
        return self.index(now) == self.last


# --- the server ----------------------------------------------------------------------------

class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # A real server's listen backlog (node 511, uvicorn 2048), not socketserver's 5: a
    # client opening many connections at once (wfreg's fan-out) must not see SYNs
    # dropped and retried a second later.
    request_queue_size = 128

    def __init__(self, addr, handler, fake):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.fake = fake
        super().__init__(addr, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.fake.verbose:
            sys.stderr.write("%s %s\n" % (self.server.fake.engine, fmt % args))

    def send_response(self, code, message=None):
        self.log_request(code)
        self.send_response_only(code, message)
        if self.server.fake.server_header:
            self.send_header("Server", self.server.fake.server_header)
        self.send_header("Date", self.date_time_string())

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            for _ in range(1 << 20):
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    for _ in range(100):  # trailers, up to the blank line
                        if self.rfile.readline(65537) in (b"\r\n", b"\n", b""):
                            break
                    break
                total += size
                if total > MAX_BODY:
                    raise OverflowError
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise OverflowError
        return self.rfile.read(n) if n > 0 else b""

    def _any(self):
        fake = self.server.fake
        try:
            body = self._read_body()
        except OverflowError:
            self.close_connection = True
            self.write_response(Response(413, b"", None))
            return
        except (ValueError, OSError):
            self.close_connection = True
            return
        req = Request(self.command, self.path, self.headers, body)
        try:
            resp = fake._dispatch(req, self)
        except Exception as e:  # a bug in a fake must show, not hang the client
            sys.stderr.write("fake %s: %s %s: %r\n" % (fake.engine, req.method, req.path, e))
            resp = Response(599, ("fake error: %r" % e).encode(), "text/plain")
        if resp is None:  # the connection was dealt with (reset, hang)
            self.close_connection = True
            return
        self.write_response(resp)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any

    def write_response(self, resp, truncate=False):
        try:
            self.send_response(resp.status)
            if resp.content_type:
                self.send_header("Content-Type", resp.content_type)
            for k, v in resp.headers:
                self.send_header(k, v)
            body = resp.body
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body[:len(body) // 2] if truncate else body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def abort(self):
        """Close the connection now with a TCP RST (SO_LINGER 0), answering nothing."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.rfile.close()  # the makefile reference, so that close() really closes
        except OSError:
            pass
        try:
            self.connection.close()
        except OSError:
            pass

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass


class FakeServer:
    """The shared part of every fake. Subclasses set engine, json_type, html_title,
    server_header and implement route(req) -> Response (and load(fixture), the engine's
    own configuration keys in CONFIG_KEYS, run_view(run_id) for the control path)."""

    engine = "fake"
    json_type = "application/json"
    html_title = "Fake"
    server_header = None
    CONFIG_KEYS = ()  # the engine's own keys for configure()
    COMMON_KEYS = ("keys", "advance", "step_ms", "outcome", "outcomes", "no_worker",
                   "ready", "version", "verbose")

    def __init__(self, host="127.0.0.1", port=0, keys=("secret",), advance="time",
                 step_ms=100, outcome="success", outcomes=(), no_worker=False, ready=True,
                 version=None, switches=(), verbose=False):
        if host not in LOOPBACK:
            raise ValueError("a fake listens on 127.0.0.1 or ::1 only, not %r" % (host,))
        self.host = host
        self.port = port
        self.lock = threading.RLock()
        self.keys = [str(k) for k in keys]
        self.advance = advance
        self.step_ms = int(step_ms)
        self.outcome = normalise_outcome(outcome)
        self.outcomes = [normalise_outcome(o) for o in outcomes]
        self.no_worker = bool(no_worker)
        self.ready = bool(ready)
        if version is not None:
            self.version = version
        self.verbose = verbose
        self._switches = []
        self._log = []
        self._seq = 0
        self._httpd = None
        self._thread = None
        self._stopping = threading.Event()
        self._life = threading.Lock()
        self.runs = {}  # run id (str) -> the engine's run object
        for s in switches:
            self.add_switch(**s)

    # --- life ------------------------------------------------------------------------

    def start(self):
        with self._life:
            self._stopping.clear()
            self._serve(self.port)
        return self

    def _serve(self, port):
        httpd = _HTTPServer((self.host, port), _Handler, self)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-%s-%d" % (self.engine, self.port), daemon=True)
        self._thread.start()

    def _close_listener(self):
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(5)

    def stop(self):
        self._stopping.set()
        with self._life:
            self._close_listener()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        h = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d" % (h, self.port)

    @property
    def base_url(self):
        """The URL a registry stores for this engine (the engine's own convention)."""
        return self.url

    def refuse(self, duration_ms=None):
        """Stop listening (connections are refused); listen again on the same port after
        duration_ms when given."""
        def run():
            with self._life:
                if self._httpd is None:
                    return
                self._close_listener()
            if duration_ms is None:
                return
            if self._stopping.wait(max(0.0, float(duration_ms)) / 1000.0):
                return
            with self._life:
                if self._httpd is None and not self._stopping.is_set():
                    try:
                        self._serve(self.port)
                    except OSError as e:
                        sys.stderr.write("fake %s: cannot listen again on %d: %s\n"
                                         % (self.engine, self.port, e))
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    # --- switches --------------------------------------------------------------------

    @staticmethod
    def _check_switch(s):
        s = dict(s)
        unknown = set(s) - _SWITCH_KEYS
        if unknown:
            raise ValueError("unknown switch fields: %s" % ", ".join(sorted(unknown)))
        mode = s.get("mode")
        if mode not in SWITCH_MODES:
            raise ValueError("mode must be one of %s" % ", ".join(SWITCH_MODES))
        if mode == "slow":
            s.setdefault("delay_ms", 100)
        if mode == "redirect" and not s.get("location"):
            raise ValueError("redirect needs location")
        if mode == "status" and "status" not in s:
            raise ValueError("status needs status")
        for k in ("delay_ms", "times", "hang_ms", "duration_ms", "status"):
            if s.get(k) is not None and (not isinstance(s[k], (int, float)) or s[k] < 0):
                raise ValueError("%s must be a number >= 0" % k)
        return s

    def switch(self, mode, **opts):
        """Replace every switch with this one. mode None or "off" clears them."""
        with self.lock:
            if mode in (None, "off", "normal"):
                self._switches = []
                return
            self._switches = [self._check_switch(dict(opts, mode=mode))]

    def add_switch(self, mode, **opts):
        """Add a switch after the others (the first that matches a request applies)."""
        with self.lock:
            self._switches.append(self._check_switch(dict(opts, mode=mode)))

    def clear_switches(self):
        with self.lock:
            self._switches = []

    def switches(self):
        with self.lock:
            return [dict(s) for s in self._switches]

    def _take_switch(self, req):
        with self.lock:
            for s in self._switches:
                if s.get("path") and not req.path.startswith(s["path"]):
                    continue
                if s.get("method") and s["method"].upper() != req.method:
                    continue
                if s.get("times") is not None:
                    if s["times"] <= 0:
                        continue
                    s["times"] -= 1
                return dict(s)
        return None

    # --- the request log -------------------------------------------------------------

    def _record(self, req):
        with self.lock:
            self._seq += 1
            e = {"seq": self._seq, "time": time.time(), "method": req.method,
                 "path": req.path, "query": req.raw_query, "target": req.target,
                 "headers": [[k, v] for k, v in req.headers.items()],
                 "body": req.body.decode("utf-8", "replace"), "switch": None}
            self._log.append(e)
            return e

    def requests(self, path=None):
        """Every request received (the control path excepted), oldest first; path: only
        those whose path starts with it. Each: seq, time, method, path, query, target,
        headers ([name, value] as sent), body (text), switch (the mode applied or None)."""
        with self.lock:
            return [dict(e) for e in self._log if path is None or e["path"].startswith(path)]

    def request_count(self, path=None):
        return len(self.requests(path))

    def clear_requests(self):
        with self.lock:
            self._log = []

    @staticmethod
    def header_of(entry, name):
        """The value of header name in a logged request (None when not sent)."""
        for k, v in entry["headers"]:
            if k.lower() == name.lower():
                return v
        return None

    # --- configuration ---------------------------------------------------------------

    def configure(self, **kw):
        """Change settings at run time (the same names as the constructor's)."""
        with self.lock:
            allowed = set(self.COMMON_KEYS) | set(self.CONFIG_KEYS)
            unknown = set(kw) - allowed
            if unknown:
                raise ValueError("unknown settings: %s" % ", ".join(sorted(unknown)))
            for k, v in kw.items():
                if k == "keys":
                    v = [str(x) for x in v]
                elif k == "advance" and v not in ADVANCE_MODES:
                    raise ValueError("advance must be one of %s" % (ADVANCE_MODES,))
                elif k == "outcome":
                    v = normalise_outcome(v)
                elif k == "outcomes":
                    v = [normalise_outcome(o) for o in v]
                elif k == "step_ms":
                    v = int(v)
                self._set_config(k, v)

    def _set_config(self, k, v):
        setattr(self, k, v)

    def config(self):
        with self.lock:
            return {k: getattr(self, k, None) for k in self.COMMON_KEYS + tuple(self.CONFIG_KEYS)}

    def next_outcome(self, default=None):
        """The outcome of the next run: the queue first, then default, then the fake's."""
        with self.lock:
            if self.outcomes:
                return self.outcomes.pop(0)
            return normalise_outcome(default) if default else self.outcome

    def new_run(self, steps, hold=None, start_at=None):
        hold = self.no_worker if hold is None else hold
        return Run(steps, self.advance, self.step_ms, hold=hold, start_at=start_at)

    # --- dispatch --------------------------------------------------------------------

    def _dispatch(self, req, handler):
        if req.path.startswith("/__fake/") or req.path == "/__fake":
            return self._control(req)
        entry = self._record(req)
        sw = self._take_switch(req)
        if sw is None:
            return self.route(req)
        entry["switch"] = sw["mode"]
        if sw.get("delay_ms"):
            self._stopping.wait(sw["delay_ms"] / 1000.0)
        return self._apply(sw, req, handler)

    def _apply(self, sw, req, handler):
        mode = sw["mode"]
        if mode == "slow":
            return self.route(req)
        if mode == "hang":
            limit = sw["hang_ms"] / 1000.0 if sw.get("hang_ms") is not None else HANG_MAX_S
            self._stopping.wait(min(limit, HANG_MAX_S))
            handler.abort()
            return None
        if mode == "reset":
            handler.abort()
            return None
        if mode == "truncate":
            resp = self.route(req)
            handler.close_connection = True
            handler.write_response(resp, truncate=True)
            handler.abort()
            return None
        if mode == "refuse":
            handler.abort()
            self.refuse(sw.get("duration_ms"))
            return None
        if mode == "garbage":
            return Response(200, b'{"data": [{"id": "1", "name": <<not json>> \x00', self.json_type)
        if mode == "html":
            return Response(200, self.index_html(), "text/html; charset=utf-8")
        if mode == "redirect":
            status = int(sw.get("status") or 302)
            loc = sw["location"].rstrip("/") + req.target
            return Response(status, b"", None, [("Location", loc)])
        if mode in ("down", "throttle"):
            status = 503 if mode == "down" else 429
            resp = self.error_response(status)
            ra = sw.get("retry_after", None if mode == "down" else 1)
            if ra is not None:
                resp.headers.append(("Retry-After", str(int(ra))))
            return resp
        if mode == "status":
            return Response(int(sw["status"]), sw.get("body") or b"", sw.get("content_type"))
        raise AssertionError(mode)

    def index_html(self):
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<title>%s</title>\n</head>\n<body>\n<div id=\"app\"></div>\n</body>\n"
                "</html>\n" % self.html_title).encode()

    def error_response(self, status):
        """The answer for the down (503) and throttle (429) switches; engines override."""
        return Response(status, json_bytes({"message": "Service Unavailable" if status == 503
                                            else "Too Many Requests"}), self.json_type)

    def route(self, req):
        raise NotImplementedError

    def json(self, status, obj, headers=None):
        return Response(status, json_bytes(obj), self.json_type, headers)

    # --- the control path ------------------------------------------------------------

    def _control(self, req):
        parts = [p for p in req.path.split("/")[2:] if p]
        try:
            body = json.loads(req.body.decode("utf-8")) if req.body.strip() else {}
        except ValueError as e:
            return _ctl(400, {"error": "body is not JSON: %s" % e})
        try:
            return self._control_route(req, parts, body)
        except (ValueError, TypeError, KeyError) as e:
            return _ctl(400, {"error": str(e)})

    def _control_route(self, req, parts, body):
        m = req.method
        what = parts[0] if parts else ""
        if what == "health" and m == "GET":
            return _ctl(200, {"ok": True, "engine": self.engine, "url": self.url,
                              "base_url": self.base_url})
        if what == "switch":
            if m == "GET":
                return _ctl(200, {"switches": self.switches()})
            if m == "DELETE":
                self.clear_switches()
                return _ctl(200, {"switches": []})
            if m == "POST":
                if "switches" in body:
                    new = [self._check_switch(s) for s in body["switches"]]
                    with self.lock:
                        self._switches = new
                elif body.get("mode") in (None, "off", "normal"):
                    self.clear_switches()
                elif body.pop("add", False):
                    self.add_switch(**body)
                elif body.get("mode") == "refuse":
                    # answer this request first, then stop listening
                    self.refuse(body.get("duration_ms"))
                    return _ctl(200, {"refusing": True, "duration_ms": body.get("duration_ms")})
                else:
                    self.switch(**body)
                return _ctl(200, {"switches": self.switches()})
        if what == "requests":
            if m == "GET":
                items = self.requests(req.q("path"))
                return _ctl(200, {"count": len(items), "requests": items})
            if m == "DELETE":
                self.clear_requests()
                return _ctl(200, {"count": 0})
        if what == "config":
            if m == "POST":
                self.configure(**body)
            if m in ("GET", "POST"):
                return _ctl(200, self.config())
        if what == "data" and m == "POST":
            with self.lock:
                self.load(body)
            return _ctl(200, {"loaded": True})
        if what == "runs":
            if len(parts) == 1 and m == "GET":
                with self.lock:
                    return _ctl(200, {"runs": [self.run_view(k) for k in self.runs]})
            if len(parts) == 2:
                with self.lock:
                    if parts[1] not in self.runs:
                        return _ctl(404, {"error": "no run %s" % parts[1]})
                    if m == "POST":
                        self.control_run(parts[1], **body)
                    return _ctl(200, self.run_view(parts[1]))
        return _ctl(404, {"error": "no control %s %s" % (m, req.path)})

    def control_run(self, run_id, outcome=None, advance=None, finish=False, release=False):
        """Change one run: outcome (its end), advance (move on that many steps), finish
        (go to its last step), release (a held run walks on from now)."""
        with self.lock:
            run = self.run_of(run_id)
            if outcome is not None:
                if self.is_terminal(run.steps[run.index()]):
                    raise ValueError("run %s has already ended" % run_id)
                run.set_steps(self.steps_for(normalise_outcome(outcome)))
            if release:
                run.hold = False
                run.t0 = time.time()
                run.polls = 0
            if advance:
                run.force(run.index() + int(advance))
            if finish:
                run.force(run.last)

    def run_of(self, run_id):
        return self.runs[run_id].run

    def run_view(self, run_id):
        run = self.run_of(run_id)
        i = run.index()
        return {"id": run_id, "step": i, "state": run.steps[i], "steps": run.steps,
                "final": i == run.last, "hold": run.hold}

    def steps_for(self, outcome):
        raise NotImplementedError

    def is_terminal(self, step):
        raise NotImplementedError

    def load(self, fixture):
        raise NotImplementedError


def _ctl(status, obj):
    return Response(status, json_bytes(obj), "application/json")


# --- running as a process ------------------------------------------------------------------

def common_arguments(parser):
    parser.add_argument("--host", default="127.0.0.1", choices=LOOPBACK)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--key", action="append", default=None,
                        help="an accepted key (repeatable)")
    parser.add_argument("--fixture", help="a JSON file of data (see tests/fakes/README.md)")
    parser.add_argument("--advance", choices=ADVANCE_MODES, default="time")
    parser.add_argument("--step-ms", type=int, default=100)
    parser.add_argument("--outcome", default="success")
    parser.add_argument("--no-worker", action="store_true", help="runs stay queued")
    parser.add_argument("--not-ready", action="store_true", help="readiness answers 503")
    parser.add_argument("--version", dest="engine_version", default=None)
    parser.add_argument("--switch", action="append", default=[], metavar="JSON",
                        help='a switch, e.g. \'{"mode": "slow", "delay_ms": 100}\'')
    parser.add_argument("--slow", type=int, metavar="MS")
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--reset", action="store_true")
    parser.add_argument("--garbage", action="store_true")
    parser.add_argument("--html", action="store_true")
    parser.add_argument("--redirect", metavar="URL")
    parser.add_argument("--down", action="store_true")
    parser.add_argument("--throttle", action="store_true")
    parser.add_argument("--max-seconds", type=float, default=3600.0,
                        help="exit after this long at most (default 3600)")
    parser.add_argument("--verbose", action="store_true")


def common_kwargs(args):
    sw = [json.loads(s) for s in args.switch]
    if args.slow is not None:
        sw.append({"mode": "slow", "delay_ms": args.slow})
    for flag in ("hang", "reset", "garbage", "html", "down", "throttle"):
        if getattr(args, flag):
            sw.append({"mode": flag})
    if args.redirect:
        sw.append({"mode": "redirect", "location": args.redirect})
    kw = {"host": args.host, "port": args.port, "advance": args.advance,
          "step_ms": args.step_ms, "outcome": args.outcome, "no_worker": args.no_worker,
          "ready": not args.not_ready, "switches": sw, "verbose": args.verbose}
    if args.key:
        kw["keys"] = args.key
    if args.engine_version:
        kw["version"] = args.engine_version
    if args.fixture:
        with open(args.fixture, encoding="utf-8") as f:
            kw["fixture"] = json.load(f)
    return kw


def run_main(cls, parser, kwargs):
    """Start the fake, print `listening URL` and `base BASE_URL`, serve until SIGTERM,
    SIGINT or --max-seconds."""
    max_s = kwargs.pop("max_seconds", 3600.0)
    fake = cls(**kwargs)
    fake.start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print("listening %s" % fake.url, flush=True)
    print("base %s" % fake.base_url, flush=True)
    done.wait(max_s)
    fake.stop()
    return 0


def b64(obj):
    return base64.b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()
