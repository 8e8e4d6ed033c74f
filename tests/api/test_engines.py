"""test_engines.py: /api/v1/engines: the list with its filters and paging, get (with a
legacy name written by another system), create, partial update, delete, the
environment engine that is read-only, and the history of every change."""

import re
import threading
import time
import urllib.parse

import harness
from harness import ServerTestCase, poll

ENGINES = "/api/v1/engines"
N8N_ENV = {"N8N_API_URL": "https://n8n-env.example.com", "N8N_API_KEY": "env-key-0123456789"}
FIELDS = {"id", "name", "engine_type", "api_url", "active", "config", "has_api_key", "source",
          "created_by", "created_at", "updated_at", "health"}
HEALTH_STATUSES = {"up", "down", "unauthorized", "timeout", "error", "unknown"}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")


class EngineChecks:
    def assertEngine(self, e, what=""):
        """An engine as JSON: every field of the issue, the key never."""
        self.assertIsInstance(e, dict, what)
        missing = FIELDS - set(e)
        self.assertFalse(missing, "%s: fields missing: %s in %r" % (what, missing, e))
        extra = set(e) - FIELDS - {"key_status"}
        self.assertFalse(extra, "%s: unexpected fields %s" % (what, extra))
        self.assertIn(e["source"], ("database", "environment"))
        self.assertIsInstance(e["active"], bool)
        self.assertIsInstance(e["has_api_key"], bool)
        self.assertEqual(set(e["health"]), {"status", "checked_at", "latency_ms"}, what)
        self.assertIn(e["health"]["status"], HEALTH_STATUSES, what)
        if e["source"] == "database":
            self.assertIsInstance(e["id"], int)
            for f in ("created_at", "updated_at"):
                self.assertRegex(e[f], ISO_UTC, "%s %s" % (what, f))


