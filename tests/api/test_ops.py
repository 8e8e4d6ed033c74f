"""test_ops.py: what operators use: /healthz, /readyz (also while the schema is rolled
back from outside), /metrics, /openapi.json, 404 and 405, the access log in text and in
JSON, and a second server refused on a database that is not at head."""

import json
import re
import time
import unittest

import harness
from harness import ADMIN, ADMIN_PASSWORD, Server, ServerTestCase, poll, scaled

ACCESS_RE = re.compile(r"\b(GET|POST|PATCH|DELETE|PUT|HEAD|OPTIONS|OTHER) (\S+) (\d{3}) "
                       r"(\d+(?:\.\d+)?)ms user=(\S+)")
PROM_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})?'
                       r' [-+]?(\d+(\.\d*)?([eE][-+]?\d+)?|\+Inf|-Inf|NaN)$')


def access_lines(lines):
    """The access log entries in lines: (method, route, status, ms, user)."""
    out = []
    for l in lines:
        m = ACCESS_RE.search(l)
        if m:
            out.append((m.group(1), m.group(2), int(m.group(3)), float(m.group(4)), m.group(5)))
    return out


class Health(ServerTestCase):
    def test_healthz(self):
        status, headers, obj = self.jreq("GET", "/healthz")
        self.assertEqual(status, 200, obj)
        self.assertTrue(headers["content-type"].startswith("application/json"))
        self.assertEqual(obj.get("status"), "ok")

    def test_readyz(self):
        status, _, obj = self.jreq("GET", "/readyz")
        self.assertEqual(status, 200, obj)

    def test_unknown_path_404(self):
        for path in ("/ui", "/nope", "/api/v1", "/api/v1/", "/api/v1/engines/a/b/c",
                     "/api/v2/engines", "/healthz/x", "/api/v1/engines/", "/API/V1/ENGINES", "/api/v1/engines/x/history/1"):
            status, _, obj = self.jreq("GET", path, token=self.admin)
            self.assertEqual(status, 404, "%s: %r" % (path, obj))
            self.assertDetail(obj, path)

    def test_keep_alive(self):
        # One connection, many requests, errors among them: it stays usable.
        c = self.server.connect()
        try:
            for i in range(30):
                r = self.server.request("GET", "/healthz", conn=c)
                self.assertEqual(r.status, 200)
                r = self.server.request("GET", "/api/v1/engines/nope-%d" % i, token=self.viewer,
                                        conn=c)
                self.assertEqual(r.status, 404)
                r = self.server.request("POST", "/api/v1/engines", b"{", token=self.admin,
                                        headers={"Content-Type": "application/json"}, conn=c)
                self.assertEqual(r.status, 400)
        finally:
            c.close()
        # pipelined: three requests in one write, three answers in order
        pipelined = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p
                             for p in (b"/healthz", b"/nope", b"/readyz"))
        s = harness.socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        try:
            s.sendall(pipelined)
            reader = harness.RawReader(s)
            got = [reader.response().status for _ in range(3)]
        finally:
            s.close()
        self.assertEqual(got, [200, 404, 200])

    def test_wrong_method_405_with_allow(self):
        cases = [("POST", "/healthz", {"GET"}), ("DELETE", "/readyz", {"GET"}),
                 ("PUT", "/metrics", {"GET"}), ("POST", "/openapi.json", {"GET"}),
                 ("GET", "/api/v1/auth/login", {"POST"}), ("GET", "/api/v1/auth/logout", {"POST"}),
                 ("POST", "/api/v1/auth/me", {"GET"}), ("PUT", "/api/v1/engines", {"GET", "POST"}),
                 ("DELETE", "/api/v1/engines", {"GET", "POST"}),
                 ("POST", "/api/v1/engines/x", {"GET", "PATCH", "DELETE"}),
                 ("PUT", "/api/v1/engines/x", {"GET", "PATCH", "DELETE"}),
                 ("OPTIONS", "/api/v1/engines/x", {"GET", "PATCH", "DELETE"}),
                 ("DELETE", "/api/v1/engines/x/history", {"GET"})]
        for method, path, allowed in cases:
            r = self.req(method, path, token=self.admin)
            self.assertStatus(r, 405, "%s %s" % (method, path))
            got = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
            self.assertEqual(got, allowed, "%s %s: Allow %r" % (method, path,
                                                                 r.headers.get("allow")))
            self.assertDetail(r.json(), path)

    def test_openapi(self):
        r = self.req("GET", "/openapi.json")
        self.assertStatus(r, 200)
        self.assertTrue(r.headers["content-type"].startswith("application/json"))
        doc = r.json()
        self.assertRegex(doc.get("openapi", ""), r"^3\.1\.\d+$")
        self.assertIn("title", doc.get("info", {}))
        want = {
            "/healthz": {"get": {"200"}},
            "/readyz": {"get": {"200", "503"}},
            "/metrics": {"get": {"200"}},
            "/openapi.json": {"get": {"200"}},
            "/api/v1/auth/login": {"post": {"200", "400", "401", "413", "415", "422", "429"}},
            "/api/v1/auth/logout": {"post": {"204", "401"}},
            "/api/v1/auth/me": {"get": {"200", "401"}},
            "/api/v1/engines": {"get": {"200", "401", "422"},
                                "post": {"201", "400", "401", "403", "409", "413", "415",
                                         "422"}},
            "/api/v1/engines/{name}": {"get": {"200", "401", "404"},
                                       "patch": {"200", "400", "401", "403", "404", "409",
                                                 "413", "415", "422"},
                                       "delete": {"204", "401", "403", "404", "409"}},
            "/api/v1/engines/{name}/history": {"get": {"200", "401", "404"}},
            "/api/v1/engines/{name}/test": {"post": {"200", "401", "404"}},
            "/api/v1/workflows": {"get": {"200", "401", "422"}},
            "/api/v1/engines/{name}/workflows": {"get": {"200", "401", "404", "502", "504"}},
            "/api/v1/engines/{name}/workflows/{id}/runs": {
                "post": {"202", "400", "401", "403", "404", "409", "413", "415", "422", "502",
                         "504"}},
            "/api/v1/engines/{name}/runs/{run_id}": {"get": {"200", "401", "404", "502",
                                                             "504"}},
        }
        paths = doc.get("paths", {})
        self.assertEqual(set(paths), set(want))
        for path, methods in want.items():
            got = {m for m in paths[path] if m in ("get", "post", "put", "patch", "delete")}
            self.assertEqual(got, set(methods), path)
            for m, statuses in methods.items():
                self.assertEqual(set(paths[path][m].get("responses", {})), statuses,
                                 "%s %s" % (m, path))
        # the engine schema has the fields and never the key
        text = json.dumps(doc)
        self.assertNotIn("api_key_encrypted", text)


