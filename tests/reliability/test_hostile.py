"""test_hostile.py: hundreds of malformed and malicious requests against `wfreg serve`
(issue 7). Each one gets a 4xx or a closed connection: never a 5xx, never a crash, never
a hang; the database is the same after them as before (an SQL dump of it, compared
line for line after each group), the server answers /healthz after each group, and its
log holds no sanitizer report (ASan+UBSan build) when it stops.

The cases are data: lists generated below, in groups, each request written by hand as
bytes on a fresh socket (so that anything can be sent: NUL bytes, invalid UTF-8, broken
framing). Every route of the route table (src/api/router.c, which this test reads to
check that it covers all of them) is tried without a token, with forged and malformed
tokens, with the viewer's token and with the admin's: a valid token carries something
hostile (a bad name or id in the path, a query that does not parse, a body that must be
refused), so even the admin writes nothing. Groups:

  routes    every route x every way of (not) authenticating
  params    hostile {name}, {id}, {run_id}, {file} segments: SQL, traversal, NUL, ...
  queries   hostile query strings on every route that reads filters
  bodies    malformed, truncated, oversized, deeply nested, invalid UTF-8, NUL bytes,
            huge numbers, duplicate keys, wrong types and content types, on every route
            that reads a body (create, patch, start a run, login)
  inject    SQL and JSON injection strings in every field of every body
  types     every JSON type in every field of every body
  framing   overlong and odd request lines and headers, smuggling attempts, bad
            lengths and chunks, other protocols
  slow      clients that dribble a request one byte at a time, and slowloris heads,
            while a normal client is served
  idle      hundreds of idle connections (silent, half a request, keep-alive after one
            answer) while a normal client is served

A few requests are harmless by nature (a public route with junk headers, a free-text
filter that matches nothing): those may also be answered 2xx/3xx, and say so ("survive"
instead of "refuse"); a filter that answers 200 must match nothing.

Not covered here by design: POST /api/v1/auth/logout with a valid token and nothing else
wrong is a legitimate write (it ends the session) and DELETE of an existing engine with
the admin's token is one too; both are tried only in forms that must be refused.

Run: python3 tests/reliability/test_hostile.py build/wfreg (ctest: reliability/test_hostile).
Every wait is bounded (harness.scaled stretches them for the sanitizer build). Only
127.0.0.1 is contacted; a fake n8n (tests/fakes) stands in for the engine.
"""

import json
import os
import re
import socket
import sqlite3
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
import harness  # noqa: E402
from harness import ServerTestCase, scaled  # noqa: E402
from fake_n8n import FakeN8n  # noqa: E402

ROUTER_C = os.path.join(HERE, "..", "..", "src", "api", "router.c")
N8N_KEY = "hostile-n8n-key-0123"
ENGINES = "/api/v1/engines"
MAX_BODY = 1 << 20  # WF_API_MAX_BODY
CASE_TIMEOUT = 5    # seconds (scaled) for one answer; past it the case "hangs"
GROUP_BUDGET = 90   # seconds (scaled) for a group's cases (a few seconds normally)

# The route table as the test knows it; test_a_route_table checks it against router.c.
# need: who may call it. BODY_ROUTES: the routes that read a JSON body.
ROUTES = [
    ("GET", "/healthz", "none"),
    ("GET", "/readyz", "none"),
    ("GET", "/metrics", "none"),
    ("GET", "/openapi.json", "none"),
    ("POST", "/api/v1/auth/login", "none"),
    ("POST", "/api/v1/auth/logout", "viewer"),
    ("GET", "/api/v1/auth/me", "viewer"),
    ("GET", "/api/v1/engines", "viewer"),
    ("POST", "/api/v1/engines", "admin"),
    ("GET", "/api/v1/engines/{name}", "viewer"),
    ("PATCH", "/api/v1/engines/{name}", "admin"),
    ("DELETE", "/api/v1/engines/{name}", "admin"),
    ("GET", "/api/v1/engines/{name}/history", "viewer"),
    ("POST", "/api/v1/engines/{name}/test", "viewer"),
    ("GET", "/api/v1/workflows", "viewer"),
    ("GET", "/api/v1/engines/{name}/workflows", "viewer"),
    ("POST", "/api/v1/engines/{name}/workflows/{id}/runs", "admin"),
    ("GET", "/api/v1/engines/{name}/runs/{run_id}", "viewer"),
    ("GET", "/", "none"),
    ("GET", "/ui/{file}", "none"),
    ("HEAD", "/", "none"),
    ("HEAD", "/ui/{file}", "none"),
]
BODY_ROUTES = {("POST", "/api/v1/auth/login"), ("POST", ENGINES),
               ("PATCH", ENGINES + "/{name}"), ("POST", ENGINES + "/{name}/workflows/{id}/runs")}

# --- hostile strings ------------------------------------------------------------------

SQLI = [
    "' OR '1'='1",
    "'; DROP TABLE engines; --",
    "victim' --",
    "\" OR \"\"=\"",
    "1; DELETE FROM users",
    "' UNION SELECT token_hash, 1, 1 FROM api_tokens --",
    "'||(SELECT password_hash FROM users LIMIT 1)||'",
    "1' AND sqlite_version() > 0 --",
    "'); ATTACH DATABASE 'x.db' AS x; --",
    "$1",
    "?",
    "\\'; PRAGMA writable_schema=1; --",
]
JSONI = [
    '","api_key":"stolen',
    '"}',
    '{"$gt": ""}',
    "\\u0000",
    "</script><script>alert(1)</script>",
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "%s%s%s%s%n%n",
    "\r\nX-Injected: 1",
    "\u202e\ufeff\u200b",
    "a" * 70000,
]
# hostile path segments (already percent-encoded where they must be)
SEGMENTS = [
    ("sqli quote", urllib.parse.quote("' OR '1'='1", safe="")),
    ("sqli drop", urllib.parse.quote("victim'; DROP TABLE engines; --", safe="")),
    ("sqli comment", urllib.parse.quote("victim' --", safe="")),
    ("encoded traversal", "..%2F..%2F..%2Fetc%2Fpasswd"),
    ("dot dot", ".."),
    ("encoded dots", "%2e%2e"),
    ("dot", "."),
    ("NUL", "victim%00"),
    ("NUL inside", "vic%00tim"),
    ("invalid UTF-8", "%FF%FE"),
    ("overlong slash", "%C0%AF"),
    ("lone surrogate", "%ED%A0%80"),
    ("long", "n" * 4000),
    ("format string", "%25s%25s%25n"),
    ("CRLF", "victim%0D%0AX-Injected:%201"),
    ("upper case", "VICTIM"),
    ("trailing space", "victim%20"),
    ("homoglyph", urllib.parse.quote("v\u0456ctim", safe="")),
    ("encoded slash", "victim%2Fhistory"),
    ("bad escape", "victim%zz"),
    ("half escape", "victim%"),
    ("backslashes", "..%5C..%5Cwindows"),
]