class ListEngines(ServerTestCase, EngineChecks):
    """The list: 60 database engines (three types, some inactive) and n8n-default from
    the environment."""

    server_env = N8N_ENV
    N = 60

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        types = ["n8n", "prefect", "windmill"]
        cls.names = []
        # created in an order that is not the name order
        for i in reversed(range(cls.N)):
            t = types[i % 3]
            name = "list-%s-%02d" % (t, i)
            body = {"name": name, "engine_type": t, "api_url": "https://%s.example.com" % name,
                    "active": i % 4 != 0}
            if t == "windmill":
                body["config"] = {"workspace": "ws%d" % i}
            status, _, obj = cls.server.json("POST", ENGINES, body, token=cls.admin)
            assert status == 201, (status, obj)
            cls.names.append(name)
        cls.all_names = sorted(cls.names + ["n8n-default"])

    def list(self, query="", token=None):
        status, _, obj = self.jreq("GET", ENGINES + query, token=token or self.viewer)
        self.assertEqual(status, 200, "%s: %r" % (query, obj))
        self.assertEqual(set(obj), {"items", "total", "limit", "offset"}, query)
        for e in obj["items"]:
            self.assertEngine(e, query)
        return obj

    def test_default_limit_50_ordered_by_name(self):
        obj = self.list()
        self.assertEqual(obj["limit"], 50)
        self.assertEqual(obj["offset"], 0)
        self.assertEqual(obj["total"], self.N + 1)
        self.assertEqual([e["name"] for e in obj["items"]], self.all_names[:50])

    def test_large_answer_without_delay(self):
        # Over 16 KiB: libevent used to write it in two parts, and Nagle's algorithm held
        # the second until the client's delayed ACK, 40 ms later, on every request.
        conn = self.server.connect()
        try:
            times = []
            for _ in range(9):
                t0 = time.monotonic()
                r = self.req("GET", ENGINES + "?limit=500", token=self.viewer, conn=conn)
                times.append(time.monotonic() - t0)
                self.assertStatus(r, 200)
            self.assertGreater(len(r.body), 16 * 1024)
        finally:
            conn.close()
        self.assertLess(sorted(times)[4], harness.scaled(0.03), times)

    def test_paging(self):
        seen = []
        for offset in range(0, 70, 7):
            obj = self.list("?limit=7&offset=%d" % offset)
            self.assertEqual(obj["total"], self.N + 1)
            self.assertEqual((obj["limit"], obj["offset"]), (7, offset))
            seen += [e["name"] for e in obj["items"]]
        self.assertEqual(seen, self.all_names)
        obj = self.list("?limit=500")
        self.assertEqual(len(obj["items"]), self.N + 1)
        obj = self.list("?limit=1")
        self.assertEqual([e["name"] for e in obj["items"]], self.all_names[:1])
        obj = self.list("?offset=1000")
        self.assertEqual(obj["items"], [])
        self.assertEqual(obj["total"], self.N + 1)

    def test_filters(self):
        for t in ("n8n", "prefect", "windmill"):
            obj = self.list("?engine_type=%s&limit=500" % t)
            want = sorted(n for n in self.all_names if n.startswith("list-%s-" % t))
            if t == "n8n":
                want = sorted(want + ["n8n-default"])
            self.assertEqual([e["name"] for e in obj["items"]], want, t)
            self.assertEqual(obj["total"], len(want))
            self.assertTrue(all(e["engine_type"] == t for e in obj["items"]))
        inactive = sorted("list-%s-%02d" % (["n8n", "prefect", "windmill"][i % 3], i)
                          for i in range(self.N) if i % 4 == 0)
        for q in ("?active=false", "?active=0"):
            obj = self.list(q + "&limit=500")
            self.assertEqual([e["name"] for e in obj["items"]], inactive, q)
        obj = self.list("?active=true&limit=500")
        self.assertEqual(obj["total"], self.N + 1 - len(inactive))
        self.assertTrue(all(e["active"] for e in obj["items"]))
        obj = self.list("?source=environment")
        self.assertEqual([e["name"] for e in obj["items"]], ["n8n-default"])
        env = obj["items"][0]
        self.assertEqual(env["source"], "environment")
        self.assertEqual(env["api_url"], N8N_ENV["N8N_API_URL"])
        self.assertTrue(env["has_api_key"])
        obj = self.list("?source=database&limit=500")
        self.assertEqual(obj["total"], self.N)
        obj = self.list("?engine_type=n8n&active=true&source=database&limit=500")
        want = sorted("list-n8n-%02d" % i for i in range(self.N) if i % 3 == 0 and i % 4)
        self.assertEqual([e["name"] for e in obj["items"]], want)
        obj = self.list("?engine_type=airflow")
        self.assertEqual((obj["items"], obj["total"]), ([], 0))

    def test_bad_query_422(self):
        for q, field in (("limit=0", "limit"), ("limit=501", "limit"), ("limit=x", "limit"),
                         ("limit=-1", "limit"), ("limit=1.5", "limit"), ("limit=", "limit"),
                         ("limit=99999999999999999999999", "limit"), ("offset=-1", "offset"),
                         ("offset=x", "offset"), ("active=maybe", "active"),
                         ("source=somewhere", "source")):
            status, _, obj = self.jreq("GET", ENGINES + "?" + q, token=self.viewer)
            self.assertEqual(status, 422, "%s: %r" % (q, obj))
            self.assertValidation(obj, [["query", field]], q)
        status, _, obj = self.jreq("GET", ENGINES + "?limit=0&offset=x&active=2",
                                   token=self.viewer)
        self.assertEqual(status, 422, obj)
        self.assertValidation(obj, [["query", "limit"], ["query", "offset"], ["query", "active"]])

    def test_list_is_the_same_for_admin_and_viewer(self):
        self.assertEqual(self.list("?limit=500", self.admin), self.list("?limit=500"))

    def test_metrics_count_engines_by_type_source_active(self):
        r = self.req("GET", "/metrics")
        self.assertStatus(r, 200)
        text = r.body.decode()
        got = {}
        for m in re.finditer(r'^wfreg_engines\{([^}]*)\} (\d+)$', text, re.M):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            got[(labels["engine_type"], labels["source"], labels["active"])] = int(m.group(2))
        want = {}
        for i in range(self.N):
            k = (["n8n", "prefect", "windmill"][i % 3], "database",
                 "false" if i % 4 == 0 else "true")
            want[k] = want.get(k, 0) + 1
        want[("n8n", "environment", "true")] = 1
        self.assertEqual(got, want, text[-2000:])