class Metrics(unittest.TestCase):
    """/metrics on a server of its own, so that the counts are exact."""

    def test_metrics(self):
        server = Server()
        try:
            server.start()
            token = server.login(ADMIN, ADMIN_PASSWORD)
            for _ in range(3):
                self.assertEqual(server.request("GET", "/healthz").status, 200)
            self.assertEqual(server.request("GET", "/api/v1/engines/none", token=token).status,
                             404)
            self.assertEqual(server.request("GET", "/api/v1/engines/other", token=token).status,
                             404)
            self.assertEqual(server.request("GET", "/api/v1/engines").status, 401)
            self.assertEqual(server.request("GET", "/no/such/path").status, 404)
            server.json("POST", "/api/v1/engines", {"name": "m1", "engine_type": "prefect",
                                                    "api_url": "https://p.example.com",
                                                    "active": False}, token=token)
            r = server.request("GET", "/metrics")
            self.assertEqual(r.status, 200)
            self.assertTrue(r.headers["content-type"].startswith("text/plain"), r.headers)
            text = r.body.decode()
            for line in text.splitlines():
                if line and not line.startswith("#"):
                    self.assertRegex(line, PROM_LINE)
            samples = {}
            for line in text.splitlines():
                if line and not line.startswith("#"):
                    name_labels, _, value = line.rpartition(" ")
                    samples[name_labels] = float(value)

            def count(route, method, status):
                key = 'wfreg_http_requests_total{route="%s",method="%s",status="%s"}' % (
                    route, method, status)
                return samples.get(key)

            self.assertEqual(count("/healthz", "GET", 200), 3, text)
            self.assertEqual(count("/api/v1/engines/{name}", "GET", 404), 2, text)
            self.assertEqual(count("/api/v1/engines", "GET", 401), 1, text)
            self.assertEqual(count("/api/v1/engines", "POST", 201), 1, text)
            self.assertEqual(count("/api/v1/auth/login", "POST", 200), 1, text)
            # the raw path of an unmatched request is never a label
            self.assertNotIn("/no/such/path", text)
            self.assertNotIn('/api/v1/engines/none"', text)
            # the histogram: cumulative buckets up to +Inf, _sum and _count
            self.assertIn("# TYPE wfreg_http_request_duration_seconds histogram", text)
            buckets = [(k, v) for k, v in samples.items()
                       if k.startswith("wfreg_http_request_duration_seconds_bucket{")
                       and 'route="/healthz"' in k]
            self.assertGreaterEqual(len(buckets), 2, text)
            values = [v for _, v in buckets]
            self.assertEqual(values, sorted(values), "buckets are cumulative")
            self.assertTrue(any('le="+Inf"' in k and v == 3 for k, v in buckets), buckets)
            hz = '{route="/healthz",method="GET"}'
            self.assertEqual(samples.get("wfreg_http_request_duration_seconds_count" + hz), 3)
            self.assertGreater(samples.get("wfreg_http_request_duration_seconds_sum" + hz), 0)
            # engines by type, source and active
            self.assertIn("# TYPE wfreg_engines gauge", text)
            self.assertEqual(samples.get(
                'wfreg_engines{engine_type="prefect",source="database",active="false"}'), 1,
                text)
            # the scrape itself is counted by the next one
            text2 = server.request("GET", "/metrics").body.decode()
            self.assertIn('wfreg_http_requests_total{route="/metrics",method="GET",status="200"} 1',
                          text2)
        finally:
            rc, took = server.stop()
            server.close()
        self.assertEqual(rc, 0, "exit after SIGTERM (%.1f s)" % took)