# --- requests as bytes ----------------------------------------------------------------


def request(method, target, headers=(), body=b"", token=None, ctype="application/json",
            length=True, version="HTTP/1.1", close=True):
    """A request written by hand: headers is a list of (name, value) str or bytes pairs
    sent as they are, after Host (and Authorization, Content-Type and Content-Length
    when asked for)."""
    if isinstance(body, str):
        body = body.encode()
    lines = [b"%s %s %s" % (enc(method), enc(target), enc(version)), b"Host: 127.0.0.1"]
    if token:
        lines.append(b"Authorization: Bearer " + enc(token))
    if body and ctype:
        lines.append(b"Content-Type: " + enc(ctype))
    if length and (body or method in ("POST", "PATCH", "PUT")):
        lines.append(b"Content-Length: %d" % len(body))
    if close:
        lines.append(b"Connection: close")
    lines += [enc(k) + b": " + enc(v) for k, v in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def enc(s):
    return s if isinstance(s, bytes) else s.encode("utf-8", "surrogatepass")


class Case:
    """One hostile request. expect: "refuse" (a 4xx or a closed connection) or
    "survive" (anything but a 5xx); shut: half-close after sending (a truncated
    request ends there); check: a function of the Answer giving a problem or None."""

    def __init__(self, group, label, data, expect="refuse", shut=False, check=None,
                 head=False):
        self.group, self.label, self.data = group, label, data
        self.expect, self.shut, self.check, self.head = expect, shut, check, head


class Answer:
    def __init__(self, status, headers, body, outcome, took):
        self.status, self.headers, self.body = status, headers, body
        self.outcome, self.took = outcome, took  # outcome: answered, closed or hang

    def __repr__(self):
        return "<%s %s %r>" % (self.outcome, self.status, self.body[:200])


def exchange(port, data, shut=False, head=False, timeout=CASE_TIMEOUT):
    """Sends data on a new connection and reads one answer (bounded)."""
    t0 = time.monotonic()
    deadline = t0 + scaled(timeout)
    s = socket.create_connection(("127.0.0.1", port), timeout=scaled(timeout))
    buf, eof = b"", False
    try:
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it read everything: read what it said
        status, headers, need = None, {}, None
        while True:
            if status is None and b"\r\n\r\n" in buf:
                head_text, _, _ = buf.partition(b"\r\n\r\n")
                lines = head_text.decode("latin-1").split("\r\n")
                m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
                if not m:
                    return Answer(None, {}, buf, "garbage", time.monotonic() - t0)
                status = int(m.group(1))
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                body_start = len(head_text) + 4
                if head or status in (204, 304) or 100 <= status < 200:
                    need = body_start
                elif headers.get("content-length", "").isdigit():
                    need = body_start + int(headers["content-length"])
            if status is not None and need is not None and len(buf) >= need:
                return Answer(status, headers, buf[len(head_text) + 4:need], "answered",
                              time.monotonic() - t0)
            if eof:
                if status is not None:  # no length: the body ends with the connection
                    return Answer(status, headers, buf[len(head_text) + 4:], "answered",
                                  time.monotonic() - t0)
                return Answer(None, {}, buf, "closed", time.monotonic() - t0)
            left = deadline - time.monotonic()
            if left <= 0:
                return Answer(status, headers, buf, "hang", time.monotonic() - t0)
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, OSError):
                chunk = b""
            if chunk:
                buf += chunk
            else:
                eof = True
    finally:
        s.close()


def judge(case, a):
    """The problem with answer a to case, or None."""
    if a.outcome == "hang":
        return "no answer and no close within %.0f s (got %r)" % (scaled(CASE_TIMEOUT), a)
    if a.outcome == "garbage":
        return "an answer that is not HTTP: %r" % a.body[:200]
    if a.status is not None and a.status >= 500:
        return "a %d: %r" % (a.status, a.body[:300])
    if a.status is not None and a.status < 400 and a.status != 100 and case.expect == "refuse":
        return "accepted with a %d: %r" % (a.status, a.body[:300])
    if a.status is not None and "application/json" in a.headers.get("content-type", "") \
            and a.body and not case.head:
        try:
            json.loads(a.body.decode("utf-8"))
        except ValueError as e:
            return "a %d whose body is not JSON (%s): %r" % (a.status, e, a.body[:300])
    if case.check:
        return case.check(a)
    return None


def matches_nothing(a):
    """For a filter that answered 200: it must not have widened to every engine."""
    if a.status != 200:
        return None
    obj = json.loads(a.body)
    if obj.get("items"):
        return "a hostile filter listed %d items" % len(obj["items"])
    return None


def no_file_leak(a):
    if b"root:" in a.body or b"PRIVATE KEY" in a.body or b"CREATE TABLE" in a.body:
        return "the answer discloses a file: %r" % a.body[:200]
    return None


# --- the cases ------------------------------------------------------------------------


class Tokens:
    """The tokens the generators use (filled in setUpClass)."""
    admin = viewer = None
    workflow_id = None


def fill(pattern, **segments):
    """The pattern with its parameters: the victim engine, its first workflow, a run
    and a file of the admin page, unless segments says otherwise."""
    values = {"name": "victim", "id": Tokens.workflow_id, "run_id": "1", "file": "app.js"}
    values.update(segments)
    for k, v in values.items():
        pattern = pattern.replace("{%s}" % k, v)
    return pattern


def refused_body(method, pattern):
    """For a route that reads a body: one that must be refused (so nothing is written
    even when the caller may write); b"" for the others."""
    if (method, pattern) in BODY_ROUTES:
        return b'{"hostile": ' + b"[" * 50 + b"]" * 49 + b"}"  # broken: one ] short
    return b""