class Engines(ServerTestCase, EngineChecks):
    """Get, create, update, delete, history."""

    server_env = N8N_ENV

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin_id = cls.server.json("GET", "/api/v1/auth/me", token=cls.admin)[2]["id"]

    def get(self, name, token=None):
        return self.jreq("GET", ENGINES + "/" + name, token=token or self.viewer)

    # --- get ---------------------------------------------------------------------------

    def test_get_200_and_404(self):
        made = self.create_engine("get-me", config={"timeout_ms": 5000, "team": "ops"})
        status, headers, obj = self.get("get-me")
        self.assertEqual(status, 200, obj)
        self.assertTrue(headers["content-type"].startswith("application/json"))
        self.assertEngine(obj)
        self.assertEqual(obj, made)
        self.assertEqual(obj["config"], {"timeout_ms": 5000, "team": "ops"})
        status, _, obj = self.get("no-such-engine")
        self.assertEqual(status, 404, obj)
        self.assertDetail(obj)

    def test_get_environment_engine(self):
        status, _, obj = self.get("n8n-default")
        self.assertEqual(status, 200, obj)
        self.assertEngine(obj)
        self.assertEqual(obj["source"], "environment")
        self.assertEqual(obj["engine_type"], "n8n")
        self.assertTrue(obj["has_api_key"])

    def test_legacy_name_with_space_found_url_encoded(self):
        # A row written by the earlier Python system: not valid by today's rules, still
        # served. Written from outside: the server notices the commit by itself.
        self.server.sql("INSERT INTO workflow_engines (name, engine_type, api_url, active, config)"
                        " VALUES ('My Legacy Engine', 'n8n', 'http://legacy.local:5678', 1, '{}')")
        ok = poll(lambda: self.get("My%20Legacy%20Engine")[0] == 200, 3)
        self.assertTrue(ok, "the legacy engine is not served within 3 s")
        status, _, obj = self.get("My%20Legacy%20Engine")
        self.assertEqual(obj["name"], "My Legacy Engine")
        self.assertEqual(obj["source"], "database")
        status, _, lst = self.jreq("GET", ENGINES + "?limit=500", token=self.viewer)
        self.assertIn("My Legacy Engine", [e["name"] for e in lst["items"]])
        status, _, obj = self.jreq("GET", ENGINES + "/My%20Legacy%20Engine/history",
                                   token=self.viewer)
        self.assertEqual(status, 200, obj)
        # it can be renamed to a valid name
        status, _, obj = self.jreq("PATCH", ENGINES + "/My%20Legacy%20Engine",
                                   {"name": "my-legacy-engine"}, token=self.admin)
        self.assertEqual(status, 200, obj)
        self.assertEqual(obj["name"], "my-legacy-engine")
        self.assertEqual(self.get("My%20Legacy%20Engine")[0], 404)

    # --- create ------------------------------------------------------------------------

    def test_create_201(self):
        status, headers, obj = self.jreq("POST", ENGINES, {
            "name": "create-me", "engine_type": "windmill", "api_url": "https://wm.example.com",
            "config": {"workspace": "main", "verify_tls": False}, "active": False,
            "api_key": "create-key-0123456789"}, token=self.admin)
        self.assertEqual(status, 201, obj)
        self.assertEngine(obj)
        self.assertEqual(obj["name"], "create-me")
        self.assertEqual(obj["engine_type"], "windmill")
        self.assertEqual(obj["api_url"], "https://wm.example.com")
        self.assertEqual(obj["config"], {"workspace": "main", "verify_tls": False})
        self.assertFalse(obj["active"])
        self.assertTrue(obj["has_api_key"])
        self.assertEqual(obj["source"], "database")
        self.assertEqual(obj["created_by"], self.admin_id)
        self.assertNotIn(b"create-key-0123456789", self.req("GET", ENGINES + "/create-me",
                                                             token=self.admin).body)
        # defaults
        obj = self.create_engine("create-defaults")
        self.assertTrue(obj["active"])
        self.assertEqual(obj["config"], {})
        self.assertFalse(obj["has_api_key"])
        self.assertEqual(obj["created_by"], self.admin_id)
        # read-your-writes: the very next read, on any connection, has it
        self.assertEqual(self.get("create-defaults")[0], 200)
        # the database has it too, with the admin as created_by
        rows = self.server.sql("SELECT created_by FROM workflow_engines WHERE name = ?",
                               ("create-me",))
        self.assertEqual(rows, [(self.admin_id,)])

    def test_create_409_name_taken(self):
        self.create_engine("taken")
        status, _, obj = self.jreq("POST", ENGINES, {"name": "taken", "engine_type": "prefect",
                                                     "api_url": "https://p.example.com"},
                                   token=self.admin)
        self.assertEqual(status, 409, obj)
        self.assertDetail(obj)
        self.assertEqual(self.get("taken")[2]["engine_type"], "n8n")

    def test_create_422_every_bad_field(self):
        status, _, obj = self.jreq("POST", ENGINES, {
            "name": "Bad Name!", "engine_type": "airflow", "api_url": "ftp://x.example.com"},
            token=self.admin)
        self.assertEqual(status, 422, obj)
        self.assertValidation(obj, [["body", "name"], ["body", "engine_type"],
                                    ["body", "api_url"]])
        status, _, obj = self.jreq("POST", ENGINES, {}, token=self.admin)
        self.assertEqual(status, 422, obj)
        self.assertValidation(obj, [["body", "name"], ["body", "engine_type"],
                                    ["body", "api_url"]])
        status, _, obj = self.jreq("POST", ENGINES, {
            "name": "cfg-bad", "engine_type": "windmill", "api_url": "https://w.example.com",
            "config": {"timeout_ms": 0, "verify_tls": "yes"}}, token=self.admin)
        self.assertEqual(status, 422, obj)
        self.assertValidation(obj, [["body", "config", "timeout_ms"],
                                    ["body", "config", "verify_tls"],
                                    ["body", "config", "workspace"]])
        self.assertEqual(self.get("cfg-bad")[0], 404)

    def test_create_422_wrong_types_with_bad_values(self):
        # Type errors and rule errors in one body: every bad field is reported.
        status, _, obj = self.jreq("POST", ENGINES, {
            "name": "Bad Name!", "engine_type": 5, "api_url": "ftp://x.example.com"},
            token=self.admin)
        self.assertEqual(status, 422, obj)
        self.assertValidation(obj, [["body", "name"], ["body", "engine_type"],
                                    ["body", "api_url"]])

    def test_create_422_types(self):
        status, _, obj = self.jreq("POST", ENGINES, {
            "name": 1, "engine_type": None, "api_url": ["x"], "active": "yes", "config": "{}",
            "api_key": 12}, token=self.admin)
        self.assertEqual(status, 422, obj)
        self.assertValidation(obj, [["body", f] for f in ("name", "engine_type", "api_url",
                                                          "active", "config", "api_key")])

    def test_create_422_unknown_field(self):
        status, _, obj = self.jreq("POST", ENGINES, {
            "name": "extra", "engine_type": "n8n", "api_url": "https://e.example.com",
            "id": 5}, token=self.admin)
        self.assertEqual(status, 422, obj)
        self.assertValidation(obj, [["body", "id"]])
        self.assertEqual(obj["detail"][0]["type"], "extra_forbidden")
        self.assertEqual(self.get("extra")[0], 404)
        status, _, obj = self.jreq("POST", ENGINES, {
            "name": "extra", "engine_type": "n8n", "api_url": "https://e.example.com",
            "api_key_encrypted": "gAAAAAxyz", "created_by": 1}, token=self.admin)
        self.assertEqual(status, 422, obj)
        self.assertValidation(obj, [["body", "api_key_encrypted"], ["body", "created_by"]])

    def test_create_422_loc_names_the_field_as_sent(self):
        # An unknown field is named in loc exactly as the client sent it: not cut short
        # (nor dropped when the cut splits a character), not split at its dots.
        for key in ("\u00e9" * 40, "a.b", "config.timeout_ms", "k" * 100):
            body = {"name": "loc-test", "engine_type": "n8n", "api_url": "https://l.example.com",
                    key: 1}
            with self.subTest(key[:20]):
                status, _, obj = self.jreq("POST", ENGINES, body, token=self.admin)
                self.assertEqual(status, 422, obj)
                self.assertValidation(obj, [["body", key]], repr(key))
                self.assertEqual(obj["detail"][0]["type"], "extra_forbidden")

    def test_create_422_duplicate_key(self):
        body = (b'{"name": "dup", "engine_type": "n8n", "api_url": "https://d.example.com",'
                b' "name": "dup2"}')
        r = self.req("POST", ENGINES, body, token=self.admin,
                     headers={"Content-Type": "application/json"})
        self.assertStatus(r, 422)
        self.assertIsInstance(r.json()["detail"], list)
        self.assertEqual(self.get("dup")[0], 404)
        self.assertEqual(self.get("dup2")[0], 404)

    def test_create_422_not_an_object(self):
        for body in (b"[]", b'"text"', b"42", b"null"):
            r = self.req("POST", ENGINES, body, token=self.admin,
                         headers={"Content-Type": "application/json"})
            self.assertStatus(r, 422, body)

    def test_create_415_400_413(self):
        good = (b'{"name": "ct", "engine_type": "n8n", "api_url": "https://ct.example.com"}')
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                   "multipart/form-data; boundary=x", None):
            headers = {"Content-Type": ct} if ct else {}
            r = self.req("POST", ENGINES, good, token=self.admin, headers=headers)
            self.assertStatus(r, 415, ct)
            self.assertDetail(r.json())
        r = self.req("POST", ENGINES, good, token=self.admin,
                     headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertStatus(r, 201, "a charset parameter is fine")
        for bad in (b'{"name": "x",', b"{name: 1}", b"", b"\xff\xfe{}", b'{"a": tru}'):
            r = self.req("POST", ENGINES, bad, token=self.admin,
                         headers={"Content-Type": "application/json"})
            self.assertStatus(r, 400, bad)
            self.assertDetail(r.json())
        big = b'{"name": "big", "engine_type": "n8n", "api_url": "https://b.example.com",' \
              b' "config": {"pad": "' + b"x" * (1024 * 1024) + b'"}}'
        r = self.server.raw_request("POST", ENGINES, big, {
            "Content-Type": "application/json", "Authorization": "Bearer " + self.admin})
        self.assertStatus(r, 413)
        self.assertEqual(self.get("big")[0], 404)

    def test_413_is_json(self):
        # Over 1 MiB: the API's JSON answer. Over 2 MiB libevent 2.1 itself refuses the body
        # before any handler runs (it offers no hook to shape that answer): still a 413.
        for size in (1024 * 1024 + 1, 2 * 1024 * 1024 - 100, 4 * 1024 * 1024):
            big = b'{"pad": "' + b"x" * size + b'"}'
            r = self.server.raw_request("POST", ENGINES, big, {
                "Content-Type": "application/json", "Authorization": "Bearer " + self.admin})
            self.assertStatus(r, 413, "%d bytes" % size)
            if size > 2 * 1024 * 1024:
                continue
            self.assertTrue(r.headers.get("content-type", "").startswith("application/json"),
                            "%d bytes: 413 answered as %r: %r" % (
                                size, r.headers.get("content-type"), r.body[:200]))
            self.assertDetail(r.json())

    # --- update ------------------------------------------------------------------------

    def test_patch_partial(self):
        made = self.create_engine("patch-me", config={"timeout_ms": 1000})
        time.sleep(1.1)  # updated_at has a resolution of one second
        status, _, obj = self.jreq("PATCH", ENGINES + "/patch-me", {"active": False},
                                   token=self.admin)
        self.assertEqual(status, 200, obj)
        self.assertEngine(obj)
        self.assertFalse(obj["active"])
        for f in ("id", "name", "engine_type", "api_url", "config", "has_api_key", "created_by",
                  "created_at", "source"):
            self.assertEqual(obj[f], made[f], f)
        self.assertGreater(obj["updated_at"], made["updated_at"])
        status, _, obj = self.jreq("PATCH", ENGINES + "/patch-me",
                                   {"api_url": "https://patched.example.com",
                                    "config": {"timeout_ms": 2000, "x": [1]}}, token=self.admin)
        self.assertEqual(status, 200, obj)
        self.assertEqual(obj["api_url"], "https://patched.example.com")
        self.assertEqual(obj["config"], {"timeout_ms": 2000, "x": [1]})
        self.assertFalse(obj["active"])
        self.assertEqual(self.get("patch-me")[2], obj)
        # an empty patch changes nothing
        status, _, same = self.jreq("PATCH", ENGINES + "/patch-me", {}, token=self.admin)
        self.assertEqual(status, 200, same)
        self.assertEqual(same, obj)

    def test_patch_api_key_set_and_remove(self):
        self.create_engine("key-me")
        status, _, obj = self.jreq("PATCH", ENGINES + "/key-me",
                                   {"api_key": "patch-key-0123456789"}, token=self.admin)
        self.assertEqual(status, 200, obj)
        self.assertTrue(obj["has_api_key"])
        self.assertEqual(obj.get("key_status", "ok"), "ok")
        status, _, obj = self.jreq("PATCH", ENGINES + "/key-me", {"api_key": None},
                                   token=self.admin)
        self.assertEqual(status, 200, obj)
        self.assertFalse(obj["has_api_key"])
        self.assertFalse(self.get("key-me")[2]["has_api_key"])
        rows = self.server.sql("SELECT api_key_encrypted FROM workflow_engines WHERE name = ?",
                               ("key-me",))
        self.assertIn(rows[0][0], (None, ""))
        status, _, obj = self.jreq("PATCH", ENGINES + "/key-me", {"api_key": ""},
                                   token=self.admin)
        self.assertEqual(status, 422, obj)
        self.assertValidation(obj, [["body", "api_key"]])

    def test_patch_rename(self):
        made = self.create_engine("old-name")
        status, _, obj = self.jreq("PATCH", ENGINES + "/old-name", {"name": "new-name"},
                                   token=self.admin)
        self.assertEqual(status, 200, obj)
        self.assertEqual(obj["name"], "new-name")
        self.assertEqual(obj["id"], made["id"])
        self.assertEqual(self.get("old-name")[0], 404)
        self.assertEqual(self.get("new-name")[0], 200)
        self.create_engine("other-name")
        status, _, obj = self.jreq("PATCH", ENGINES + "/other-name", {"name": "new-name"},
                                   token=self.admin)
        self.assertEqual(status, 409, obj)
        self.assertDetail(obj)
        self.assertEqual(self.get("other-name")[0], 200)

    def test_patch_404_409_422(self):
        status, _, obj = self.jreq("PATCH", ENGINES + "/nope", {"active": False},
                                   token=self.admin)
        self.assertEqual(status, 404, obj)
        self.assertDetail(obj)
        status, _, obj = self.jreq("PATCH", ENGINES + "/n8n-default", {"active": False},
                                   token=self.admin)
        self.assertEqual(status, 409, obj)
        self.assertDetail(obj)
        self.assertTrue(self.get("n8n-default")[2]["active"])
        self.create_engine("patch-bad")
        status, _, obj = self.jreq("PATCH", ENGINES + "/patch-bad", {
            "name": "UPPER", "api_url": "https://u:p@x.example.com", "active": 1,
            "colour": "red"}, token=self.admin)
        self.assertEqual(status, 422, obj)
        self.assertValidation(obj, [["body", "name"], ["body", "api_url"], ["body", "active"],
                                    ["body", "colour"]])
        r = self.req("PATCH", ENGINES + "/patch-bad", b'{"active": false', token=self.admin,
                     headers={"Content-Type": "application/json"})
        self.assertStatus(r, 400)
        r = self.req("PATCH", ENGINES + "/patch-bad", b'{"active": false}', token=self.admin,
                     headers={"Content-Type": "text/plain"})
        self.assertStatus(r, 415)
        self.assertTrue(self.get("patch-bad")[2]["active"])

    # --- delete ------------------------------------------------------------------------

    def test_delete(self):
        self.create_engine("delete-me")
        r = self.req("DELETE", ENGINES + "/delete-me", token=self.admin)
        self.assertStatus(r, 204)
        self.assertEqual(r.body, b"")
        self.assertEqual(self.get("delete-me")[0], 404)
        status, _, obj = self.jreq("DELETE", ENGINES + "/delete-me", token=self.admin)
        self.assertEqual(status, 404, obj)
        self.assertDetail(obj)
        status, _, obj = self.jreq("DELETE", ENGINES + "/n8n-default", token=self.admin)
        self.assertEqual(status, 409, obj)
        self.assertDetail(obj)
        self.assertEqual(self.get("n8n-default")[0], 200)
        # the name is free again
        self.create_engine("delete-me")

    # --- history -----------------------------------------------------------------------

    def test_history(self):
        self.create_engine("hist", api_key="hist-key-0123456789")
        self.jreq("PATCH", ENGINES + "/hist", {"api_url": "https://hist-new.example.com",
                                               "active": False}, token=self.admin)
        self.jreq("PATCH", ENGINES + "/hist", {"api_key": "hist-key-ABCDEFGHIJ"},
                  token=self.admin)
        self.jreq("PATCH", ENGINES + "/hist", {"api_key": None}, token=self.admin)
        self.jreq("PATCH", ENGINES + "/hist", {"active": False}, token=self.admin)  # no-op
        status, _, obj = self.jreq("GET", ENGINES + "/hist/history", token=self.viewer)
        self.assertEqual(status, 200, obj)
        items = obj["items"]
        self.assertEqual(len(items), 4, items)
        by_action = [(i["action"], sorted(i["fields"])) for i in sorted(items,
                                                                          key=lambda i: i["id"])]
        self.assertEqual(by_action, [
            ("create", sorted(["name", "engine_type", "api_url", "active", "config", "api_key"])),
            ("update", ["active", "api_url"]),
            ("update", ["api_key"]),
            ("update", ["api_key"]),
        ])
        for i in items:
            self.assertEqual(i["actor"], "admin")
            self.assertRegex(i["at"], ISO_UTC)
        text = str(obj)
        for value in ("hist-key-0123456789", "hist-key-ABCDEFGHIJ", "hist-new.example.com"):
            self.assertNotIn(value, text)
        # the history outlives the engine
        self.assertEqual(self.req("DELETE", ENGINES + "/hist", token=self.admin).status, 204)
        status, _, obj = self.jreq("GET", ENGINES + "/hist/history", token=self.viewer)
        self.assertEqual(status, 200, obj)
        self.assertEqual(sorted(i["action"] for i in obj["items"]),
                         ["create", "delete", "update", "update", "update"])
        status, _, obj = self.jreq("GET", ENGINES + "/never-existed/history", token=self.viewer)
        self.assertEqual(status, 404, obj)
        self.assertDetail(obj)

    def test_history_follows_rename_and_names_the_actor(self):
        token, _ = self.server.create_token("viewer", "hist-viewer")  # not allowed to write
        self.server.add_user("second-admin", "admin", "second-password-1")
        second = self.server.login("second-admin", "second-password-1")
        second_id = self.jreq("GET", "/api/v1/auth/me", token=second)[2]["id"]
        status, _, obj = self.jreq("POST", ENGINES, {"name": "hist-a", "engine_type": "n8n",
                                                     "api_url": "https://a.example.com"},
                                   token=second)
        self.assertEqual(status, 201, obj)
        self.assertEqual(obj["created_by"], second_id)
        self.jreq("PATCH", ENGINES + "/hist-a", {"name": "hist-b"}, token=self.admin)
        status, _, obj = self.jreq("GET", ENGINES + "/hist-b/history", token=token)
        self.assertEqual(status, 200, obj)
        got = sorted((i["action"], i["actor"], tuple(i["fields"]) if i["action"] == "update"
                      else ()) for i in obj["items"])
        self.assertEqual(got, [("create", "second-admin", ()), ("update", "admin", ("name",))])

    def test_history_of_environment_engine(self):
        status, _, obj = self.jreq("GET", ENGINES + "/n8n-default/history", token=self.viewer)
        self.assertEqual(status, 200, obj)
        self.assertEqual(obj["items"], [])


class LegacyRows(ServerTestCase, EngineChecks):
    """Rows written by another system, whatever today's rules say, are listed, found by
    their URL-encoded names, have a history, can be changed, and are counted in
    /metrics with their labels escaped."""

    ROWS = [  # name, engine_type, api_url, config, api_key_encrypted
        ("a/b", "n8n", "http://a.local", "{}", None),
        ("\u00dcn\u00efcode Name", "n8n", "http://u.local", "{}", None),
        ("x%y", "prefect", "http://x.local", "{}", None),
        ("q?x#y", "n8n", "http://q.local", "{}", None),
        ("weird-type", 'we"ird\\type\nx', "http://w.local", "{}", None),
        ("bad-config", "n8n", "http://b.local", "not json", None),
        ("null-config", "n8n", "ftp://legacy", None, None),
        ("bad-key", "n8n", "http://k.local", "{}", "not-a-fernet-token"),
    ]

    def test_legacy_rows(self):
        for name, t, url, config, key in self.ROWS:
            self.server.sql("INSERT INTO workflow_engines (name, engine_type, api_url, active,"
                            " config, api_key_encrypted) VALUES (?, ?, ?, 1, ?, ?)",
                            (name, t, url, config, key))

        def listed():
            obj = self.jreq("GET", ENGINES + "?limit=500", token=self.viewer)[2]
            return obj if obj and obj["total"] == len(self.ROWS) else None

        obj = poll(listed, 3)
        self.assertTrue(obj, "the rows written from outside are not served within 3 s")
        self.assertEqual([e["name"] for e in obj["items"]],
                         sorted((r[0] for r in self.ROWS), key=lambda n: n.encode()))
        for e in obj["items"]:
            self.assertEngine(e, e["name"])
        by_name = {e["name"]: e for e in obj["items"]}
        self.assertEqual(by_name["bad-config"]["config"], "not json")
        self.assertEqual(by_name["bad-key"].get("key_status"), "unreadable")
        self.assertTrue(by_name["bad-key"]["has_api_key"])
        for name, *_ in self.ROWS:
            path = ENGINES + "/" + urllib.parse.quote(name, safe="")
            status, _, e = self.jreq("GET", path, token=self.viewer)
            self.assertEqual(status, 200, name)
            self.assertEqual(e["name"], name)
            self.assertEqual(self.jreq("GET", path + "/history", token=self.viewer)[0], 200, name)
            status, _, e = self.jreq("PATCH", path, {"active": False}, token=self.admin)
            self.assertEqual(status, 200, "%s: %r" % (name, e))
            self.assertFalse(e["active"])
        text = self.req("GET", "/metrics").body.decode()
        self.assertIn('wfreg_engines{engine_type="we\\"ird\\\\type\\nx",source="database",'
                      'active="false"} 1', text)


class Concurrency(ServerTestCase):
    """Two workers, each with its own database connection, and clients in parallel."""

    def run_threads(self, fn, n):
        results = [None] * n
        errors = []

        def wrap(i):
            try:
                results[i] = fn(i)
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=wrap, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(harness.scaled(60))
        self.assertFalse(any(t.is_alive() for t in threads), "a client hangs")
        self.assertEqual(errors, [])
        return results

    def test_parallel_creates_all_succeed(self):
        def creates(i):
            got = []
            for j in range(10):
                status, _, obj = self.jreq("POST", ENGINES, {
                    "name": "par-%d-%d" % (i, j), "engine_type": "prefect",
                    "api_url": "https://p.example.com", "api_key": "par-key-%d-%d" % (i, j)},
                    token=self.admin)
                got.append((status, obj))
            return got

        results = self.run_threads(creates, 8)
        bad = [(s, o) for r in results for s, o in r if s != 201]
        self.assertEqual(bad, [])
        status, _, obj = self.jreq("GET", ENGINES + "?engine_type=prefect&limit=500",
                                   token=self.viewer)
        names = [e["name"] for e in obj["items"] if e["name"].startswith("par-")]
        self.assertEqual(len(names), 80)
        self.assertTrue(all(e["has_api_key"] for e in obj["items"]))

    def test_same_name_in_parallel_one_wins(self):
        def create(i):
            return self.jreq("POST", ENGINES, {"name": "race", "engine_type": "n8n",
                                               "api_url": "https://r%d.example.com" % i},
                             token=self.admin)[0]

        statuses = sorted(self.run_threads(create, 8))
        self.assertEqual(statuses, [201] + [409] * 7)

    def test_read_your_writes_on_any_connection(self):
        for i in range(20):
            name = "ryw-%d" % i
            self.create_engine(name)
            self.assertEqual(self.jreq("GET", ENGINES + "/" + name, token=self.viewer)[0], 200,
                             name)
            status, _, obj = self.jreq("PATCH", ENGINES + "/" + name, {"active": False},
                                       token=self.admin)
            self.assertEqual(status, 200, obj)
            self.assertFalse(self.jreq("GET", ENGINES + "/" + name, token=self.viewer)[2]
                             ["active"])
            self.assertEqual(self.req("DELETE", ENGINES + "/" + name, token=self.admin).status,
                             204)
            self.assertEqual(self.jreq("GET", ENGINES + "/" + name, token=self.viewer)[0], 404)

    def test_parallel_reads_and_writes(self):
        self.create_engine("busy")

        def mixed(i):
            bad = []
            for j in range(25):
                if i % 2:
                    s = self.jreq("PATCH", ENGINES + "/busy", {"active": bool(j % 2)},
                                  token=self.admin)[0]
                    if s != 200:
                        bad.append(("PATCH", s))
                else:
                    s = self.jreq("GET", ENGINES + "/busy", token=self.viewer)[0]
                    if s != 200:
                        bad.append(("GET", s))
                    s = self.jreq("GET", ENGINES + "?limit=5", token=self.viewer)[0]
                    if s != 200:
                        bad.append(("LIST", s))
            return bad

        results = self.run_threads(mixed, 6)
        self.assertEqual([b for r in results for b in r], [])


if __name__ == "__main__":
    harness.main()
