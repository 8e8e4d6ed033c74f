"""test_errors.py: no request, however malformed, gets a 500 or kills the server. About
seventy malformed requests (bad JSON, wrong types in every field, huge numbers, deep
nesting, invalid UTF-8, NUL bytes, oversize paths and headers, path traversal, broken
framing), each answered with a 4xx (or, for oversize heads, a closed connection); then
the server still answers, and /metrics has counted no 500."""

import json
import time

import harness
from harness import ServerTestCase

ENGINES = "/api/v1/engines"
GOOD = {"name": "victim", "engine_type": "n8n", "api_url": "https://v.example.com"}


def body_cases():
    """(label, method, path, body bytes): JSON bodies that must get a 4xx."""
    cases = []
    bad_json = [b"{", b"}", b'{"name":}', b"[1,2", b'{"name": "x" "y"}', b"nul", b"{} {}",
                b'{"name": "\\ud800"}', b'{"name": "a\\u0000b"}', b"\xef\xbb\xbf{}",
                b'{"name": "\xff\xfe"}', b'{"name\xc3": 1}', b"{'name': 'x'}",
                b'{"name": "x",}', b'{"active": True}', b"\x00", b"{\"a\": 1e}", b" " * 5000]
    for i, b in enumerate(bad_json):
        cases.append(("bad json %d" % i, "POST", ENGINES, b))
    wrong = [None, 0, -1, 1.5, True, [], {}, "", ["n8n"], {"$gt": ""}]
    for field in ("name", "engine_type", "api_url", "active", "config", "api_key"):
        for v in wrong:
            if (field == "config" and isinstance(v, dict)) or (field == "active" and v is True) \
                    or (field == "api_key" and v is None):
                continue  # valid: a config object, active true, no key
            body = dict(GOOD, name="wrong-%s" % field)
            body[field] = v
            cases.append(("%s=%r" % (field, v), "POST", ENGINES, json.dumps(body).encode()))
    for field, v in (("name", 5), ("active", "false"), ("config", []), ("api_key", 1)):
        cases.append(("patch %s=%r" % (field, v), "PATCH", ENGINES + "/victim",
                      json.dumps({field: v}).encode()))
    huge = [b'{"name": 99999999999999999999999999999999999}',
            b'{"name": "h", "engine_type": "n8n", "api_url": "https://h.example.com",'
            b' "config": {"timeout_ms": 99999999999999999999999}}',
            b'{"name": "h", "engine_type": "n8n", "api_url": "https://h.example.com",'
            b' "config": {"timeout_ms": 1e400}}',
            b'{"name": "h", "engine_type": "n8n", "api_url": "https://h.example.com",'
            b' "config": {"timeout_ms": -9223372036854775808}}',
            b'{"name": "h", "engine_type": "n8n", "api_url": "https://h.example.com",'
            b' "config": {"timeout_ms": 1.0e2}}',
            b'{"name": "' + b"n" * 300 + b'", "engine_type": "n8n",'
            b' "api_url": "https://h.example.com"}',
            b'{"name": "h", "engine_type": "n8n", "api_url": "https://' + b"u" * 600 + b'.com"}',
            b'{"name": "h", "engine_type": "n8n", "api_url": "https://h.example.com",'
            b' "api_key": "' + b"k" * 5000 + b'"}',
            b'{"name": "h", "engine_type": "n8n", "api_url": "https://h.example.com",'
            b' "config": {"pad": "' + b"p" * 70000 + b'"}}',
            b'{"' + b"k" * 100000 + b'": 1}',
            b"{" + b",".join(b'"f%d": %d' % (i, i) for i in range(2000)) + b"}"]
    for i, b in enumerate(huge):
        cases.append(("huge %d" % i, "POST", ENGINES, b))
    cases.append(("nested 10000", "POST", ENGINES, b"[" * 10000 + b"]" * 10000))
    cases.append(("nested config 10000", "POST", ENGINES,
                  b'{"name": "deep", "engine_type": "n8n", "api_url": "https://d.example.com",'
                  b' "config": {"a": ' + b"[" * 10000 + b"]" * 10000 + b"}}"))
    cases.append(("nested unclosed", "POST", ENGINES, b'{"a":' * 10000))
    cases.append(("login nested", "POST", "/api/v1/auth/login", b"[" * 10000))
    cases.append(("login NUL", "POST", "/api/v1/auth/login",
                  b'{"username": "admin\\u0000x", "password": "x"}'))
    cases.append(("login bad utf8", "POST", "/api/v1/auth/login",
                  b'{"username": "\xc0\xaf", "password": "\xff"}'))
    cases.append(("login huge password", "POST", "/api/v1/auth/login",
                  b'{"username": "nobody", "password": "' + b"p" * 200000 + b'"}'))
    return cases