def route_cases():
    """Every route, without a token and with every kind of bad or borrowed one."""
    forged = "wfr_" + "A" * 43
    auths = [
        ("no token", []),
        ("forged token", [("Authorization", "Bearer " + forged)]),
        ("empty bearer", [("Authorization", "Bearer ")]),
        ("bearer only", [("Authorization", "Bearer")]),
        ("basic credentials", [("Authorization", "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQtMQ==")]),
        ("token with sqli", [("Authorization", "Bearer %s' OR '1'='1" % Tokens.admin)]),
        ("token cut short", [("Authorization", "Bearer " + Tokens.admin[:-1])]),
        ("token twice", [("Authorization", "Bearer %s %s" % (Tokens.admin, Tokens.admin))]),
        ("long token", [("Authorization", "Bearer " + "t" * 12000)]),
        ("NUL in token", [("Authorization", b"Bearer " + Tokens.admin.encode() + b"\x00x")]),
        ("token in the query", []),
    ]
    cases = []
    for method, pattern, need in ROUTES:
        target = fill(pattern)
        body = refused_body(method, pattern)
        head = method == "HEAD"
        for label, hdrs in auths:
            t = target + ("?token=" + Tokens.admin if label == "token in the query" else "")
            expect = "survive" if need == "none" else "refuse"
            cases.append(Case("routes", "%s %s: %s" % (method, pattern, label),
                              request(method, t, hdrs, body), expect, head=head))
        if need == "none":
            continue
        # a valid token with a query that does not parse: refused before the handler
        for who in ("viewer", "admin"):
            tok = getattr(Tokens, who)
            cases.append(Case("routes", "%s %s: %s token, unparsable query" % (method, pattern,
                                                                               who),
                              request(method, target + "?a&&=%00", token=tok, body=body)))
        # the viewer on an admin route, even with a harmless request: 403
        if need == "admin":
            cases.append(Case("routes", "%s %s: viewer token" % (method, pattern),
                              request(method, target, token=Tokens.viewer, body=body)))
        # an admin with a body that must be refused
        if body:
            cases.append(Case("routes", "%s %s: admin token, broken body" % (method, pattern),
                              request(method, target, token=Tokens.admin, body=body)))
    return cases


def param_cases():
    """Hostile path segments in every parameter of every route that has one."""
    cases = []
    for method, pattern, need in ROUTES:
        if "{" not in pattern:
            continue
        token = Tokens.admin if need == "admin" else Tokens.viewer if need == "viewer" else None
        body = b"{}" if (method, pattern) in BODY_ROUTES else b""
        for param in re.findall(r"\{(\w+)\}", pattern):
            for label, seg in SEGMENTS:
                target = fill(pattern, **{param: seg})
                check = no_file_leak if param == "file" else None
                cases.append(Case("params", "%s %s: %s=%s" % (method, pattern, param, label),
                                  request(method, target, token=token, body=body),
                                  head=method == "HEAD", check=check))
    # traversal spelled out in the path itself
    for target in ("/api/v1/../../etc/passwd", "/ui/../../../../etc/passwd",
                   "/ui/..%2F..%2F..%2F..%2Fetc%2Fpasswd", "/ui/%2e%2e/%2e%2e/etc/passwd",
                   "/ui/index.html%00.js", "/ui/", "/ui//etc/passwd", "//api/v1/engines",
                   "/api/v1/engines/victim/../../auth/me", "/api/v1//engines/victim",
                   "/api/v1/engines/victim/", "/api/v1/engines/victim;x=1",
                   "/api/v1/engines/victim/workflows/../runs/1", "/%2e%2e/%2e%2e/etc/passwd",
                   "/api/v1/engines/victim/history/..", "/.git/config", "/ui/.%2e/src/api/router.c",
                   "/ui/%2e%2e%5c%2e%2e%5cCMakeLists.txt"):
        cases.append(Case("params", "path %s" % target,
                          request("GET", target, token=Tokens.admin), check=no_file_leak))
    return cases


def query_cases():
    cases = []
    lists = [(ENGINES, ("engine_type", "source", "active", "limit", "offset")),
             ("/api/v1/workflows", ("engine", "engine_type", "q"))]
    values = [("sqli", urllib.parse.quote(SQLI[0])), ("sqli drop", urllib.parse.quote(SQLI[1])),
              ("union", urllib.parse.quote(SQLI[5])), ("NUL", "x%00y"), ("invalid UTF-8", "%FF"),
              ("huge number", "9" * 40), ("negative", "-1"), ("float", "1e999"),
              ("long", "q" * 5000), ("bad escape", "%zz"), ("array syntax", "[]=1"),
              ("json", urllib.parse.quote('{"$ne": null}'))]
    for path, names in lists:
        for name in names:
            for label, v in values:
                # a free-text filter may answer 200, but must match nothing
                survive = name in ("engine_type", "q")
                cases.append(Case("queries", "GET %s?%s=%s" % (path, name, label),
                                  request("GET", "%s?%s=%s" % (path, name, v),
                                          token=Tokens.viewer),
                                  "survive" if survive else "refuse", check=matches_nothing))
    # the same parameter twice, and parameters that are not filters at all
    for path in (ENGINES, "/api/v1/workflows"):
        for label, q in (("twice", "limit=1&limit=%27"), ("unknown", "limit=1&__proto__=1"),
                         ("only separators", "&&&&"), ("empty name", "=1"),
                         ("many", "&".join("p%d=%d" % (i, i) for i in range(3000)))):
            cases.append(Case("queries", "GET %s: %s" % (path, label),
                              request("GET", "%s?%s" % (path, q), token=Tokens.viewer),
                              "survive", check=None))
    # kind on a run: an enum
    for label, v in values[:6]:
        cases.append(Case("queries", "POST runs?kind=%s" % label,
                          request("POST", fill(ENGINES + "/{name}/workflows/{id}/runs")
                                  + "?kind=" + v, token=Tokens.admin, body=b"{}")))
    return cases


