"""test_fakes.py: the fake engines themselves, against what the shared engine-apis/README.md
says of n8n, Prefect and Windmill: auth rules and 401 bodies, route errors, pagination at
its boundaries, the run state machines, and every switch.

Run: python3 tests/fakes/test_fakes.py (ctest runs it with label integration). Python's
standard library only; only loopback is contacted; every wait and loop is bounded in
count and time. WFREG_TEST_TIMEOUT_SCALE (default 1) stretches the waits.
"""

import base64
import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fakebase  # noqa: E402
from fake_n8n import FakeN8n, PROD_HINT  # noqa: E402
from fake_prefect import FakePrefect  # noqa: E402
from fake_windmill import FakeWindmill, NOT_ANON  # noqa: E402

SCALE = max(1.0, float(os.environ.get("WFREG_TEST_TIMEOUT_SCALE", "1") or "1"))
N8N_JSON = "application/json; charset=utf-8"
KEY = "test-key-0123456789"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<%s %r>" % (self.status, self.body[:200])


def call(fake, method, path, headers=None, body=None, timeout=5.0):
    """One request on a new connection; body: bytes, or an object sent as JSON."""
    headers = dict(headers or {})
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    c = http.client.HTTPConnection(fake.host, fake.port, timeout=timeout * SCALE)
    try:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return Answer(r.status, r.getheaders(), r.read())
    finally:
        c.close()


def wait_for(fn, what, timeout=5.0, interval=0.02):
    """fn() until it returns something true; bounded in time and in count."""
    deadline = time.monotonic() + timeout * SCALE
    for _ in range(int(timeout * SCALE / interval) + 10):
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            break
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s" % what)


def n8n_key(extra=None):
    h = {"X-N8N-API-KEY": KEY, "Accept": "application/json"}
    h.update(extra or {})
    return h


def bearer(tok=KEY):
    return {"Authorization": "Bearer " + tok}


# =============================================================================================
# n8n
# =============================================================================================