class Malformed(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, _, obj = cls.server.json("POST", ENGINES, GOOD, token=cls.admin)
        assert status == 201, obj

    def assert4xx(self, r, label, may_close=False):
        if r.status is None and may_close:
            return
        self.assertIsNotNone(r.status, "%s: the connection closed without an answer" % label)
        self.assertTrue(400 <= r.status < 500, "%s: got %s %r" % (label, r.status, r.body[:300]))

    def test_malformed_bodies(self):
        cases = body_cases()
        self.assertGreaterEqual(len(cases), 60)
        for label, method, path, body in cases:
            with self.subTest(label):
                r = self.req(method, path, body, token=self.admin,
                             headers={"Content-Type": "application/json"})
                self.assert4xx(r, label)
                if r.status == 422 or r.status == 400:
                    self.assertIn("detail", r.json(), label)
        # nothing of it was written, and the victim is unchanged
        status, _, obj = self.jreq("GET", ENGINES + "?limit=500", token=self.admin)
        self.assertEqual([e["name"] for e in obj["items"]], ["victim"])
        self.assertEqual(self.jreq("GET", ENGINES + "/victim", token=self.admin)[2]["api_url"],
                         GOOD["api_url"])
        self.assertEqual(self.req("GET", "/healthz").status, 200)

    def test_malformed_requests(self):
        auth = "Authorization: Bearer %s\r\n" % self.admin
        raw = [
            # (label, bytes, may the server just close the connection?)
            ("long path", b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", True),
            ("long name", ("GET %s/%s HTTP/1.1\r\nHost: x\r\n%s\r\n"
                           % (ENGINES, "a" * 10000, auth)).encode(), True),
            ("long header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 20000
             + b"\r\n\r\n", True),
            ("many headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
             + b"".join(b"X-%d: 1\r\n" % i for i in range(3000)) + b"\r\n", True),
            ("long token", b"GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
             + b"t" * 15000 + b"\r\n\r\n", True),
            ("NUL in request line", b"GET /heal\x00thz HTTP/1.1\r\nHost: x\r\n\r\n", False),
            ("NUL in header", ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                               "\x00x\r\nContent-Length: 2\r\n%s\r\n{}" % (ENGINES, auth)).encode(),
             False),
            ("NUL in token", b"GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\n"
             b"Authorization: Bearer \xff\xfe\x00abc\r\n\r\n", False),
            ("invalid UTF-8 in path", b"GET /api/v1/engines/\xff\xfe HTTP/1.1\r\nHost: x\r\n"
             + auth.encode() + b"\r\n", False),
            ("encoded invalid UTF-8 in path", ("GET %s/%%FF%%FE%%C0%%AF HTTP/1.1\r\nHost: x\r\n"
                                               "%s\r\n" % (ENGINES, auth)).encode(), False),
            ("encoded invalid UTF-8 in history path",
             ("GET %s/%%C3/history HTTP/1.1\r\nHost: x\r\n%s\r\n" % (ENGINES, auth)).encode(),
             False),
            ("encoded invalid UTF-8 in patch path",
             ("PATCH %s/%%FF HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              "Content-Length: 2\r\n%s\r\n{}" % (ENGINES, auth)).encode(), False),
            ("encoded invalid UTF-8 in delete path",
             ("DELETE %s/%%FF HTTP/1.1\r\nHost: x\r\n%s\r\n" % (ENGINES, auth)).encode(), False),
            ("invalid UTF-8 in query", ("GET %s?engine_type=%%FF&source=%%FE HTTP/1.1\r\n"
                                        "Host: x\r\n%s\r\n" % (ENGINES, auth)).encode(), False),
            ("traversal", ("GET %s/..%%2F..%%2Fetc HTTP/1.1\r\nHost: x\r\n%s\r\n"
                           % (ENGINES, auth)).encode(), False),
            ("traversal plain", ("GET /api/v1/../../etc/passwd HTTP/1.1\r\nHost: x\r\n%s\r\n"
                                 % auth).encode(), False),
            ("traversal dots", ("GET %s/%%2e%%2e/%%2e%%2e/metrics HTTP/1.1\r\nHost: x\r\n%s\r\n"
                                % (ENGINES, auth)).encode(), False),
            ("traversal delete", ("DELETE %s/..%%2Fvictim HTTP/1.1\r\nHost: x\r\n%s\r\n"
                                  % (ENGINES, auth)).encode(), False),
            ("bad query", ("GET %s?limit=%%zz&&=&%%00=1 HTTP/1.1\r\nHost: x\r\n%s\r\n"
                           % (ENGINES, auth)).encode(), False),
            ("unknown method", b"FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n", False),
            ("unknown method on api", ("BREW %s HTTP/1.1\r\nHost: x\r\n%s\r\n"
                                       % (ENGINES, auth)).encode(), False),
            ("bad version", b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", False),
            ("no path", b"GET  HTTP/1.1\r\nHost: x\r\n\r\n", False),
            ("header without colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad\r\n\r\n", False),
            ("negative length", ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                                 "\r\nContent-Length: -5\r\n%s\r\n{}" % (ENGINES, auth)).encode(),
             False),
            ("bad length", ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: abc\r\n%s\r\n{}" % (ENGINES, auth)).encode(), False),
            ("bad chunk", ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Transfer-Encoding: chunked\r\n%s\r\nzz\r\n{}\r\n0\r\n\r\n"
                           % (ENGINES, auth)).encode(), False),
            ("huge chunk", ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Transfer-Encoding: chunked\r\n%s\r\nffffffffffffffff\r\n{}\r\n0"
                            "\r\n\r\n" % (ENGINES, auth)).encode(), False),
            ("length and chunked", ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                    "application/json\r\nContent-Length: 2\r\nTransfer-Encoding: "
                                    "chunked\r\n%s\r\n2\r\n{}\r\n0\r\n\r\n"
                                    % (ENGINES, auth)).encode(), False),
            ("body on GET list", ("GET %s?limit=0 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                  "%s\r\nhello" % (ENGINES, auth)).encode(), False),
        ]
        for label, data, may_close in raw:
            with self.subTest(label):
                r = self.server.raw(data, timeout=10)
                self.assert4xx(r, label, may_close)
        # a TLS hello and a half request: a 4xx or a closed connection, never a crash
        for label, data in (("tls hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
                             + b"\x00" * 40),
                            ("half request", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"),
                            ("short body", ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                            "application/json\r\nContent-Length: 100\r\n%s\r\n{}"
                                            % (ENGINES, auth)).encode())):
            with self.subTest(label):
                r = self.server.raw(data, timeout=10, shutdown_write=True)
                self.assert4xx(r, label, may_close=True)
        self.assertEqual(self.req("GET", "/healthz").status, 200)
        self.assertEqual(self.jreq("GET", ENGINES + "/victim", token=self.admin)[0], 200)

    def test_every_answer_is_framed(self):
        # Each answer says where it ends (Content-Length) or closes the connection, so
        # that no client waits for the idle timeout; asked to close, the server closes.
        for method in ("CONNECT", "GET", "OPTIONS", "TRACE", "HEAD"):
            for target in ("/healthz", "127.0.0.1:80"):
                with self.subTest("%s %s" % (method, target)):
                    t0 = time.monotonic()
                    r = self.server.raw(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                         "\r\n" % (method, target)).encode(), timeout=3)
                    took = time.monotonic() - t0
                    if r.status != 200:
                        self.assert4xx(r, method)
                    self.assertLess(took, harness.scaled(2.0),
                                    "%s %s: the answer (%s, %r) did not end: no Content-Length"
                                    " and no close" % (method, target, r.status, r.header_list))

    def test_nul_does_not_cut_the_name(self):
        # "victim%00anything" is not the engine "victim"
        for method in ("GET", "DELETE"):
            r = self.server.raw_request(method, ENGINES + "/victim%00anything",
                                        headers={"Authorization": "Bearer " + self.admin})
            self.assertIn(r.status, (400, 404), "%s victim%%00anything: %r" % (method, r))
        self.assertEqual(self.jreq("GET", ENGINES + "/victim", token=self.admin)[0], 200)

    def test_zz_no_500_counted(self):
        # runs last in this class (unittest sorts by name): nothing before it got a 5xx
        text = self.req("GET", "/metrics").body.decode()
        bad = [l for l in text.splitlines()
               if l.startswith("wfreg_http_requests_total") and ('status="5' in l
                                                                 or 'status="other"' in l)]
        self.assertEqual(bad, [])
        self.assertFalse(any(" 500 " in l for l in self.server.log()), "a 500 in the access log")


if __name__ == "__main__":
    harness.main()