def bad_bodies():
    """(label, body bytes, content type or None): bodies no route may accept. Every one
    is refused whatever it is sent to (none is even a JSON object with a valid
    syntax, which a run would accept as its parameters)."""
    j = "application/json"
    b = [
        ("empty object broken", b"{", j), ("only close", b"}", j), ("missing value", b'{"a":}', j),
        ("unclosed array", b"[1,2", j), ("two strings", b'{"a": "x" "y"}', j),
        ("two documents", b"{} {}", j), ("trailing comma", b'{"a": 1,}', j),
        ("single quotes", b"{'a': 'b'}", j), ("python literal", b'{"a": True}', j),
        ("NaN", b'{"a": NaN}', j), ("Infinity", b'{"a": -Infinity}', j),
        ("comment", b'{"a": 1 /* x */}', j), ("BOM", b"\xef\xbb\xbf{}", j),
        ("bare NUL", b"\x00", j), ("NUL after", b"{}\x00", j),
        ("NUL in string", b'{"a": "x\x00y"}', j), ("NUL in key", b'{"a\x00b": 1}', j),
        ("escaped NUL", b'{"name": "a\\u0000b"}', j),
        ("escaped NUL key", b'{"\\u0000": 1}', j),
        ("lone surrogate", b'{"name": "\\ud800"}', j),
        ("reversed surrogates", b'{"name": "\\udc00\\ud800"}', j),
        ("invalid UTF-8", b'{"name": "\xff\xfe"}', j),
        ("invalid UTF-8 key", b'{"n\xc3": 1}', j),
        ("overlong UTF-8", b'{"name": "\xc0\xaf"}', j),
        ("UTF-8 surrogate", b'{"name": "\xed\xa0\x80"}', j),
        ("5-byte UTF-8", b'{"name": "\xf8\x88\x80\x80\x80"}', j),
        ("UTF-16 body", '{"name": "x"}'.encode("utf-16"), "application/json; charset=utf-16"),
        ("huge integer", b'{"a": ' + b"9" * 400 + b"}", j),
        ("int64 overflow", b'{"a": 9223372036854775808}', j),
        ("huge negative", b'{"a": -' + b"9" * 400 + b"}", j),
        ("real overflow", b'{"a": 1e400}', j),
        ("bad exponent", b'{"a": 1e}', j), ("leading zeros", b'{"a": 0001}', j),
        ("hex number", b'{"a": 0x10}', j),
        ("nested arrays 100k", b"[" * 100000 + b"]" * 100000, j),
        ("nested objects 20k", b'{"a":' * 20000 + b"1" + b"}" * 20000, j),
        ("nested unclosed", b'{"a":' * 50000, j),
        ("nested config", b'{"config": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}", j),
        ("duplicate key", b'{"name": "a", "name": "b"}', j),
        ("duplicate nested key", b'{"config": {"x": 1, "x": 2}}', j),
        ("duplicate escaped key", b'{"name": "a", "n\\u0061me": "b"}', j),
        ("duplicate deep key", b'{"a": [{"b": {"c": 1, "c": 1}}]}', j),
        ("array", b"[]", j), ("string", b'"x"', j), ("number", b"1", j), ("null", b"null", j),
        ("true", b"true", j),
        ("no content type", b'{"a": 1', None), ("text/plain", b'{"a": 1}', "text/plain"),
        ("form", b"name=x&engine_type=n8n", "application/x-www-form-urlencoded"),
        ("json prefix", b'{"a": 1}', "application/jsonx"),
        ("multipart", b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--b--",
         "multipart/form-data; boundary=b"),
        ("content type with NUL", b'{"a": 1}', b"application/json\x00"),
        ("content type twice", b'{"a": 1', "application/json, text/plain"),
        ("over 1 MiB", b'{"a": "' + b"x" * MAX_BODY + b'"}', j),
        ("over 2 MiB", b'{"a": "' + b"x" * (2 * MAX_BODY + 10) + b'"}', j),
        ("over 1 MiB of spaces", b" " * (MAX_BODY + 1), j),
    ]
    return b


def body_targets():
    return [("POST", ENGINES, Tokens.admin), ("PATCH", ENGINES + "/victim", Tokens.admin),
            ("POST", fill(ENGINES + "/{name}/workflows/{id}/runs"), Tokens.admin),
            ("POST", "/api/v1/auth/login", None)]


def body_cases():
    cases = []
    for method, target, token in body_targets():
        for label, body, ctype in bad_bodies():
            cases.append(Case("bodies", "%s %s: %s" % (method, target, label),
                              request(method, target, token=token, body=body, ctype=ctype)))
        # framing of the body itself
        good = b'{"name": "x", "engine_type": "n8n", "api_url": "http://127.0.0.1:9"}'
        framing = [
            ("truncated body", request(method, target, token=token, length=False,
                                       headers=[("Content-Length", "100")], body=good[:20]),
             True),
            ("length past 1 MiB, no body", request(method, target, token=token, length=False,
                                                   headers=[("Content-Length", "9999999999")]),
             True),
            ("length over 2^64", request(method, target, token=token, length=False,
                                         headers=[("Content-Length", "9" * 30)], body=good),
             False),
            ("negative length", request(method, target, token=token, length=False,
                                        headers=[("Content-Length", "-1")], body=good), False),
            ("two lengths", request(method, target, token=token, length=False,
                                    headers=[("Content-Length", "2"),
                                             ("Content-Length", str(len(good)))], body=good),
             False),
            ("length with junk", request(method, target, token=token, length=False,
                                         headers=[("Content-Length", "12abc")], body=good),
             False),
            ("chunked broken", request(method, target, token=token, length=False,
                                       headers=[("Transfer-Encoding", "chunked")],
                                       body=b"zz\r\n{}\r\n0\r\n\r\n"), False),
            ("chunk size overflow", request(method, target, token=token, length=False,
                                            headers=[("Transfer-Encoding", "chunked")],
                                            body=b"ffffffffffffffffff\r\n{}\r\n0\r\n\r\n"),
             False),
            ("chunked truncated", request(method, target, token=token, length=False,
                                          headers=[("Transfer-Encoding", "chunked")],
                                          body=b"100\r\n{\"a\""), True),
            ("chunked bad JSON", request(method, target, token=token, length=False,
                                         headers=[("Transfer-Encoding", "chunked")],
                                         body=b"3\r\n{\"a\r\n0\r\n\r\n"), False),
            ("chunked over 1 MiB", request(method, target, token=token, length=False,
                                           headers=[("Transfer-Encoding", "chunked")],
                                           body=b"".join([b"10000\r\n" + b" " * 0x10000 + b"\r\n"]
                                                         * 17) + b"0\r\n\r\n"), False),
            ("expect 100-continue, huge", request(method, target, token=token, length=False,
                                                  headers=[("Expect", "100-continue"),
                                                           ("Content-Length", "50000000")]),
             True),
        ]
        for label, data, shut in framing:
            cases.append(Case("bodies", "%s %s: %s" % (method, target, label), data,
                              shut=shut))
    return cases


HUGE_NUMBERS = [("2^63", b"9223372036854775808"), ("-2^63-1", b"-9223372036854775809"),
                ("2^64", b"18446744073709551616"), ("10^400", b"1" + b"0" * 400),
                ("1e308", b"1e308"), ("1e-400", b"1e-400"), ("-0", b"-0.0"),
                ("2^53+1", b"9007199254740993"), ("int64 min", b"-9223372036854775808")]


def number_cases():
    """Huge, tiny and edge numbers in every field of the engine and log-in bodies: a
    parse error (400) or a wrong type or range (422), never a number taken as text."""
    cases = []
    base = b'"name": "numbers", "engine_type": "n8n", "api_url": "http://127.0.0.1:9"'
    for label, n in HUGE_NUMBERS:
        for field in ("name", "engine_type", "api_url", "api_key", "active", "config",
                      "config.timeout_ms", "config.verify_tls"):
            if field.startswith("config."):
                member = b'"config": {"%s": %s}' % (field[7:].encode(), n)
            else:
                member = b'"%s": %s' % (field.encode(), n)
            for method, target in (("POST", ENGINES), ("PATCH", ENGINES + "/victim")):
                # the create body's own member of that name is left out: no duplicate key
                rest = b", ".join(m for m in base.split(b", ")
                                  if not m.startswith(b'"%s"' % field.encode()))
                body = b"{" + (rest + b", " if method == "POST" else b"") + member + b"}"
                cases.append(Case("bodies", "%s %s: %s=%s" % (method, target, field, label),
                                  request(method, target, token=Tokens.admin, body=body)))
        for field in ("username", "password"):
            other = "password" if field == "username" else "username"
            body = b'{"%s": %s, "%s": "x"}' % (field.encode(), n, other.encode())
            cases.append(Case("bodies", "login %s=%s" % (field, label),
                              request("POST", "/api/v1/auth/login", body=body)))
    return cases


WRONG_TYPES = [None, True, False, 0, -1, 1.5, "", [], ["n8n"], {}, {"$gt": ""}, [[[]]]]


def type_cases():
    """Every JSON type in every field of the engine and log-in bodies. As in
    inject_cases, an engine body also carries "active": "no", so that even a value of the
    right type (a config of {}, a null api_key that would remove the key) is refused."""
    cases = []
    base = {"name": "types", "engine_type": "n8n", "api_url": "http://127.0.0.1:9"}
    for v in WRONG_TYPES:
        for field in ("name", "engine_type", "api_url", "api_key", "active", "config",
                      "config.timeout_ms", "config.verify_tls", "config.workspace"):
            if field == "active" and isinstance(v, bool):
                continue  # a right value, and no poison left
            for method, target in (("POST", ENGINES), ("PATCH", ENGINES + "/victim")):
                body = dict(base) if method == "POST" else {}
                body["active"] = "no"
                if field.startswith("config."):
                    body["config"] = {field[7:]: v}
                else:
                    body[field] = v
                cases.append(Case("types", "%s %s: %s=%s" % (method, target, field,
                                                             json.dumps(v)),
                                  request(method, target, token=Tokens.admin,
                                          body=json.dumps(body)),
                                  check=wants_422_on_active if field != "active" else None))
        for field in ("username", "password"):
            body = {"username": "admin", "password": "x"}
            body[field] = v
            cases.append(Case("types", "login %s=%s" % (field, json.dumps(v)),
                              request("POST", "/api/v1/auth/login", body=json.dumps(body))))
    return cases


def wants_422_on_active(a):
    if a.status != 422:
        return None
    locs = [d.get("loc") for d in json.loads(a.body)["detail"]]
    if ["body", "active"] not in locs:
        return "the 422 does not name body.active: %r" % locs
    return None


def inject_cases():
    """SQL and JSON injection strings in every field. An engine body could be accepted
    with a hostile api_key or config value (they are free text, stored as data), so
    every one also carries "active": "no" (wrong type): the whole body is checked and
    refused with a 422 that names active, and nothing is written."""
    cases = []
    base = {"name": "hostile", "engine_type": "n8n", "api_url": "http://127.0.0.1:9"}
    fields = ["name", "engine_type", "api_url", "api_key", "config.workspace",
              "config.timeout_ms", "config.verify_tls", "config.<key>", "<key>", "active"]
    for s in SQLI + JSONI:
        for field in fields:
            for method, target in (("POST", ENGINES), ("PATCH", ENGINES + "/victim")):
                body = dict(base) if method == "POST" else {}
                body["active"] = "no"
                if field.startswith("config."):
                    k = field[7:]
                    body["config"] = {s if k == "<key>" else k: s}
                elif field == "<key>":
                    body[s] = "x"
                else:
                    body[field] = s
                short = s[:24] + ("..." if len(s) > 24 else "")
                cases.append(Case("inject", "%s %s: %s=%r" % (method, target, field, short),
                                  request(method, target, token=Tokens.admin,
                                          body=json.dumps(body)),
                                  check=wants_422_on_active if field != "active" else None))
        # the log-in: wrong credentials (401), or 429 once the failures add up
        for field in ("username", "password"):
            body = {"username": "admin", "password": "x"}
            body[field] = s
            cases.append(Case("inject", "login %s=%r" % (field, s[:24]),
                              request("POST", "/api/v1/auth/login", body=json.dumps(body))))
    return cases


def framing_cases():
    """The request line and headers: size limits, odd forms, other protocols."""
    auth = ("Authorization", "Bearer " + Tokens.admin)

    def post(hdrs):  # the admin's create, with a body that is not even JSON
        return request("POST", ENGINES, [auth] + hdrs, body=b'{"hostile": [')

    raw = [
        ("URL of 8 KiB", request("GET", "/api/v1/engines/" + "a" * 8192, [auth]), "refuse"),
        ("URL of 64 KiB", request("GET", "/api/v1/engines/" + "a" * 65536, [auth]), "refuse"),
        ("URL of 1 MiB", request("GET", "/healthz?" + "a" * MAX_BODY), "refuse"),
        ("query of 1 MiB", request("GET", ENGINES + "?limit=" + "9" * 20000, [auth]), "refuse"),
        ("header of 15 KiB", request("GET", "/healthz", [("X-A", "a" * 15000)]), "survive"),
        ("header of 17 KiB", request("GET", "/healthz", [("X-A", "a" * 17000)]), "refuse"),
        ("header of 1 MiB", request("GET", "/healthz", [("X-A", "a" * MAX_BODY)]), "refuse"),
        ("5000 headers", request("GET", "/healthz", [("X-%d" % i, "1") for i in range(5000)]),
         "refuse"),
        ("header name of 16 KiB", request("GET", "/healthz", [("X" * 16500, "1")]), "refuse"),
        ("huge token on a write", post([("Authorization", "Bearer " + "a" * 15000)]), "refuse"),
        ("NUL in request line", b"GET /heal\x00thz HTTP/1.1\r\nHost: x\r\n\r\n", "refuse"),
        ("NUL in method", b"G\x00T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "refuse"),
        ("NUL in header name", b"GET /healthz HTTP/1.1\r\nHo\x00st: x\r\n\r\n", "refuse"),
        ("NUL line in the head", b"GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\n\x00\r\n"
         b"Authorization: Bearer " + Tokens.admin.encode() + b"\r\n\r\n", "refuse"),
        ("NUL after the head", request("GET", "/api/v1/auth/me", token=Tokens.admin)
         + b"\x00", "refuse"),
        ("NUL in content type", post([("Content-Type", b"application/json\x00x")]), "refuse"),
        ("invalid UTF-8 in path", b"GET /api/v1/engines/\xff\xfe HTTP/1.1\r\nHost: x\r\n"
         b"Authorization: Bearer " + Tokens.viewer.encode() + b"\r\n\r\n", "refuse"),
        ("invalid UTF-8 in header", request("GET", "/healthz", [("X-A", b"\xff\xfe\xc0\xaf")]),
         "survive"),
        ("method of 10000 letters", request("A" * 10000, "/healthz"), "refuse"),
        ("lower-case method", request("get", "/api/v1/engines", [auth]), "refuse"),
        ("unknown method", request("BREW", ENGINES, [auth]), "refuse"),
        ("TRACE", request("TRACE", "/healthz"), "refuse"),
        ("CONNECT", request("CONNECT", "127.0.0.1:22"), "refuse"),
        ("OPTIONS *", request("OPTIONS", "*"), "refuse"),
        ("PUT", request("PUT", ENGINES + "/victim", [auth], body=b"{}"), "refuse"),
        ("HTTP/9.9", request("GET", "/healthz", version="HTTP/9.9"), "refuse"),
        ("HTTP/1.1 without a version", b"GET /healthz\r\nHost: x\r\n\r\n", "refuse"),
        ("HTTP/0.9", b"GET /healthz\r\n", "refuse"),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "refuse"),
        ("binary junk", bytes(range(256)) * 4, "refuse"),
        ("bare LF", b"GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n", "survive"),
        ("no path", b"GET  HTTP/1.1\r\nHost: x\r\n\r\n", "refuse"),
        ("no Host", b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", "survive"),
        ("Host of 15 KiB", request("GET", "/healthz", [("Host", "h" * 15000)]), "survive"),
        ("absolute URL elsewhere", request("GET", "http://169.254.169.254/latest/meta-data/"),
         "refuse"),
        ("absolute URL here", request("GET", "http://127.0.0.1/healthz"), "survive"),
        ("header folding", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n"
         b"Connection: close\r\n\r\n", "survive"),
        ("folded Authorization", b"GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\n"
         b"Authorization: Bearer\r\n " + Tokens.admin.encode() + b"x\r\n\r\n", "refuse"),
        ("header without colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad\r\n\r\n", "refuse"),
        ("space before colon", b"GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization : "
         b"Bearer x\r\n\r\n", "refuse"),
        ("CRLF in a header value", request("GET", "/api/v1/auth/me",
                                           [("Authorization", "Bearer x\r\nX-Injected: 1")]),
         "refuse"),
        ("smuggling: length and chunked", request("POST", ENGINES, [
            auth, ("Transfer-Encoding", "chunked")], length=True,
            body=b"0\r\n\r\nPOST /api/v1/engines HTTP/1.1\r\nHost: x\r\n\r\n"), "refuse"),
        ("smuggling: chunked, identity", request("POST", ENGINES, [
            auth, ("Transfer-Encoding", "chunked, identity")], length=False,
            body=b"5\r\n{\"a\":\r\n0\r\n\r\n"), "refuse"),
        ("smuggling: xchunked", request("POST", ENGINES, [
            auth, ("Transfer-Encoding", "xchunked"), ("Content-Length", "3")], length=False,
            body=b"{\"a"), "refuse"),
        ("pipelined junk after a request", request("GET", "/api/v1/auth/me", close=False)
         + b"\x00\x01\x02 garbage\r\n\r\n", "refuse"),
        ("Connection: upgrade", request("GET", "/api/v1/auth/me", [
            ("Connection", "Upgrade"), ("Upgrade", "websocket")]), "refuse"),
        ("X-Forwarded-For spoof on login", request("POST", "/api/v1/auth/login", [
            ("X-Forwarded-For", "1.2.3.4")], body=b'{"username": "admin", "password": 1}'),
         "refuse"),
        ("Content-Encoding gzip", post([("Content-Encoding", "gzip")]), "refuse"),
        ("cookie instead of a token", request("GET", "/api/v1/auth/me", [
            ("Cookie", "token=" + Tokens.admin)]), "refuse"),
    ]
    cases = [Case("framing", label, data, expect) for label, data, expect in raw]
    # heads that never end a line: the server waits for the rest (bounded by its idle
    # timeout, 30 s); the client gives up and half-closes, and the server must close
    for label, data in (("TLS client hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
                         + b"\x00" * 40),
                        ("bare CR", b"GET /healthz HTTP/1.1\rHost: x\r\r"),
                        ("half a request line", b"GET /api/v1/eng"),
                        ("head without its blank line", request("GET", "/healthz")[:-2])):
        cases.append(Case("framing", label, data, shut=True))
    return cases


# --- the test -------------------------------------------------------------------------


class Hostile(ServerTestCase):
    server_env = {"WFREG_HEALTH_INTERVAL": "0"}
    counts = {}
    fake = None

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeN8n(keys=[N8N_KEY], workflows=3)
        cls.fake.start()
        try:
            super().setUpClass()
            status, _, obj = cls.server.json(
                "POST", ENGINES, {"name": "victim", "engine_type": "n8n", "api_url": cls.fake.url,
                                  "api_key": N8N_KEY, "config": {"timeout_ms": 3000}},
                token=cls.admin)
            assert status == 201, (status, obj)
            status, _, obj = cls.server.json("GET", ENGINES + "/victim/workflows",
                                             token=cls.viewer)
            assert status == 200 and obj["items"], (status, obj)
        except BaseException:
            cls.fake.stop()
            raise
        Tokens.admin, Tokens.viewer = cls.admin, cls.viewer
        Tokens.workflow_id = obj["items"][0]["id"]
        cls.dump0 = cls.dump()
        cls.t0 = time.monotonic()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.fake.stop()

    @classmethod
    def dump(cls):
        db = sqlite3.connect(cls.server.db_path, timeout=scaled(10))
        try:
            return list(db.iterdump())
        finally:
            db.close()

    def run_cases(self, group, cases):
        """Sends each case, then checks that the server lives and the database is as
        it was; fails naming every case that went wrong."""
        problems, seen = [], {}
        t0 = time.monotonic()
        hangs = 0
        for i, c in enumerate(cases):
            if time.monotonic() - t0 > scaled(GROUP_BUDGET) or hangs >= 5:
                problems.append("the group stopped after %d of %d cases: %s" % (
                    i, len(cases), "5 hangs" if hangs >= 5 else
                    "past its %.0f s" % scaled(GROUP_BUDGET)))
                break
            a = exchange(self.server.port, c.data, shut=c.shut, head=c.head)
            hangs += a.outcome == "hang"
            key = a.status or a.outcome
            seen[key] = seen.get(key, 0) + 1
            problem = judge(c, a)
            if problem:
                problems.append("%s: %s" % (c.label, problem))
            if self.server.proc.poll() is not None:
                problems.append("%s: the server died (exit %s)" % (c.label,
                                                                   self.server.proc.returncode))
                break
        self.counts[group] = len(cases)
        print("  %-8s %4d cases in %.1f s: %s" % (
            group, len(cases), time.monotonic() - t0,
            ", ".join("%s x%d" % kv for kv in sorted(seen.items(), key=str))), file=sys.stderr)
        self.after_group(group, problems)

    def after_group(self, group, problems):
        if self.server.proc.poll() is None:
            r = harness.poll(lambda: exchange(self.server.port,
                                              request("GET", "/healthz")).status == 200, 5)
            if not r:
                problems.append("after the group: /healthz does not answer 200")
        else:
            problems.append("after the group: the server is not running")
        for who in ("admin", "viewer"):  # still signed in: the cases were tried as them
            a = exchange(self.server.port, request("GET", "/api/v1/auth/me",
                                                   token=getattr(Tokens, who)))
            if a.status != 200:
                problems.append("after the group: the %s's token gets %r" % (who, a))
        if self.server.sanitizer_reports():
            problems.append("sanitizer reports: %s" % self.server.sanitizer_reports()[:5])
        after = self.dump()
        if after != self.dump0:
            diff = [l for l in after if l not in self.dump0][:10]
            gone = [l for l in self.dump0 if l not in after][:10]
            problems.append("the database changed: new %r, gone %r" % (diff, gone))
        if problems:
            self.fail("%s: %d problem(s):\n  %s\nlog tail:\n%s" % (
                group, len(problems), "\n  ".join(problems[:60]),
                "\n".join(self.server.log()[-20:])))

    # --- groups, in order -----------------------------------------------------------

    def test_a_route_table(self):
        """The test's route table is router.c's, and openapi.json lists no other."""
        with open(ROUTER_C, encoding="utf-8") as f:
            text = f.read()
        table = text[text.index("const wf_route wf_routes[]"):]
        table = table[:table.index("};")]
        found = set(re.findall(r'\{"([A-Z]+)",\s*"([^"]+)"', table))
        mine = {(m, p) for m, p, _ in ROUTES}
        self.assertEqual(found, mine, "routes in router.c but not here: %s; here but not "
                         "there: %s" % (found - mine, mine - found))
        doc = json.loads(exchange(self.server.port, request("GET", "/openapi.json")).body)
        documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops
                      if m in ("get", "post", "patch", "delete", "head", "put")}
        self.assertLessEqual(documented, mine)

    def test_b_routes(self):
        self.run_cases("routes", route_cases())

    def test_c_params(self):
        self.fake.clear_requests()
        self.run_cases("params", param_cases())
        # what reached the engine stayed under its API: each id one path segment,
        # percent-encoded (none made it leave /workflows/ or /executions/)
        seen = self.fake.requests()
        self.assertTrue(seen, "no hostile id reached the engine: the test lost its target")
        for r in seen:
            self.assertRegex(r["target"], r"^/api/v1/(workflows|executions)/[^/?#]+(\?|$)",
                             "the engine was asked %s %s" % (r["method"], r["target"]))

    def test_d_queries(self):
        self.run_cases("queries", query_cases())

    def test_e_bodies(self):
        self.run_cases("bodies", body_cases() + number_cases())

    def test_f_inject(self):
        self.run_cases("inject", inject_cases())

    def test_f_types(self):
        self.run_cases("types", type_cases())

    def test_g_framing(self):
        self.run_cases("framing", framing_cases())

    def test_g_nul_on_keep_alive(self):
        """A NUL in the second request of a kept-alive connection: the first is served,
        the second refused (the connection's input is watched for its whole life)."""
        s = socket.create_connection(("127.0.0.1", self.server.port),
                                     timeout=scaled(CASE_TIMEOUT))
        try:
            reader = harness.RawReader(s)
            s.sendall(request("GET", "/api/v1/auth/me", token=Tokens.viewer, close=False))
            first = reader.response(CASE_TIMEOUT)
            s.sendall(request("GET", "/api/v1/auth/me", close=False, headers=[
                ("Authorization", b"Bearer " + Tokens.viewer.encode() + b"\x00x")]))
            second = reader.response(CASE_TIMEOUT)
        finally:
            s.close()
        self.assertEqual(first.status, 200, first)
        self.assertTrue(second.status is None or second.status == 400, second)
        self.counts["framing"] = self.counts.get("framing", 0) + 2

    def test_h_slow(self):
        """Clients that dribble their request a byte at a time (each bounded to a few
        seconds), and slowloris heads that never end, while a normal client is served."""
        port = self.server.port
        full = [
            ("dribbled GET /healthz", request("GET", "/healthz"), "survive"),
            ("dribbled GET of an engine", request("GET", ENGINES + "/victim",
                                                  token=Tokens.viewer), "survive"),
            ("dribbled hostile POST", request("POST", ENGINES, token=Tokens.admin,
                                              body=b'{"name": "' + SQLI[1].encode() + b'"}'),
             "refuse"),
            ("dribbled login", request("POST", "/api/v1/auth/login",
                                       body=b'{"username": "admin", "password": ["x"]}'),
             "refuse"),
        ]
        results, problems = {}, []

        def dribble(label, data, step):
            t0 = time.monotonic()
            s = socket.create_connection(("127.0.0.1", port), timeout=scaled(CASE_TIMEOUT))
            try:
                for i in range(len(data)):
                    if time.monotonic() - t0 > scaled(20):
                        results[label] = "still sending after %.0f s" % scaled(20)
                        return
                    s.sendall(data[i:i + 1])
                    time.sleep(step)
                results[label] = harness.read_response(s, CASE_TIMEOUT)
            except OSError as e:
                results[label] = "connection error %r" % e
            finally:
                s.close()

        def slowloris(label):
            # a head that never ends: a header line every 50 ms for about 2 s
            s = socket.create_connection(("127.0.0.1", port), timeout=scaled(CASE_TIMEOUT))
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                for i in range(40):
                    s.sendall(b"X-%d: %s\r\n" % (i, b"a" * 10))
                    time.sleep(0.05)
                results[label] = "held"
            except OSError:
                results[label] = "closed by the server"
            finally:
                s.close()

        threads = [threading.Thread(target=dribble, args=(l, d, 0.01), daemon=True)
                   for l, d, _ in full]
        threads += [threading.Thread(target=slowloris, args=("slowloris %d" % i,), daemon=True)
                    for i in range(4)]
        for t in threads:
            t.start()
        # meanwhile a normal client is served at once, again and again
        slowest = 0.0
        for _ in range(10):
            a = exchange(port, request("GET", ENGINES + "/victim", token=Tokens.viewer))
            slowest = max(slowest, a.took)
            if a.status != 200:
                problems.append("a normal client got %r while slow clients were connected" % a)
            time.sleep(0.1)
        if slowest > scaled(2):
            problems.append("a normal client waited %.2f s beside slow clients" % slowest)
        for t in threads:
            t.join(scaled(30))
            if t.is_alive():
                problems.append("a slow client thread did not end within %.0f s" % scaled(30))
        for label, data, expect in full:
            r = results.get(label)
            if not isinstance(r, harness.Response):
                problems.append("%s: %s" % (label, r))
            elif r.status is not None and r.status >= 500:
                problems.append("%s: a %d" % (label, r.status))
            elif expect == "refuse" and r.status is not None and r.status < 400:
                problems.append("%s: accepted with a %d" % (label, r.status))
            elif expect == "survive" and r.status != 200:
                problems.append("%s: not served (%r)" % (label, r))
        self.counts["slow"] = len(full) + 4
        print("  %-8s %4d cases" % ("slow", self.counts["slow"]), file=sys.stderr)
        self.after_group("slow", problems)

    def test_i_idle(self):
        """Hundreds of idle connections: silent, stopped in the middle of a request, and
        kept alive after one answer (below --max-connections, 1024 by default), while a
        normal client is served."""
        port = self.server.port
        socks, problems = [], []
        kinds = [("silent", 150, b""),
                 ("half a request", 50, b"GET /api/v1/engines HTTP/1.1\r\nHost: x\r\nAuthor"),
                 ("keep-alive", 50, request("GET", "/healthz", close=False))]
        t0 = time.monotonic()
        try:
            for label, n, data in kinds:
                for _ in range(n):
                    if time.monotonic() - t0 > scaled(30):
                        break
                    s = socket.create_connection(("127.0.0.1", port), timeout=scaled(5))
                    socks.append(s)
                    if data:
                        s.sendall(data)
                    if label == "keep-alive":
                        r = harness.read_response(s, CASE_TIMEOUT)
                        if r.status != 200:
                            problems.append("keep-alive connection: %r" % r)
            opened = len(socks)
            if opened < 250:
                problems.append("only %d idle connections opened in %.0f s"
                                % (opened, scaled(30)))
            for path, token in (("/healthz", None), (ENGINES + "/victim", Tokens.viewer),
                                ("/api/v1/workflows", Tokens.viewer)):
                a = exchange(port, request("GET", path, token=token))
                if a.status != 200 or a.took > scaled(2):
                    problems.append("beside %d idle connections, GET %s: %r in %.2f s"
                                    % (opened, path, a, a.took))
            if self.server.proc.poll() is not None:
                problems.append("the server died with idle connections open")
        finally:
            for s in socks:
                s.close()
        self.counts["idle"] = sum(n for _, n, _ in kinds)
        print("  %-8s %4d connections" % ("idle", self.counts["idle"]), file=sys.stderr)
        self.after_group("idle", problems)

    def test_z_summary(self):
        """The count, the database unchanged overall, no 5xx counted by the server."""
        requests = sum(n for g, n in self.counts.items() if g != "idle")
        text = exchange(self.server.port, request("GET", "/metrics")).body.decode()
        fives = [l for l in text.splitlines()
                 if l.startswith("wfreg_http_requests_total") and 'status="5' in l]
        log5 = [l for l in self.server.log() if re.search(r" 5\d\d [\d.]+ms ", l)]
        print("\nhostile requests tried: %d (%s), plus %d idle connections; %.1f s"
              % (requests, ", ".join("%s %d" % kv for kv in self.counts.items()
                                     if kv[0] != "idle"),
                 self.counts.get("idle", 0), time.monotonic() - self.t0), file=sys.stderr)
        self.assertEqual(fives, [], "the server counted 5xx answers")
        self.assertEqual(log5, [], "5xx answers in the access log")
        self.assertEqual(self.dump(), self.dump0)
        self.assertGreaterEqual(requests, 200)


if __name__ == "__main__":
    harness.main()