class N8nAuthAndRoutes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakeN8n(keys=[KEY], forbidden_keys=["scopeless"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def test_health_readiness_and_openapi_need_no_key(self):
        for path in ("/healthz", "/healthz/readiness"):
            a = call(self.fake, "GET", path)
            self.assertEqual((a.status, a.body), (200, b'{"status":"ok"}'), path)
            self.assertEqual(a.headers["content-type"], N8N_JSON)
        a = call(self.fake, "GET", "/api/v1/openapi.yml")
        self.assertEqual(a.status, 200)
        self.assertIn(b"version: 1.1.1", a.body)

    def test_readiness_503_when_the_database_is_not_ready(self):
        with FakeN8n(keys=[KEY], workflows=0, ready=False) as f:
            a = call(f, "GET", "/healthz/readiness")
            self.assertEqual((a.status, a.body), (503, b'{"status":"error"}'))
            self.assertEqual(call(f, "GET", "/healthz").status, 200)

    def test_401_bodies_tell_a_missing_key_from_a_wrong_one(self):
        a = call(self.fake, "GET", "/api/v1/workflows?limit=1")
        self.assertEqual(a.status, 401)
        self.assertEqual(a.body, b'{"message":"\'X-N8N-API-KEY\' header required"}')
        self.assertEqual(a.headers["content-type"], N8N_JSON)
        a = call(self.fake, "GET", "/api/v1/workflows?limit=1", {"X-N8N-API-KEY": "wrong"})
        self.assertEqual((a.status, a.body), (401, b'{"message":"unauthorized"}'))
        self.assertEqual(a.headers["content-type"], N8N_JSON)
        a = call(self.fake, "GET", "/api/v1/workflows?limit=1", {"x-n8n-api-key": KEY})
        self.assertEqual(a.status, 200, "header names are case-insensitive")
        a = call(self.fake, "GET", "/api/v1/workflows?limit=1", bearer())
        self.assertEqual(a.status, 401, "1.123 accepts nothing but X-N8N-API-KEY")

    def test_403_for_a_key_without_scopes(self):
        a = call(self.fake, "GET", "/api/v1/workflows", {"X-N8N-API-KEY": "scopeless"})
        self.assertEqual((a.status, a.body), (403, b'{"message":"Forbidden"}'))

    def test_404_and_405_come_before_the_key(self):
        a = call(self.fake, "GET", "/api/v1/no-such-thing")
        self.assertEqual((a.status, a.body), (404, b'{"message":"not found"}'))
        a = call(self.fake, "POST", "/api/v1/executions")
        self.assertEqual((a.status, a.body), (405, b'{"message":"POST method not allowed"}'))
        a = call(self.fake, "PATCH", "/api/v1/workflows", n8n_key())
        self.assertEqual((a.status, a.body), (405, b'{"message":"PATCH method not allowed"}'))
        a = call(self.fake, "POST", "/api/v1/workflows/x/execute", n8n_key())
        self.assertEqual((a.status, a.body), (405, b'{"message":"POST method not allowed"}'),
                         "no execute endpoint: /workflows/{id}/{versionId} is GET only")

    def test_query_validation(self):
        cases = [("limit=251", "request/query/limit must be <= 250"),
                 ("limit=ten", "request/query/limit must be number"),
                 ("active=yes", "request/query/active must be boolean"),
                 ("cursor=%25%25%25", "An invalid cursor was provided"),
                 ("cursor=" + base64.b64encode(b"not json").decode(),
                  "An invalid cursor was provided")]
        for q, msg in cases:
            a = call(self.fake, "GET", "/api/v1/workflows?" + q, n8n_key())
            self.assertEqual(a.status, 400, q)
            self.assertEqual(a.json(), {"message": msg}, q)
            self.assertEqual(a.headers["content-type"], N8N_JSON)
        a = call(self.fake, "GET", "/api/v1/executions?status=done", n8n_key())
        self.assertEqual(a.status, 400)
        self.assertTrue(a.json()["message"].startswith("request/query/status must be equal"))

    def test_html_for_other_paths_unless_json_is_asked_for(self):
        a = call(self.fake, "GET", "/workflows", {"Accept": "*/*"})
        self.assertEqual(a.status, 200)
        self.assertTrue(a.headers["content-type"].startswith("text/html"))
        a = call(self.fake, "GET", "/workflows", {"Accept": "application/json"})
        self.assertEqual(a.status, 404)
        self.assertIn(b"Cannot GET /workflows", a.body)


class N8nWorkflows(unittest.TestCase):
    def walk(self, fake, limit=250, extra=""):
        """Every page of /api/v1/workflows following nextCursor; (pages, items)."""
        pages, items, cursor = 0, [], None
        for _ in range(50):
            q = "limit=%d&excludePinnedData=true%s" % (limit, extra)
            if cursor:
                q += "&cursor=" + urllib.request.quote(cursor)
            a = call(fake, "GET", "/api/v1/workflows?" + q, n8n_key())
            self.assertEqual(a.status, 200, a)
            body = a.json()
            self.assertEqual(set(body), {"data", "nextCursor"})
            pages += 1
            items += body["data"]
            cursor = body["nextCursor"]
            if cursor is None:
                return pages, items
        self.fail("nextCursor never ended")

    def test_pagination_boundaries(self):
        for n in (0, 1, 250, 251, 501):
            with FakeN8n(keys=[KEY], workflows=n) as f:
                pages, items = self.walk(f)
                self.assertEqual(len(items), n, n)
                self.assertEqual(pages, max(1, math.ceil(n / 250)), n)
                ids = [w["id"] for w in items]
                self.assertEqual(len(set(ids)), n)
                for i in ids:
                    self.assertRegex(i, r"^[A-Za-z0-9]{16}$")

    def test_cursor_is_base64_offset_json_and_its_limit_wins(self):
        with FakeN8n(keys=[KEY], workflows=30) as f:
            a = call(f, "GET", "/api/v1/workflows?limit=10", n8n_key()).json()
            cur = a["nextCursor"]
            self.assertEqual(json.loads(base64.b64decode(cur)), {"limit": 10, "offset": 10})
            b = call(f, "GET", "/api/v1/workflows?limit=50&cursor=" + urllib.request.quote(cur),
                     n8n_key()).json()
            self.assertEqual(len(b["data"]), 10, "the cursor's limit wins")
            self.assertEqual(json.loads(base64.b64decode(b["nextCursor"])),
                             {"limit": 10, "offset": 20})
            self.assertNotIn(a["data"][0]["id"], [w["id"] for w in b["data"]])
            c = call(f, "GET", "/api/v1/workflows", n8n_key()).json()
            self.assertEqual((len(c["data"]), c["nextCursor"]), (30, None), "default limit 100")

    def test_limit_zero_returns_everything_and_never_ends(self):
        with FakeN8n(keys=[KEY], workflows=3) as f:
            a = call(f, "GET", "/api/v1/workflows?limit=0", n8n_key()).json()
            self.assertEqual(len(a["data"]), 3)
            self.assertEqual(json.loads(base64.b64decode(a["nextCursor"])),
                             {"limit": 0, "offset": 0})

    def test_default_data_shapes(self):
        with FakeN8n(keys=[KEY]) as f:
            pages, items = self.walk(f)
            self.assertGreater(len(items), 250, "more than one page at the maximum")
            self.assertTrue(any(w["isArchived"] for w in items), "archived ones are listed")
            hooks = [n for w in items for n in w["nodes"] if n["type"] == "n8n-nodes-base.webhook"]
            self.assertTrue(any(n["parameters"].get("httpMethod") == "POST" for n in hooks))
            self.assertTrue(any("httpMethod" not in n["parameters"] for n in hooks))
            self.assertTrue(any(not any(n["type"] == "n8n-nodes-base.webhook" for n in w["nodes"])
                                for w in items), "some have no webhook")
            w = items[0]
            for field in ("id", "name", "active", "activeVersionId", "isArchived", "createdAt",
                          "updatedAt", "versionId", "triggerCount", "nodes", "connections",
                          "settings", "staticData", "meta", "tags", "shared", "activeVersion"):
                self.assertIn(field, w)
            self.assertNotIn("pinData", w, "excludePinnedData")
            self.assertRegex(w["updatedAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            one = call(f, "GET", "/api/v1/workflows/" + w["id"], n8n_key()).json()
            self.assertIn("pinData", one)
            a = call(f, "GET", "/api/v1/workflows/nope", n8n_key())
            self.assertEqual((a.status, a.body), (404, b'{"message":"Not Found"}'))

    def test_filters(self):
        with FakeN8n(keys=[KEY], workflows=20) as f:
            _, act = self.walk(f, extra="&active=true")
            _, ina = self.walk(f, extra="&active=false")
            self.assertTrue(act and ina)
            self.assertTrue(all(w["active"] for w in act))
            self.assertFalse(any(w["active"] for w in ina))
            self.assertEqual(len(act) + len(ina), 20)
            _, named = self.walk(f, extra="&name=workflow%2001")
            self.assertEqual(sorted(w["name"] for w in named),
                             ["Workflow %03d" % i for i in range(10, 20)])

    def test_fixture_sets_names_ids_flags_and_times(self):
        fx = {"workflows": [{"id": "AAAAAAAAAAAAAAAA", "name": "Nightly", "active": False,
                             "updated_at": "2024-05-06T07:08:09Z",
                             "webhook": {"path": "nightly", "httpMethod": "POST"}},
                            {"name": "No trigger", "trigger": "manual"}]}
        with FakeN8n(keys=[KEY], fixture=fx) as f:
            _, items = self.walk(f)
            self.assertEqual([w["name"] for w in items], ["Nightly", "No trigger"])
            self.assertEqual(items[0]["id"], "AAAAAAAAAAAAAAAA")
            self.assertEqual(items[0]["updatedAt"], "2024-05-06T07:08:09.000Z")
            self.assertFalse(items[0]["active"])
            self.assertFalse(items[1]["active"])

    def test_activate_and_deactivate(self):
        fx = {"workflows": [{"id": "hookhookhookhook", "active": False,
                             "webhook": {"path": "later", "httpMethod": "POST"}},
                            {"id": "manualmanualmanu", "trigger": "manual"}]}
        with FakeN8n(keys=[KEY], fixture=fx) as f:
            self.assertEqual(call(f, "POST", "/webhook/later").status, 404)
            a = call(f, "POST", "/api/v1/workflows/hookhookhookhook/activate", n8n_key())
            self.assertEqual(a.status, 200)
            self.assertTrue(a.json()["active"])
            self.assertEqual(a.json()["triggerCount"], 1)
            self.assertEqual(call(f, "POST", "/webhook/later").status, 200)
            a = call(f, "POST", "/api/v1/workflows/manualmanualmanu/activate", n8n_key())
            self.assertEqual(a.status, 400)
            self.assertIn("no node to start the workflow", a.json()["message"])
            a = call(f, "POST", "/api/v1/workflows/unknownunknownu/activate", n8n_key())
            self.assertEqual((a.status, a.body), (404, b'{"message":"Not Found"}'))
            a = call(f, "POST", "/api/v1/workflows/hookhookhookhook/deactivate", n8n_key())
            self.assertFalse(a.json()["active"])
            self.assertEqual(call(f, "POST", "/webhook/later").status, 404)


class N8nRuns(unittest.TestCase):
    FIX = {"workflows": [
        {"id": "postpostpostpost", "name": "Post", "active": True,
         "webhook": {"path": "post-hook", "httpMethod": "POST"}},
        {"id": "getgetgetgetgetg", "name": "Get", "active": True,
         "webhook": {"path": "get-hook"}},
        {"id": "inactiveinactive", "name": "Inactive", "active": False,
         "webhook": {"path": "sleeping", "httpMethod": "POST"}},
        {"id": "lastnodelastnode", "name": "Sync", "active": True,
         "webhook": {"path": "sync", "httpMethod": "POST", "responseMode": "lastNode"}}]}

    def executions(self, f, q=""):
        a = call(f, "GET", "/api/v1/executions" + q, n8n_key())
        self.assertEqual(a.status, 200, a)
        return a.json()

    def test_webhook_starts_a_run_that_walks_new_running_success(self):
        with FakeN8n(keys=[KEY], fixture=self.FIX, step_ms=60) as f:
            a = call(f, "POST", "/webhook/post-hook", {"Content-Type": "application/json"},
                     {"x": 1})
            self.assertEqual((a.status, a.body), (200, b'{"message":"Workflow was started"}'))
            self.assertEqual(a.headers["content-type"], N8N_JSON)
            self.assertFalse([h for h in a.headers if "execution" in h], "no execution id")
            seen = []

            def done():
                e = call(f, "GET", "/api/v1/executions/1", n8n_key()).json()
                if not seen or seen[-1] != e["status"]:
                    seen.append(e["status"])
                return e if e["status"] == "success" else None
            e = wait_for(done, "the run to succeed")
            self.assertEqual(seen[-1], "success")
            self.assertTrue(set(seen) <= {"new", "running", "success"})
            self.assertEqual(e["id"], "1")
            self.assertEqual(e["workflowId"], "postpostpostpost")
            self.assertEqual(e["mode"], "webhook")
            self.assertTrue(e["finished"])
            self.assertIsNotNone(e["startedAt"])
            self.assertIsNotNone(e["stoppedAt"])

    def test_running_executions_are_hidden_unless_asked_for(self):
        with FakeN8n(keys=[KEY], fixture=self.FIX, advance="manual") as f:
            self.assertEqual(call(f, "GET", "/webhook/get-hook").status, 200)
            f.control_run("1", advance=1)  # running
            self.assertEqual(self.executions(f)["data"], [])
            run = self.executions(f, "?status=running&workflowId=getgetgetgetgetg")["data"]
            self.assertEqual([(e["id"], e["status"], e["stoppedAt"]) for e in run],
                             [("1", "running", None)])
            f.control_run("1", finish=True)
            self.assertEqual([e["status"] for e in self.executions(f)["data"]], ["success"])
            self.assertEqual(self.executions(f, "?workflowId=nonononononononon"),
                             {"data": [], "nextCursor": None})

    def test_webhook_404_bodies(self):
        with FakeN8n(keys=[KEY], fixture=self.FIX) as f:
            a = call(f, "POST", "/webhook/sleeping")
            self.assertEqual(a.status, 404)
            self.assertEqual(a.json(), {"code": 404, "message": 'The requested webhook "POST '
                                        'sleeping" is not registered.', "hint": PROD_HINT})
            a = call(f, "GET", "/webhook/post-hook")
            self.assertEqual(a.json(), {"code": 404, "message": "This webhook is not registered "
                                        "for GET requests. Did you mean to make a POST request?"})
            a = call(f, "POST", "/webhook/get-hook")
            self.assertIn("Did you mean to make a GET request?", a.json()["message"])
            self.assertEqual(call(f, "GET", "/webhook/nowhere").status, 404)
            self.assertEqual(f.request_count("/webhook/"), 4)
            self.assertEqual(self.executions(f)["data"], [], "no run started")

    def test_outcomes_and_the_error_filter(self):
        with FakeN8n(keys=[KEY], fixture=self.FIX, advance="manual",
                     outcomes=["failed", "crashed", "cancelled", "success"]) as f:
            for _ in range(4):
                self.assertEqual(call(f, "POST", "/webhook/post-hook").status, 200)
                f.control_run(str(f.next_exec - 1), finish=True)
            got = [(e["id"], e["status"], e["finished"]) for e in self.executions(f)["data"]]
            self.assertEqual(got, [("4", "success", True), ("3", "canceled", False),
                                   ("2", "crashed", False), ("1", "error", False)])
            errs = [e["status"] for e in self.executions(f, "?status=error")["data"]]
            self.assertEqual(errs, ["crashed", "error"])

    def test_poll_mode_moves_one_state_per_status_request(self):
        with FakeN8n(keys=[KEY], fixture=self.FIX, advance="poll") as f:
            call(f, "POST", "/webhook/post-hook")
            got = [call(f, "GET", "/api/v1/executions/1", n8n_key()).json()["status"]
                   for _ in range(4)]
            self.assertEqual(got, ["new", "running", "success", "success"])

    def test_no_worker_stays_new_until_released(self):
        with FakeN8n(keys=[KEY], fixture=self.FIX, no_worker=True, step_ms=10) as f:
            call(f, "POST", "/webhook/post-hook")
            time.sleep(0.1)
            self.assertEqual(call(f, "GET", "/api/v1/executions/1", n8n_key()).json()["status"],
                             "new")
            a = call(f, "POST", "/__fake/runs/1", body={"release": True})
            self.assertEqual(a.status, 200)
            wait_for(lambda: call(f, "GET", "/api/v1/executions/1", n8n_key()).json()["status"]
                     == "success", "release")

    def test_last_node_answers_after_the_run(self):
        with FakeN8n(keys=[KEY], fixture=self.FIX, step_ms=50) as f:
            t = time.monotonic()
            a = call(f, "POST", "/webhook/sync")
            self.assertEqual(a.status, 200)
            self.assertGreaterEqual(time.monotonic() - t, 0.09)
            f.configure(outcome="failed")
            a = call(f, "POST", "/webhook/sync")
            self.assertEqual((a.status, a.json()["message"]), (500, "Error in workflow"))

    def test_execution_paging_newest_first_with_last_id(self):
        with FakeN8n(keys=[KEY], workflows=5, executions=260) as f:
            ids, cursor = [], None
            for _ in range(10):
                q = "?limit=100" + ("&cursor=" + urllib.request.quote(cursor) if cursor else "")
                body = self.executions(f, q)
                ids += [int(e["id"]) for e in body["data"]]
                for e in body["data"]:
                    self.assertIsInstance(e["id"], str)
                    self.assertIsInstance(e["workflowId"], str)
                cursor = body["nextCursor"]
                if cursor is None:
                    break
                self.assertEqual(json.loads(base64.b64decode(cursor)),
                                 {"lastId": str(ids[-1]), "limit": 100})
            self.assertEqual(ids, list(range(260, 0, -1)))

    def test_get_execution_errors(self):
        with FakeN8n(keys=[KEY], workflows=1) as f:
            a = call(f, "GET", "/api/v1/executions/abc", n8n_key())
            self.assertEqual((a.status, a.json()),
                             (400, {"message": "request/params/id must be number"}))
            a = call(f, "GET", "/api/v1/executions/999", n8n_key())
            self.assertEqual((a.status, a.body), (404, b'{"message":"Not Found"}'))


# =============================================================================================
# Prefect
# =============================================================================================

JSONH = {"Content-Type": "application/json"}


class PrefectBasics(unittest.TestCase):
    def test_health_ready_and_versions(self):
        with FakePrefect(deployments=1) as f:
            self.assertTrue(f.base_url.endswith("/api"))
            for path, body in (("/api/health", b"true"), ("/api/ready", b'{"message":"OK"}'),
                               ("/api/version", b'"0.8.4"'), ("/api/admin/version", b'"3.4.11"')):
                a = call(f, "GET", path)
                self.assertEqual((a.status, a.body), (200, body), path)
                self.assertEqual(a.headers["content-type"], "application/json")
            a = call(f, "POST", "/api/deployments/filter", JSONH, {})
            self.assertEqual(a.status, 200, "no auth by default")
        with FakePrefect(deployments=0, ready=False) as f:
            a = call(f, "GET", "/api/ready")
            self.assertEqual((a.status, a.body), (503, b'{"message":"Database is not available"}'))

    def test_basic_auth_string(self):
        with FakePrefect(auth="basic", keys=["admin:pass"], deployments=3) as f:
            good = "Basic " + base64.b64encode(b"admin:pass").decode()
            bad = [None, "Basic " + base64.b64encode(b"admin:nope").decode(),
                   "Bearer admin:pass", "Basic", "Basic !!!!", "basic " + good[6:]]
            for h in bad:
                a = call(f, "POST", "/api/deployments/filter",
                         dict(JSONH, **({"Authorization": h} if h else {})), {"limit": 1})
                self.assertEqual((a.status, a.body),
                                 (401, b'{"exception_message":"Unauthorized"}'), h)
            a = call(f, "POST", "/api/flows/filter", dict(JSONH, Authorization=good), {"limit": 1})
            self.assertEqual(a.status, 200)
            for path in ("/api/health", "/api/ready"):
                self.assertEqual(call(f, "GET", path).status, 200, "exempt: " + path)
            self.assertEqual(call(f, "GET", "/api/version").status, 401)
            self.assertEqual(call(f, "GET", "/api/no/such/route").status, 401,
                             "the middleware runs before routing")
            self.assertEqual(call(f, "GET", "/api/no/such/route",
                                  {"Authorization": good}).status, 404)

    def test_cloud_prefix_and_bearer(self):
        with FakePrefect(auth="cloud", keys=["pnu_abc"], account="acc1", workspace="ws1",
                         deployments=3) as f:
            self.assertTrue(f.base_url.endswith("/api/accounts/acc1/workspaces/ws1"))
            p = "/api/accounts/acc1/workspaces/ws1"
            for h in ({}, bearer("pnu_wrong"), {"Authorization": "Basic cG51X2FiYw=="}):
                a = call(f, "POST", p + "/deployments/filter", dict(JSONH, **h), {})
                self.assertEqual(a.status, 401, h)
            a = call(f, "POST", p + "/deployments/filter", dict(JSONH, **bearer("pnu_abc")), {})
            self.assertEqual((a.status, len(a.json())), (200, 3))
            self.assertEqual(call(f, "POST", "/api/deployments/filter",
                                  dict(JSONH, **bearer("pnu_abc")), {}).status, 404)
            self.assertEqual(call(f, "POST", "/api/accounts/x/workspaces/ws1/deployments/filter",
                                  dict(JSONH, **bearer("pnu_abc")), {}).status, 404)
            self.assertEqual(call(f, "GET", p + "/health", bearer("pnu_abc")).body, b"true")
            self.assertEqual(call(f, "GET", p + "/admin/version", bearer("pnu_abc")).status, 404)

    def test_routes_slashes_versions_and_ui(self):
        with FakePrefect(deployments=1) as f:
            a = call(f, "POST", "/api/deployments/filter/", JSONH, {})
            self.assertEqual(a.status, 307)
            self.assertEqual(a.headers["location"], f.url + "/api/deployments/filter")
            a = call(f, "GET", "/api/nothing")
            self.assertEqual((a.status, a.body), (404, b'{"detail":"Not Found"}'))
            a = call(f, "GET", "/api/deployments/filter")
            self.assertEqual(a.status, 422, "3.4: GET /deployments/{id} matches, id not a UUID")
            a = call(f, "GET", "/api/flows/filter")
            self.assertEqual(a.json()["exception_detail"][0]["type"], "uuid_parsing")
        with FakePrefect(deployments=1, uuid_errors=404) as f:
            a = call(f, "GET", "/api/deployments/filter")
            self.assertEqual((a.status, a.body), (405, b'{"detail":"Method Not Allowed"}'),
                             "current code: {id:uuid} does not match, POST route does")
            a = call(f, "GET", "/api/deployments/%s" % str(uuid.uuid4()).upper())
            self.assertEqual(a.status, 404)
            a = call(f, "GET", "/api/health", {"X-PREFECT-API-VERSION": "nope"})
            self.assertEqual(a.status, 400)
            self.assertIn("Invalid X-PREFECT-API-VERSION header format.", a.json()["detail"])
            self.assertEqual(call(f, "GET", "/api/health",
                                  {"X-PREFECT-API-VERSION": "0.7.9"}).status, 400)
            self.assertEqual(call(f, "GET", "/api/health",
                                  {"X-PREFECT-API-VERSION": "0.8.4"}).status, 200)
            a = call(f, "GET", "/health")
            self.assertEqual(a.status, 200, "a base URL without /api gets the UI")
            self.assertTrue(a.headers["content-type"].startswith("text/html"))

    def test_csrf_when_enabled(self):
        with FakePrefect(deployments=1, csrf=True) as f:
            a = call(f, "POST", "/api/deployments/filter", JSONH, {})
            self.assertEqual((a.status, a.json()), (403, {"detail": "Missing CSRF token."}))
            tok = call(f, "GET", "/api/csrf-token?client=c1").json()["token"]
            h = dict(JSONH, **{"Prefect-Csrf-Token": tok, "Prefect-Csrf-Client": "c1"})
            self.assertEqual(call(f, "POST", "/api/deployments/filter", h, {}).status, 200)


class PrefectLists(unittest.TestCase):
    def walk(self, f, limit=200):
        pages, items = 0, []
        for _ in range(50):
            a = call(f, "POST", "/api/deployments/filter", JSONH,
                     {"limit": limit, "offset": len(items), "sort": "NAME_ASC"})
            self.assertEqual(a.status, 200, a)
            page = a.json()
            self.assertIsInstance(page, list, "a bare array")
            pages += 1
            items += page
            if len(page) < limit:
                return pages, items
        self.fail("paging never ended")

    def test_pagination_boundaries(self):
        for n in (0, 1, 200, 201, 401):
            with FakePrefect(deployments=n) as f:
                pages, items = self.walk(f)
                self.assertEqual(len(items), n, n)
                self.assertEqual(pages, n // 200 + 1, n)
                self.assertEqual(len({d["id"] for d in items}), n)

    def test_limit_offset_and_sort_validation(self):
        with FakePrefect(deployments=3) as f:
            a = call(f, "POST", "/api/deployments/filter", JSONH, {"limit": 201})
            self.assertEqual((a.status, a.body), (422, b'{"detail":"Invalid limit: must be less '
                                                       b'than or equal to 200."}'))
            a = call(f, "POST", "/api/deployments/filter", JSONH, {"limit": -1})
            self.assertEqual(a.status, 422)
            a = call(f, "POST", "/api/deployments/filter", JSONH, {"offset": -1})
            self.assertEqual(a.status, 422)
            body = a.json()
            self.assertEqual(body["exception_message"], "Invalid request received.")
            self.assertEqual(body["exception_detail"][0]["loc"], ["body", "offset"])
            self.assertEqual(body["request_body"], {"offset": -1})
            a = call(f, "POST", "/api/deployments/filter", JSONH, {"sort": "SIDEWAYS"})
            self.assertEqual((a.status, a.json()["exception_detail"][0]["type"]), (422, "enum"))
            a = call(f, "POST", "/api/deployments/filter", JSONH, b"{not json")
            self.assertEqual((a.status, a.json()["exception_detail"][0]["type"]),
                             (422, "json_invalid"))
            self.assertEqual(len(call(f, "POST", "/api/deployments/filter").json()), 3,
                             "no body: every default")

    def test_default_data_and_sorts(self):
        with FakePrefect() as f:
            _, items = self.walk(f)
            self.assertGreater(len(items), 200)
            names = [d["name"] for d in items]
            self.assertEqual(names, sorted(names), "NAME_ASC")
            by_name = {}
            for d in items:
                by_name.setdefault(d["name"], set()).add(d["flow_id"])
            self.assertTrue(any(len(v) > 1 for v in by_name.values()),
                            "two deployments share a name under different flows")
            d = items[0]
            for field in ("id", "created", "updated", "name", "flow_id", "paused", "tags",
                          "parameters", "work_pool_name", "status", "enforce_parameter_schema",
                          "parameter_openapi_schema", "entrypoint"):
                self.assertIn(field, d)
            self.assertRegex(d["updated"], r"Z$")
            flows = call(f, "POST", "/api/flows/filter", JSONH, {"limit": 200}).json()
            self.assertEqual({x["id"] for x in flows}, {d["flow_id"] for d in items})
            newest = call(f, "POST", "/api/deployments/filter", JSONH,
                          {"limit": 3, "sort": "UPDATED_DESC"}).json()
            self.assertEqual([x["updated"] for x in newest],
                             sorted((x["updated"] for x in items), reverse=True)[:3])

    def test_fixture_and_filters(self):
        fx = {"flows": [{"name": "etl"}, {"name": "ml"}],
              "deployments": [{"name": "daily", "flow": "etl", "active": False,
                               "updated_at": "2024-02-03T04:05:06Z"},
                              {"name": "daily", "flow": "ml"}, {"name": "hourly", "flow": "etl"}]}
        with FakePrefect(fixture=fx) as f:
            items = call(f, "POST", "/api/deployments/filter", JSONH, {}).json()
            self.assertEqual([d["name"] for d in items], ["daily", "daily", "hourly"])
            self.assertTrue(items[0]["paused"] or items[1]["paused"])
            self.assertIn("2024-02-03T04:05:06.000000Z", [d["updated"] for d in items])
            etl = call(f, "POST", "/api/deployments/filter", JSONH,
                       {"flows": {"name": {"any_": ["etl"]}}}).json()
            self.assertEqual(sorted(d["name"] for d in etl), ["daily", "hourly"])


class PrefectRuns(unittest.TestCase):
    def first_deployment(self, f):
        return call(f, "POST", "/api/deployments/filter", JSONH, {"limit": 1}).json()[0]

    def test_create_flow_run(self):
        with FakePrefect(deployments=2, advance="manual") as f:
            dep = self.first_deployment(f)
            p = "/api/deployments/%s/create_flow_run" % dep["id"]
            a = call(f, "POST", p, JSONH, {"parameters": {"y": 2}, "tags": ["t"]})
            self.assertEqual(a.status, 201)
            run = a.json()
            self.assertRegex(run["id"], UUID_RE)
            self.assertEqual((run["state_type"], run["state_name"]), ("SCHEDULED", "Scheduled"))
            self.assertEqual((run["state"]["type"], run["state"]["name"]),
                             ("SCHEDULED", "Scheduled"))
            self.assertEqual(run["parameters"], {"x": 1, "y": 2}, "merged over the deployment's")
            self.assertEqual(run["deployment_id"], dep["id"])
            self.assertIsNone(run["start_time"])
            self.assertIsNotNone(run["state"]["state_details"]["scheduled_time"])
            a = call(f, "POST", p, JSONH, {})
            self.assertEqual(a.status, 201, "{} is a valid body")
            first = call(f, "POST", p, JSONH, {"idempotency_key": "k1"})
            again = call(f, "POST", p, JSONH, {"idempotency_key": "k1"})
            self.assertEqual((first.status, again.status), (201, 200))
            self.assertEqual(first.json()["id"], again.json()["id"])

    def test_create_flow_run_errors(self):
        with FakePrefect(deployments=1) as f:
            dep = self.first_deployment(f)
            p = "/api/deployments/%s/create_flow_run" % dep["id"]
            a = call(f, "POST", p, JSONH, {"parameters": {}, "bogus": 1})
            self.assertEqual(a.status, 422)
            body = a.json()
            self.assertEqual(body["exception_message"], "Invalid request received.")
            self.assertEqual([(e["type"], e["loc"]) for e in body["exception_detail"]],
                             [("extra_forbidden", ["body", "bogus"])])
            self.assertEqual(body["request_body"], {"parameters": {}, "bogus": 1})
            a = call(f, "POST", p)
            self.assertEqual((a.status, a.json()["exception_detail"][0]["type"]), (422, "missing"))
            a = call(f, "POST", p, {"Content-Type": "text/plain"}, b"{}")
            self.assertEqual(a.status, 422, "a body must be sent as JSON")
            a = call(f, "POST", "/api/deployments/%s/create_flow_run" % uuid.uuid4(), JSONH, {})
            self.assertEqual((a.status, a.body), (404, b'{"detail":"Deployment not found"}'))
            a = call(f, "POST", "/api/deployments/not-a-uuid/create_flow_run", JSONH, {})
            self.assertEqual(a.status, 422)
            self.assertEqual(a.json()["exception_detail"][0]["loc"], ["path", "id"])
            a = call(f, "GET", "/api/flow_runs/%s" % uuid.uuid4())
            self.assertEqual((a.status, a.body), (404, b'{"detail":"Flow run not found"}'))
        with FakePrefect(deployments=1, uuid_errors=404) as f:
            a = call(f, "GET", "/api/flow_runs/not-a-uuid")
            self.assertEqual((a.status, a.body), (404, b'{"detail":"Not Found"}'))

    def test_required_parameter_gives_409(self):
        fx = {"deployments": [{"name": "strict", "flow": "f", "parameter_openapi_schema": {
            "type": "object", "properties": {"who": {"type": "string"}}, "required": ["who"]}}]}
        with FakePrefect(fixture=fx) as f:
            dep = self.first_deployment(f)
            p = "/api/deployments/%s/create_flow_run" % dep["id"]
            a = call(f, "POST", p, JSONH, {})
            self.assertEqual(a.status, 409)
            self.assertTrue(a.json()["detail"].startswith("Error creating flow run:"))
            self.assertEqual(call(f, "POST", p, JSONH, {"parameters": {"who": "me"}}).status, 201)

    def states(self, f, rid, until, limit=5.0):
        seen = []

        def step():
            r = call(f, "GET", "/api/flow_runs/" + rid).json()
            self.assertEqual(r["state_type"], r["state"]["type"])
            self.assertEqual(r["state_name"], r["state"]["name"])
            if not seen or seen[-1][0] != (r["state_type"], r["state_name"]):
                seen.append(((r["state_type"], r["state_name"]), r))
            return r if r["state_type"] == until else None
        wait_for(step, until, timeout=limit)
        return seen

    def test_run_walks_to_completed(self):
        with FakePrefect(deployments=1, step_ms=40) as f:
            dep = self.first_deployment(f)
            rid = call(f, "POST", "/api/deployments/%s/create_flow_run" % dep["id"], JSONH,
                       {}).json()["id"]
            seen = self.states(f, rid, "COMPLETED")
            order = [s for s, _ in seen]
            want = [("SCHEDULED", "Scheduled"), ("PENDING", "Pending"), ("RUNNING", "Running"),
                    ("COMPLETED", "Completed")]
            self.assertEqual([s for s in want if s in order], order, "in order")
            self.assertEqual(order[-1], want[-1])
            last = seen[-1][1]
            self.assertIsNotNone(last["start_time"])
            self.assertIsNotNone(last["end_time"])
            self.assertGreaterEqual(last["end_time"], last["start_time"])
            self.assertEqual(last["run_count"], 1)

    def test_failed_crashed_and_cancelled(self):
        with FakePrefect(deployments=1, advance="poll",
                         outcomes=["failed", "crashed", "cancelled"]) as f:
            dep = self.first_deployment(f)
            want = {"FAILED": ["SCHEDULED", "PENDING", "RUNNING", "FAILED"],
                    "CRASHED": ["SCHEDULED", "PENDING", "RUNNING", "CRASHED"],
                    "CANCELLED": ["SCHEDULED", "PENDING", "RUNNING", "CANCELLING", "CANCELLED"]}
            for end in ("FAILED", "CRASHED", "CANCELLED"):
                r = call(f, "POST", "/api/deployments/%s/create_flow_run" % dep["id"], JSONH,
                         {}).json()
                got = [r["state_type"]]
                for _ in range(8):
                    got.append(call(f, "GET", "/api/flow_runs/" + r["id"]).json()["state_type"])
                    if got[-1] == end:
                        break
                self.assertEqual(got, want[end])

    def test_no_worker_stays_scheduled_and_goes_late(self):
        with FakePrefect(deployments=1, no_worker=True, late_after_ms=60, step_ms=10) as f:
            dep = self.first_deployment(f)
            r = call(f, "POST", "/api/deployments/%s/create_flow_run" % dep["id"], JSONH,
                     {}).json()
            self.assertEqual(r["state_name"], "Scheduled")
            late = wait_for(lambda: (lambda x: x if x["state_name"] == "Late" else None)(
                call(f, "GET", "/api/flow_runs/" + r["id"]).json()), "Late")
            self.assertEqual(late["state_type"], "SCHEDULED", "Late is still queued")
            self.assertEqual(call(f, "GET", "/__fake/runs/" + r["id"]).json()["step"], 0)


# =============================================================================================
# Windmill
# =============================================================================================

class WindmillAuth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakeWindmill(keys=[KEY], outsider_keys=["outsider"], flows=3, scripts=3).start()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def test_version_and_health_need_no_token(self):
        a = call(self.fake, "GET", "/api/version")
        self.assertEqual((a.status, a.body), (200, b"CE v1.743.0"))
        self.assertEqual(a.headers["content-type"], "text/plain; charset=utf-8")
        a = call(self.fake, "GET", "/api/health/status")
        self.assertEqual(a.status, 200)
        self.assertEqual(a.json()["status"], "healthy")

    def test_401_text_for_every_bad_case(self):
        cases = [({}, "demo"), (bearer("wrong"), "demo"), (bearer(), "nowhere"),
                 (bearer(), "other"), ({"Authorization": "bearer " + KEY}, "demo"),
                 ({"Authorization": "Bearer  " + KEY}, "demo"), (bearer("outsider"), "demo")]
        for h, ws in cases:
            a = call(self.fake, "GET", "/api/w/%s/flows/list?per_page=1" % ws, h)
            self.assertEqual((a.status, a.body), (401, b"Not authorized: Unauthorized"), (h, ws))
            self.assertEqual(a.headers["content-type"], "text/plain")
        a = call(self.fake, "GET", "/api/w/demo/flows/list?per_page=1", bearer())
        self.assertEqual(a.status, 200)
        self.assertEqual(a.headers["content-type"], "application/json")

    def test_whoami_tells_a_wrong_workspace_from_a_wrong_token(self):
        self.assertEqual(call(self.fake, "GET", "/api/users/whoami", bearer()).status, 200)
        self.assertEqual(call(self.fake, "GET", "/api/w/demo/users/whoami", bearer()).status, 200)
        self.assertEqual(call(self.fake, "GET", "/api/users/whoami", bearer("outsider")).status,
                         200)
        self.assertEqual(call(self.fake, "GET", "/api/w/demo/users/whoami",
                              bearer("outsider")).status, 401)
        self.assertEqual(call(self.fake, "GET", "/api/users/whoami", bearer("wrong")).status, 401)
        with FakeWindmill(keys=[KEY], token_bound=True, flows=0, scripts=0) as f:
            self.assertEqual(call(f, "GET", "/api/users/whoami", bearer()).status, 401)
            self.assertEqual(call(f, "GET", "/api/w/demo/users/whoami", bearer()).status, 200)

    def test_frontend_outside_api(self):
        a = call(self.fake, "GET", "/flows")
        self.assertEqual(a.status, 200)
        self.assertTrue(a.headers["content-type"].startswith("text/html"))


class WindmillLists(unittest.TestCase):
    def pages(self, f, what, per_page=100, extra=""):
        out = []
        for page in range(1, 30):
            a = call(f, "GET", "/api/w/demo/%s/list?page=%d&per_page=%d%s"
                     % (what, page, per_page, extra), bearer())
            self.assertEqual(a.status, 200, a)
            items = a.json()
            out.append(len(items))
            if not items:
                return out
        self.fail("paging never ended")

    def test_flow_pages_until_empty(self):
        for n, want in ((0, [0]), (1, [1, 0]), (100, [100, 0]), (101, [100, 1, 0])):
            with FakeWindmill(keys=[KEY], flows=n, scripts=0) as f:
                self.assertEqual(self.pages(f, "flows"), want, n)

    def test_default_data_order_archived_and_code_defaults(self):
        with FakeWindmill(keys=[KEY]) as f:
            self.assertEqual(self.pages(f, "flows"), [100, 30, 0])
            every = call(f, "GET", "/api/w/demo/flows/list", bearer()).json()
            self.assertEqual(len(every), 130, "per_page defaults to 1000 in the code, not 30")
            self.assertFalse(any(x["archived"] for x in every))
            starred = [x["starred"] for x in every]
            self.assertEqual(starred, sorted(starred, reverse=True), "starred first")
            rest = [x["edited_at"] for x in every if not x["starred"]]
            self.assertEqual(rest, sorted(rest, reverse=True), "then newest first")
            self.assertTrue(any(x["path"].startswith("f/") for x in every))
            self.assertTrue(any(x["path"].startswith("u/") for x in every))
            self.assertTrue(any(x["summary"] == "" for x in every))
            self.assertTrue(any("description" not in x for x in every))
            arch = call(f, "GET", "/api/w/demo/flows/list?show_archived=true", bearer()).json()
            self.assertEqual(len(arch), 133)
            one = call(f, "GET", "/api/w/demo/flows/list?per_page=0", bearer()).json()
            self.assertEqual(len(one), 1, "per_page is at least 1 for flows")

    def test_scripts_latest_version_and_kinds(self):
        with FakeWindmill(keys=[KEY]) as f:
            every = call(f, "GET", "/api/w/demo/scripts/list", bearer()).json()
            paths = [s["path"] for s in every]
            self.assertEqual(len(paths), len(set(paths)), "one version per path")
            self.assertEqual(len(every), 130)
            self.assertFalse(any(s["summary"] == "an older version" for s in every))
            kinds = {s["kind"] for s in every}
            self.assertTrue({"script", "trigger", "failure"} <= kinds)
            runnable = call(f, "GET", "/api/w/demo/scripts/list?kinds=script", bearer()).json()
            self.assertTrue(runnable and all(s["kind"] == "script" for s in runnable))
            self.assertLess(len(runnable), 130)
            for s in every:
                self.assertRegex(s["hash"], r"^[0-9a-f]{16}$")
            self.assertEqual(call(f, "GET", "/api/w/demo/scripts/list?per_page=0",
                                  bearer()).json(), [], "scripts' per_page is not clamped")
            self.assertEqual(self.pages(f, "scripts", extra="&kinds=script")[-1], 0)


class WindmillJobs(unittest.TestCase):
    FIX = {"flows": [{"path": "f/etl/daily", "summary": "Daily"}],
           "scripts": [{"path": "u/admin/hello", "language": "python3"}]}

    def get(self, f, jid, h=None):
        return call(f, "GET", "/api/w/demo/jobs_u/get/%s?no_logs=true&no_code=true" % jid,
                    bearer() if h is None else h)

    def test_run_flow_and_follow_the_job(self):
        with FakeWindmill(keys=[KEY], fixture=self.FIX, step_ms=40) as f:
            a = call(f, "POST", "/api/w/demo/jobs/run/f/f/etl/daily", bearer(), {"n": 3})
            self.assertEqual(a.status, 201)
            self.assertEqual(a.headers["content-type"], "text/plain; charset=utf-8")
            jid = a.body.decode()
            self.assertRegex(jid, UUID_RE, "bare text, no quotes")
            seen = []

            def step():
                j = self.get(f, jid).json()
                key = (j["type"], j.get("running"), j.get("success"))
                if not seen or seen[-1] != key:
                    seen.append(key)
                return j if j["type"] == "CompletedJob" else None
            j = wait_for(step, "the job to complete")
            want = [("QueuedJob", False, None), ("QueuedJob", True, None),
                    ("CompletedJob", None, True)]
            self.assertEqual([s for s in want if s in seen], seen)
            self.assertEqual(seen[-1], want[-1])
            self.assertEqual(j["args"], {"n": 3})
            self.assertEqual((j["job_kind"], j["script_path"]), ("flow", "f/etl/daily"))
            self.assertFalse(j["canceled"])
            self.assertNotIn("logs", j)
            r = call(f, "GET", "/api/w/demo/jobs_u/completed/get_result_maybe/" + jid,
                     bearer()).json()
            self.assertEqual((r["completed"], r["success"]), (True, True))

    def test_run_script_and_outcomes(self):
        with FakeWindmill(keys=[KEY], fixture=self.FIX, advance="manual",
                          outcomes=["failed", "cancelled", "skipped"]) as f:
            want = [(False, False, False), (False, True, False), (True, False, True)]
            for success, canceled, skipped in want:
                jid = call(f, "POST", "/api/w/demo/jobs/run/p/u/admin/hello", bearer(),
                           {}).body.decode()
                j = self.get(f, jid).json()
                self.assertEqual((j["type"], j["running"]), ("QueuedJob", False))
                f.control_run(jid, finish=True)
                j = self.get(f, jid).json()
                self.assertEqual(j["type"], "CompletedJob")
                self.assertEqual((j["success"], j["canceled"], j["is_skipped"]),
                                 (success, canceled, skipped))
                self.assertEqual(j["job_kind"], "script")

    def test_run_errors_and_chosen_job_id(self):
        with FakeWindmill(keys=[KEY], fixture=self.FIX) as f:
            a = call(f, "POST", "/api/w/demo/jobs/run/f/f/etl/nope", bearer(), {})
            self.assertEqual(a.status, 404)
            self.assertEqual(a.headers["content-type"], "text/plain")
            self.assertTrue(a.body.startswith(b"Not found: flow not found at name f/etl/nope"))
            a = call(f, "POST", "/api/w/demo/jobs/run/p/u/admin/nope", bearer(), {})
            self.assertTrue(a.body.startswith(b"Not found: script not found at name"))
            self.assertEqual(call(f, "POST", "/api/w/demo/jobs/run/f/f/etl/daily", {},
                                  {}).status, 401)
            jid = str(uuid.uuid4())
            a = call(f, "POST", "/api/w/demo/jobs/run/f/f/etl/daily?job_id=" + jid, bearer(), {})
            self.assertEqual((a.status, a.body.decode()), (201, jid))
            a = call(f, "POST", "/api/w/demo/jobs/run/f/f/etl/daily?job_id=" + jid, bearer(), {})
            self.assertEqual(a.status, 400)
            self.assertTrue(a.body.startswith(b"Bad request: "))

    def test_job_status_errors(self):
        with FakeWindmill(keys=[KEY], fixture=self.FIX) as f:
            a = self.get(f, uuid.uuid4())
            self.assertEqual(a.status, 404)
            self.assertTrue(a.body.startswith(b"Not found: Job not found at name "))
            self.assertEqual(self.get(f, "not-a-uuid").status, 400)
            jid = call(f, "POST", "/api/w/demo/jobs/run/f/f/etl/daily", bearer(), {}).body.decode()
            for h in ({}, bearer("wrong")):
                a = self.get(f, jid, h)
                self.assertEqual((a.status, a.body.decode()), (400, NOT_ANON), h)
                self.assertEqual(a.headers["content-type"], "text/plain")

    def test_no_worker_stays_queued(self):
        with FakeWindmill(keys=[KEY], fixture=self.FIX, no_worker=True, step_ms=10) as f:
            self.assertEqual(call(f, "GET", "/api/health/status").json()["workers_alive"], 0)
            jid = call(f, "POST", "/api/w/demo/jobs/run/f/f/etl/daily", bearer(), {}).body.decode()
            time.sleep(0.1)
            for _ in range(3):
                j = self.get(f, jid).json()
                self.assertEqual((j["type"], j["running"]), ("QueuedJob", False))

    def test_scheduled_in_secs_waits_before_running(self):
        with FakeWindmill(keys=[KEY], fixture=self.FIX, step_ms=10) as f:
            jid = call(f, "POST", "/api/w/demo/jobs/run/f/f/etl/daily?scheduled_in_secs=60",
                       bearer(), {}).body.decode()
            time.sleep(0.1)
            j = self.get(f, jid).json()
            self.assertEqual((j["type"], j["running"]), ("QueuedJob", False))
            self.assertGreater(j["scheduled_for"], j["created_at"])


# =============================================================================================
# Switches, the request log and the control path (shared by every fake)
# =============================================================================================

class Switches(unittest.TestCase):
    def setUp(self):
        self.fake = FakeN8n(keys=[KEY], workflows=2).start()

    def tearDown(self):
        self.fake.stop()

    def test_slow(self):
        self.fake.switch("slow", delay_ms=150)
        t = time.monotonic()
        self.assertEqual(call(self.fake, "GET", "/healthz").status, 200)
        self.assertGreaterEqual(time.monotonic() - t, 0.14)

    def test_hang_accepts_and_never_answers(self):
        self.fake.switch("hang")
        with self.assertRaises(socket.timeout):
            call(self.fake, "GET", "/api/v1/workflows", n8n_key(), timeout=0.3)
        self.assertEqual(self.fake.request_count(), 1, "the request was read")
        self.assertEqual(self.fake.requests()[0]["switch"], "hang")
        self.fake.clear_switches()
        self.assertEqual(call(self.fake, "GET", "/healthz").status, 200)

    def test_hang_for_a_while_then_close(self):
        self.fake.switch("hang", hang_ms=100)
        t = time.monotonic()
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            call(self.fake, "GET", "/healthz", timeout=3)
        self.assertLess(time.monotonic() - t, 2.5)

    def test_reset(self):
        self.fake.switch("reset")
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError,
                                BrokenPipeError)):
            call(self.fake, "GET", "/healthz")

    def test_truncate(self):
        self.fake.switch("truncate")
        with self.assertRaises((http.client.IncompleteRead, ConnectionResetError)):
            call(self.fake, "GET", "/api/v1/workflows", n8n_key())

    def test_garbage_with_each_engines_json_type(self):
        for fake, ctype in ((self.fake, N8N_JSON),
                            (FakePrefect(deployments=0), "application/json"),
                            (FakeWindmill(flows=0, scripts=0), "application/json")):
            with fakebase_started(fake) as f:
                f.switch("garbage")
                a = call(f, "GET", "/api/v1/workflows")
                self.assertEqual((a.status, a.headers["content-type"]), (200, ctype))
                with self.assertRaises(ValueError):
                    json.loads(a.body.decode("utf-8", "replace"))

    def test_html(self):
        self.fake.switch("html")
        a = call(self.fake, "GET", "/api/v1/workflows", n8n_key())
        self.assertEqual(a.status, 200)
        self.assertEqual(a.headers["content-type"], "text/html; charset=utf-8")

    def test_redirect_to_another_host_and_what_it_records(self):
        with FakeN8n(keys=["other"], workflows=0) as other:
            self.fake.switch("redirect", location=other.url)
            a = call(self.fake, "GET", "/api/v1/workflows?limit=1", n8n_key())
            self.assertEqual(a.status, 302)
            self.assertEqual(a.headers["location"], other.url + "/api/v1/workflows?limit=1")
            self.assertEqual(other.request_count(), 0, "http.client does not follow")
            # a client that follows naively takes the key along: the second fake sees it
            req = urllib.request.Request(self.fake.url + "/api/v1/workflows?limit=1",
                                         headers={"X-N8N-API-KEY": KEY})
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(req, timeout=5 * SCALE)
            self.assertEqual(cm.exception.code, 401)
            got = other.requests()
            self.assertEqual(len(got), 1)
            self.assertEqual(fakebase.FakeServer.header_of(got[0], "X-N8N-API-KEY"), KEY)
            self.fake.switch("redirect", location=other.url, status=307)
            self.assertEqual(call(self.fake, "GET", "/healthz").status, 307)

    def test_down_and_throttle(self):
        self.fake.switch("down", retry_after=7)
        a = call(self.fake, "GET", "/api/v1/workflows", n8n_key())
        self.assertEqual((a.status, a.headers["retry-after"]), (503, "7"))
        self.fake.switch("throttle")
        a = call(self.fake, "GET", "/api/v1/workflows", n8n_key())
        self.assertEqual((a.status, a.headers["retry-after"]), (429, "1"))
        self.fake.switch("status", status=502, body="bad gateway", content_type="text/plain")
        a = call(self.fake, "GET", "/healthz")
        self.assertEqual((a.status, a.body), (502, b"bad gateway"))

    def test_refuse_then_listen_again(self):
        port = self.fake.port
        a = call(self.fake, "POST", "/__fake/switch", body={"mode": "refuse", "duration_ms": 600})
        self.assertEqual(a.status, 200)

        def refused():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return False
            except (ConnectionRefusedError, ConnectionResetError):
                return True  # a reset: caught in the backlog as the listener closed
        wait_for(refused, "connections to be refused", timeout=2)
        wait_for(lambda: not refused(), "listening again", timeout=5)
        self.assertEqual(self.fake.port, port)
        self.assertEqual(call(self.fake, "GET", "/healthz").status, 200)

    def test_times_and_path_scope_a_switch(self):
        self.fake.switch("down", path="/api/v1/workflows", times=1)
        self.assertEqual(call(self.fake, "GET", "/healthz").status, 200)
        self.assertEqual(call(self.fake, "GET", "/api/v1/workflows", n8n_key()).status, 503)
        self.assertEqual(call(self.fake, "GET", "/api/v1/workflows", n8n_key()).status, 200)
        self.fake.add_switch("throttle", method="POST")
        self.assertEqual(call(self.fake, "GET", "/healthz").status, 200)
        self.assertEqual(call(self.fake, "POST", "/webhook/x").status, 429)

    def test_control_path_over_http(self):
        f = self.fake
        a = call(f, "POST", "/__fake/switch", body={"mode": "down"})
        self.assertEqual(a.json()["switches"][0]["mode"], "down")
        self.assertEqual(call(f, "GET", "/healthz").status, 503)
        self.assertEqual(call(f, "GET", "/__fake/health").status, 200, "never switched")
        call(f, "POST", "/__fake/switch", body={"mode": "slow", "delay_ms": 10, "add": True})
        self.assertEqual([s["mode"] for s in call(f, "GET", "/__fake/switch").json()["switches"]],
                         ["down", "slow"])
        self.assertEqual(call(f, "DELETE", "/__fake/switch").json(), {"switches": []})
        self.assertEqual(call(f, "GET", "/healthz").status, 200)
        self.assertEqual(call(f, "POST", "/__fake/switch", body={"mode": "nope"}).status, 400)
        log = call(f, "GET", "/__fake/requests").json()
        self.assertEqual(log["count"], 2, "control requests are not recorded")
        self.assertEqual(call(f, "DELETE", "/__fake/requests").json()["count"], 0)
        self.assertEqual(call(f, "POST", "/__fake/config", body={"advance": "poll"}).json()
                         ["advance"], "poll")
        self.assertEqual(call(f, "POST", "/__fake/config", body={"nonsense": 1}).status, 400)
        call(f, "POST", "/__fake/data", body={"generate": {"workflows": 7}})
        body = call(f, "GET", "/api/v1/workflows", n8n_key()).json()
        self.assertEqual(len(body["data"]), 7)

    def test_request_log_keeps_headers_and_bodies(self):
        call(self.fake, "POST", "/webhook/hook-001", {"X-Trace": "abc", "Content-Type":
                                                       "application/json"}, {"a": 1})
        call(self.fake, "GET", "/api/v1/workflows?limit=5", n8n_key())
        log = self.fake.requests()
        self.assertEqual([(e["method"], e["path"], e["query"]) for e in log],
                         [("POST", "/webhook/hook-001", ""), ("GET", "/api/v1/workflows",
                                                              "limit=5")])
        self.assertEqual(fakebase.FakeServer.header_of(log[0], "x-trace"), "abc")
        self.assertEqual(json.loads(log[0]["body"]), {"a": 1})
        self.assertEqual(fakebase.FakeServer.header_of(log[1], "X-N8N-API-KEY"), KEY)
        self.assertEqual(self.fake.request_count("/api/"), 1)
        over_http = call(self.fake, "GET", "/__fake/requests?path=/webhook/").json()
        self.assertEqual(over_http["count"], 1)

    def test_loopback_only(self):
        with self.assertRaises(ValueError):
            FakeN8n(host="0.0.0.0", workflows=0)

    def test_ipv6_loopback(self):
        try:
            socket.socket(socket.AF_INET6).close()
            fake = FakeN8n(host="::1", keys=[KEY], workflows=1).start()
        except OSError:
            self.skipTest("no IPv6 loopback here")
        try:
            self.assertTrue(fake.url.startswith("http://[::1]:"))
            self.assertEqual(call(fake, "GET", "/healthz").status, 200)
        finally:
            fake.stop()


class fakebase_started:
    """Start a fake that is not started yet (leave a started one alone)."""

    def __init__(self, fake):
        self.fake = fake
        self.mine = fake._httpd is None

    def __enter__(self):
        if self.mine:
            self.fake.start()
        return self.fake

    def __exit__(self, *exc):
        if self.mine:
            self.fake.stop()


class RunStateMachine(unittest.TestCase):
    def test_time_poll_manual_and_hold(self):
        r = fakebase.Run(["a", "b", "c"], "time", step_ms=20)
        wait_for(lambda: r.final(), "time to move it on", timeout=2)
        self.assertEqual(r.steps[r.index()], "c")
        r = fakebase.Run(["a", "b", "c"], "poll")
        self.assertEqual([r.observe() for _ in range(4)], [0, 1, 2, 2])
        r = fakebase.Run(["a", "b", "c"], "manual")
        self.assertEqual((r.observe(), r.observe()), (0, 0))
        r.force(1)
        self.assertEqual(r.index(), 1)
        r = fakebase.Run(["a", "b"], "time", step_ms=1, hold=True)
        time.sleep(0.02)
        self.assertEqual(r.index(), 0)
        r.set_steps(["a", "x", "y"])
        self.assertEqual(r.steps, ["a", "x", "y"])
        with self.assertRaises(ValueError):
            fakebase.Run(["a"], "sometimes")
        with self.assertRaises(ValueError):
            fakebase.normalise_outcome("meh")


# =============================================================================================
# As processes
# =============================================================================================

class Processes(unittest.TestCase):
    def start(self, script, *args):
        cmd = [sys.executable, os.path.join(HERE, script), "--port", "0", "--max-seconds", "120"]
        p = subprocess.Popen(cmd + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        self.addCleanup(self.stop, p)
        lines = []
        t = threading.Thread(target=lambda: lines.append(p.stdout.readline()), daemon=True)
        t.start()
        t.join(10 * SCALE)
        self.assertTrue(lines and lines[0], "no first line from %s" % script)
        m = re.match(r"^listening http://127\.0\.0\.1:(\d+)\n$", lines[0].decode())
        self.assertTrue(m, lines[0])

        class Where:
            host, port = "127.0.0.1", int(m.group(1))
        return p, Where

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5 * SCALE)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        p.stdout.close()
        p.stderr.close()

    def test_each_fake_runs_as_a_process_and_stops_on_sigterm(self):
        cases = [("fake_n8n.py", ["--key", "k", "--workflows", "3"], "/api/v1/workflows",
                  {"X-N8N-API-KEY": "k"}),
                 ("fake_prefect.py", ["--auth", "basic", "--key", "u:p", "--deployments", "3"],
                  "/api/flows/filter",
                  {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()}),
                 ("fake_windmill.py", ["--key", "t", "--flows", "3"], "/api/w/demo/flows/list",
                  {"Authorization": "Bearer t"})]
        for script, args, path, h in cases:
            p, where = self.start(script, *args)
            method = "POST" if "prefect" in script else "GET"
            self.assertEqual(call(where, method, path, {}, b"{}" if method == "POST" else None)
                             .status, 401, script)
            self.assertEqual(call(where, method, path, dict(h, **JSONH),
                                  b"{}" if method == "POST" else None).status, 200, script)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(5 * SCALE), 0, script)

    def test_switches_and_fixture_from_the_command_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fx:
            json.dump({"workflows": [{"name": "From a file", "trigger": "manual"}]}, fx)
        self.addCleanup(os.unlink, fx.name)
        p, where = self.start("fake_n8n.py", "--key", "k", "--fixture", fx.name,
                              "--switch", '{"mode": "down", "times": 1}')
        self.assertEqual(call(where, "GET", "/healthz").status, 503)
        a = call(where, "GET", "/api/v1/workflows", {"X-N8N-API-KEY": "k"})
        self.assertEqual([w["name"] for w in a.json()["data"]], ["From a file"])
        a = call(where, "POST", "/__fake/switch", body={"mode": "garbage"})
        self.assertEqual(a.status, 200)
        self.assertEqual(call(where, "GET", "/healthz").body[:8], b'{"data":')


if __name__ == "__main__":
    unittest.main(verbosity=2)