class AccessLog(ServerTestCase):
    def test_one_line_per_request(self):
        token, _ = self.server.create_token(ADMIN, "log-test")
        self.create_engine("log-engine")
        start = self.server.quiet_mark()
        marker = "logmarker7391"
        requests = [
            ("GET", "/healthz", None, None, 200, "/healthz", "-"),
            ("GET", "/api/v1/engines?engine_type=" + marker, None, self.viewer, 200,
             "/api/v1/engines", "viewer"),
            ("GET", "/api/v1/engines/" + marker, None, token, 404, "/api/v1/engines/{name}",
             "admin"),
            ("GET", "/api/v1/engines/log-engine/history", None, self.admin, 200,
             "/api/v1/engines/{name}/history", "admin"),
            ("PATCH", "/api/v1/engines/log-engine", {"api_key": marker + "-key"}, self.admin,
             200, "/api/v1/engines/{name}", "admin"),
            ("DELETE", "/api/v1/engines/log-engine", None, self.viewer, 403,
             "/api/v1/engines/{name}", "viewer"),
            ("POST", "/api/v1/engines", {"name": marker}, None, 401, "/api/v1/engines", "-"),
            ("GET", "/" + marker, None, None, 404, "-", "-"),
            ("POST", "/healthz", None, None, 405, "-", "-"),
            ("POST", "/api/v1/auth/login", {"username": "admin", "password": marker}, None, 401,
             "/api/v1/auth/login", "-"),
        ]
        want = []
        for method, path, body, tok, status, route, user in requests:
            r = self.req(method, path, body, token=tok)
            self.assertStatus(r, status, "%s %s" % (method, path))
            want.append((method, route, status, user))
        lines = []

        def enough():
            lines[:] = self.server.log()[start:]
            return len(access_lines(lines)) >= len(want)

        poll(enough, 3)
        got = access_lines(lines)
        self.assertEqual(sorted((m, r, s, u) for m, r, s, _, u in got), sorted(want),
                         "\n".join(lines))
        for e in got:
            self.assertGreaterEqual(e[3], 0)
            self.assertLess(e[3], scaled(5000))
        text = "\n".join(lines)
        for secret in (marker, self.admin, self.viewer, token, ADMIN_PASSWORD):
            self.assertNotIn(secret, text)

    def test_log_has_startup_lines(self):
        text = self.server.log_text()
        for line in ("Initializing workflow engine registry (multi-source)",
                     "Loading workflow engines from environment variables",
                     "Workflow registry initialized with", "Workflows : "):
            self.assertIn(line, text)

    def test_413_is_in_the_access_log(self):
        # (up to 2 MiB: beyond, libevent 2.1 refuses the body before any handler runs)
        for size in (1024 * 1024 + 1, 2 * 1024 * 1024 - 100):
            start = self.server.quiet_mark()
            big = b'{"pad": "' + b"x" * size + b'"}'
            r = self.server.raw_request("POST", "/api/v1/engines", big, {
                "Content-Type": "application/json", "Authorization": "Bearer " + self.admin})
            self.assertStatus(r, 413)
            self.assertEqual(self.req("GET", "/healthz").status, 200)
            line = self.server.wait_log(r"POST \S+ 413 ", timeout=2, start=start)
            self.assertIsNotNone(line, "no access log line for the 413 of %d bytes:\n%s"
                                 % (size, "\n".join(self.server.log()[start:])))


class JsonLog(ServerTestCase):
    server_log_format = "json"

    def test_every_line_is_json(self):
        self.req("GET", "/healthz")
        self.req("GET", "/api/v1/engines", token=self.viewer)
        self.assertIsNotNone(self.server.wait_log(r'GET /api/v1/engines 200 .*user=viewer', 2))
        lines = self.server.log()
        self.assertGreater(len(lines), 5)
        access = 0
        for l in lines:
            obj = json.loads(l)
            self.assertIsInstance(obj, dict, l)
            self.assertIn("msg", obj, l)
            self.assertIn("level", obj, l)
            self.assertIn("ts", obj, l)
            if ACCESS_RE.search(obj["msg"]):
                access += 1
        self.assertGreaterEqual(access, 4)  # two logins, /healthz, the list


class Readiness(unittest.TestCase):
    """/readyz answers 503 with the reason while the schema is rolled back from outside,
    and 200 again after `migrate up`; a second server is refused on such a database."""

    def test_readyz_503_when_schema_not_at_head(self):
        server = Server()
        try:
            server.start()
            token = server.login(ADMIN, ADMIN_PASSWORD)
            self.assertEqual(server.json("POST", "/api/v1/engines", {
                "name": "ready-engine", "engine_type": "n8n",
                "api_url": "https://n.example.com"}, token=token)[0], 201)
            self.assertEqual(server.request("GET", "/readyz").status, 200)
            p = server.cli("migrate", "down", "0002", "--force")
            self.assertEqual(p.returncode, 0, p.stderr)
            status, _, obj = server.json("GET", "/readyz")
            self.assertEqual(status, 503, obj)
            self.assertIsInstance(obj.get("detail"), str)
            self.assertIn("migrate", obj["detail"])
            # the process is alive and says so
            self.assertEqual(server.request("GET", "/healthz").status, 200)
            # reads still come from the snapshot
            for path in ("/api/v1/engines", "/api/v1/engines/ready-engine"):
                status, _, obj = server.json("GET", path, token=token)
                self.assertEqual(status, 200, "%s: %r" % (path, obj))
            # what needs the missing tables says so, with a 503, never a 500
            for method, path, body in (("GET", "/api/v1/engines/ready-engine/history", None),
                                       ("POST", "/api/v1/engines", {
                                           "name": "while-down", "engine_type": "n8n",
                                           "api_url": "https://n.example.com"}),
                                       ("PATCH", "/api/v1/engines/ready-engine",
                                        {"active": False}),
                                       ("DELETE", "/api/v1/engines/ready-engine", None),
                                       ("POST", "/api/v1/auth/logout", None),
                                       ("POST", "/api/v1/auth/login", {
                                           "username": ADMIN, "password": ADMIN_PASSWORD})):
                status, _, obj = server.json(method, path, body, token=token)
                self.assertEqual(status, 503, "%s %s: %r" % (method, path, obj))
                self.assertIsInstance(obj.get("detail"), str)

            # even without the engines table: reads and tokens come from the snapshots
            p = server.cli("migrate", "down", "0001", "--force")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(server.request("GET", "/readyz").status, 503)
            time.sleep(0.6)  # past the server's look at the database (every 250 ms)
            for path in ("/api/v1/engines", "/api/v1/engines/ready-engine", "/api/v1/auth/me"):
                status, _, obj = server.json("GET", path, token=token)
                self.assertEqual(status, 200, "%s: %r" % (path, obj))

            # a second server on this database is refused, with the reason
            second = Server(same_db_as=server)
            try:
                with self.assertRaises(AssertionError) as cm:
                    second.start()
                self.assertIn("not at", str(cm.exception))
                self.assertNotIn(second.proc.returncode, (0, None))
            finally:
                second.close()

            p = server.cli("migrate", "up")
            self.assertEqual(p.returncode, 0, p.stderr)
            ok = poll(lambda: server.request("GET", "/readyz").status == 200, 3)
            self.assertTrue(ok, "/readyz is not 200 again after migrate up")
        finally:
            rc, took = server.stop()
            server.close()
        self.assertEqual(rc, 0, "exit after SIGTERM (%.1f s)" % took)


if __name__ == "__main__":
    harness.main()
