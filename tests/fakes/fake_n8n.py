#!/usr/bin/env python3
"""fake_n8n.py: a fake n8n (public API v1, as of n8n 1.123) for wfreg's tests.

What it answers, and where each behaviour comes from, is in tests/fakes/README.md; the
engine itself is described in the shared engine-apis/README.md ("n8n" section) and its
bundled n8n-public-api-openapi.yml. In short:

- GET /healthz, /healthz/readiness, /api/v1/openapi.yml and /rest/settings need no key;
- under /api/v1: 404 {"message":"not found"} and 405 {"message":"POST method not
  allowed"} first, then X-N8N-API-KEY (401 with its two bodies, 403 for a key without
  scopes), then query validation (400), then the handler;
- workflows with the offset cursor, activate and deactivate; executions newest first
  with the lastId cursor, running ones hidden unless status=running;
- /webhook/{path} starts a run of an active workflow whose webhook node has that path
  and method (the exact 404 bodies otherwise); the run walks new -> running -> its end;
- any other GET that accepts */* or text/html gets the editor's index.html (200).

Run it: python3 tests/fakes/fake_n8n.py --port 0 --key SECRET [--workflows 251] ...
"""

import argparse
import base64
import json
import re
import sys
import time

import fakebase
from fakebase import FakeServer, Response, iso_ms, parse_time, stable_id, BASE_TIME

API = "/api/v1"
JSON = "application/json; charset=utf-8"
PROD_HINT = ("The workflow must be active for a production URL to run successfully. You can "
             "activate the workflow using the toggle in the top-right of the editor. Note that "
             "unlike test URL calls, production URL calls aren't shown on the canvas (only in "
             "the executions list)")
TEST_HINT = ("Click the 'Execute workflow' button on the canvas, then try again. (In test mode, "
             "the webhook only works for one call after you click this button)")
NO_TRIGGER = ("Workflow has no node to start the workflow - at least one trigger, poller or "
              "webhook node is required")
WEBHOOK_TYPE = "n8n-nodes-base.webhook"
STATUS_FILTER = ("canceled", "error", "running", "success", "waiting")

# The public API's routes (n8n-public-api-openapi.yml, 1.123.x): path template -> methods.
ROUTES = [
    ("/audit", {"POST"}),
    ("/credentials", {"POST"}),
    ("/credentials/{id}", {"DELETE"}),
    ("/credentials/schema/{credentialTypeName}", {"GET"}),
    ("/credentials/{id}/transfer", {"PUT"}),
    ("/executions", {"GET"}),
    ("/executions/{id}", {"GET", "DELETE"}),
    ("/executions/{id}/retry", {"POST"}),
    ("/tags", {"POST", "GET"}),
    ("/tags/{id}", {"GET", "DELETE", "PUT"}),
    ("/workflows", {"POST", "GET"}),
    ("/workflows/{id}", {"GET", "DELETE", "PUT"}),
    ("/workflows/{id}/{versionId}", {"GET"}),
    ("/workflows/{id}/activate", {"POST"}),
    ("/workflows/{id}/deactivate", {"POST"}),
    ("/workflows/{id}/transfer", {"PUT"}),
    ("/workflows/{id}/tags", {"GET", "PUT"}),
    ("/users", {"GET", "POST"}),
    ("/users/{id}", {"GET", "DELETE"}),
    ("/users/{id}/role", {"PATCH"}),
    ("/source-control/pull", {"POST"}),
    ("/variables", {"POST", "GET"}),
    ("/variables/{id}", {"DELETE", "PUT"}),
    ("/projects", {"POST", "GET"}),
    ("/projects/{projectId}", {"DELETE", "PUT"}),
    ("/projects/{projectId}/users", {"POST"}),
    ("/projects/{projectId}/users/{userId}", {"DELETE", "PATCH"}),
]
_ROUTE_RE = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", t) + "$"), t, m) for t, m in ROUTES]

FINAL = {"success": "success", "failed": "error", "crashed": "crashed",
         "cancelled": "canceled", "skipped": "success", "paused": "waiting",
         "unknown": "unknown"}
TERMINAL = {"success", "error", "crashed", "canceled", "unknown"}


class Execution:
    """One execution: a run started through a webhook (run set), or a past one given by
    the fixture (fixed set)."""

    def __init__(self, eid, workflow_id, run=None, fixed=None, mode="webhook"):
        self.id = eid
        self.workflow_id = workflow_id
        self.run = run
        self.fixed = fixed
        self.mode = mode

    def status(self, observe=False):
        if self.fixed is not None:
            return self.fixed["status"]
        i = self.run.observe() if observe else self.run.index()
        return self.run.steps[i]

    def view(self, status, include_data=False):
        if self.fixed is not None:
            started, stopped = self.fixed["startedAt"], self.fixed["stoppedAt"]
        else:
            r = self.run
            i = r.index()
            started = iso_ms(r.time_of(1)) if i >= 1 and r.time_of(1) else None
            stopped = iso_ms(r.time_of(i)) if status in TERMINAL | {"waiting"} and i > 0 else None
        e = {"id": str(self.id), "finished": status == "success", "mode": self.mode,
             "retryOf": None, "retrySuccessId": None, "startedAt": started,
             "stoppedAt": stopped, "workflowId": str(self.workflow_id), "waitTill": None,
             "status": status, "customData": {}}
        if include_data:
            e["data"] = {"version": 1, "startData": {}, "resultData": {
                "runData": {}, "lastNodeExecuted": "Webhook" if status != "new" else None}}
        return e


class FakeN8n(FakeServer):
    engine = "n8n"
    json_type = JSON
    html_title = "n8n.io - Workflow Automation"
    server_header = None
    version = "1.123.0"  # not served: n8n has no version endpoint (reported as unknown)
    CONFIG_KEYS = ("forbidden_keys",)

    def __init__(self, workflows=None, archived=None, executions=None, fixture=None,
                 forbidden_keys=(), **kw):
        super().__init__(**kw)
        self.forbidden_keys = [str(k) for k in forbidden_keys]
        if fixture is None:
            gen = {"workflows": 260 if workflows is None else workflows,
                   "archived": (3 if workflows is None else 0) if archived is None else archived,
                   "executions": executions or 0}
            fixture = {"generate": gen}
        self.load(fixture)

    # --- data ------------------------------------------------------------------------

    def load(self, fixture):
        """fixture: {"workflows": [partial workflow...], "generate": {"workflows": N,
        "archived": M, "executions": K}, "executions": [partial execution...]}"""
        with self.lock:
            self.workflows = []
            self.by_id = {}
            self.executions = {}
            self.runs = {}
            self.next_exec = 1
            specs = list(fixture.get("workflows", []))
            gen = fixture.get("generate", {})
            n = len(specs)
            for i in range(int(gen.get("workflows", 0))):
                specs.append(generated_workflow(n + i))
            for j in range(int(gen.get("archived", 0))):
                specs.append(dict(generated_workflow(n + len(specs) + j), isArchived=True,
                                  active=False, name="Archived %03d" % (j + 1)))
            for i, spec in enumerate(specs):
                wf = make_workflow(spec, i)
                if wf["id"] in self.by_id:
                    raise ValueError("two workflows with id %s" % wf["id"])
                self.workflows.append(wf)
                self.by_id[wf["id"]] = wf
            past = list(fixture.get("executions", []))
            k = int(gen.get("executions", 0))
            ids = [w["id"] for w in self.workflows] or ["0"]
            for i in range(k):
                past.append({"workflowId": ids[i % len(ids)],
                             "status": ("success", "error", "success", "canceled")[i % 4]})
            for i, spec in enumerate(past):
                eid = int(spec.get("id", self.next_exec))
                t = parse_time(spec["startedAt"]) if "startedAt" in spec else BASE_TIME + 3600 * i
                fixed = {"status": spec.get("status", "success"), "startedAt": iso_ms(t),
                         "stoppedAt": iso_ms(t + 2)}
                self.executions[eid] = Execution(eid, spec.get("workflowId", ids[0]),
                                                 fixed=fixed, mode=spec.get("mode", "trigger"))
                self.next_exec = max(self.next_exec, eid + 1)

    def steps_for(self, outcome):
        if outcome == "queued":
            return ["new"]
        if outcome == "running":
            return ["new", "running"]
        return ["new", "running", FINAL[outcome]]

    def is_terminal(self, step):
        return step in TERMINAL

    def run_of(self, run_id):
        return self.executions[int(run_id)].run

    def run_view(self, run_id):
        v = super().run_view(run_id)
        v["workflowId"] = self.executions[int(run_id)].workflow_id
        return v

    def error_response(self, status):
        return self.json(status, {"message": "Service Unavailable" if status == 503
                                  else "Too Many Requests"})

    # --- routing ---------------------------------------------------------------------

    def route(self, req):
        p = req.path
        if p == "/healthz" and req.method == "GET":
            return self.json(200, {"status": "ok"})
        if p == "/healthz/readiness" and req.method == "GET":
            return self.json(200, {"status": "ok"}) if self.ready else \
                self.json(503, {"status": "error"})
        if p == API + "/openapi.yml" and req.method == "GET":
            return Response(200, OPENAPI_STUB, "text/yaml; charset=UTF-8")
        if p.startswith(API + "/") or p == API:
            with self.lock:
                return self.api(req, p[len(API):])
        if p.startswith("/webhook/"):
            with self.lock:
                return self.webhook(req, p[len("/webhook/"):])
        if p.startswith("/webhook-test/"):
            path = p[len("/webhook-test/"):]
            return self.json(404, {"code": 404, "message": 'The requested webhook "%s %s" is '
                                   'not registered.' % (req.method, path), "hint": TEST_HINT})
        if p == "/rest/settings" and req.method == "GET":
            return self.json(200, {"data": {
                "endpointWebhook": "webhook", "endpointWebhookTest": "webhook-test",
                "urlBaseWebhook": self.url + "/", "urlBaseEditor": self.url,
                "publicApi": {"enabled": True, "latestVersion": 1, "path": "api"}}})
        accept = req.header("Accept") or "*/*"
        if req.method == "GET" and ("*/*" in accept or "text/html" in accept):
            return Response(200, self.index_html(), "text/html; charset=utf-8")
        return express_404(req)

    def api(self, req, rel):
        rel = rel or "/"
        matched = [(t, m) for rx, t, m in _ROUTE_RE if rx.match(rel)]
        if not matched:
            return self.json(404, {"message": "not found"})
        for t, methods in matched:
            if req.method in methods:
                template = t
                break
        else:
            return self.json(405, {"message": "%s method not allowed" % req.method})
        key = req.header("X-N8N-API-KEY")
        if key is None:
            return self.json(401, {"message": "'X-N8N-API-KEY' header required"})
        if key in self.forbidden_keys:
            return self.json(403, {"message": "Forbidden"})
        if key not in self.keys:
            return self.json(401, {"message": "unauthorized"})
        parts = rel.strip("/").split("/")
        handler = {
            ("GET", "/workflows"): self.list_workflows,
            ("GET", "/workflows/{id}"): self.get_workflow,
            ("POST", "/workflows/{id}/activate"): self.activate,
            ("POST", "/workflows/{id}/deactivate"): self.deactivate,
            ("GET", "/executions"): self.list_executions,
            ("GET", "/executions/{id}"): self.get_execution,
        }.get((req.method, template))
        if handler is None:
            return self.json(501, {"message": "not implemented by the fake: %s %s"
                                   % (req.method, template)})
        return handler(req, parts)

    # --- workflows -------------------------------------------------------------------

    def list_workflows(self, req, parts):
        errors = []
        limit = query_number(req, "limit", errors)
        active = query_bool(req, "active", errors)
        exclude_pinned = query_bool(req, "excludePinnedData", errors)
        if errors:
            return self.json(400, {"message": ", ".join(errors)})
        offset = 0
        cursor = req.q("cursor")
        if cursor:
            dec = decode_cursor(cursor)
            if dec is None:
                return self.json(400, {"message": "An invalid cursor was provided"})
            if "offset" in dec:
                offset = int(dec.get("offset") or 0)
            limit = dec.get("limit", limit)
        limit = 100 if limit is None else int(limit)
        rows = self.workflows
        if active is not None:
            rows = [w for w in rows if w["active"] == active]
        name = req.q("name")
        if name:
            rows = [w for w in rows if name.lower() in w["name"].lower()]
        tags = [t for t in (req.q("tags") or "").split(",") if t]
        if tags:
            rows = [w for w in rows if {t["name"] for t in w["tags"]} & set(tags)]
        total = len(rows)
        page = rows[offset:] if limit <= 0 else rows[offset:offset + limit]
        nxt = None
        if total > offset + limit:
            nxt = fakebase.b64({"limit": limit, "offset": offset + limit})
        data = [workflow_view(w, exclude_pinned) for w in page]
        return self.json(200, {"data": data, "nextCursor": nxt})

    def get_workflow(self, req, parts):
        wf = self.by_id.get(parts[1])
        if wf is None:
            return self.json(404, {"message": "Not Found"})
        errors = []
        exclude = query_bool(req, "excludePinnedData", errors)
        if errors:
            return self.json(400, {"message": ", ".join(errors)})
        return self.json(200, workflow_view(wf, exclude))

    def activate(self, req, parts):
        wf = self.by_id.get(parts[1])
        if wf is None:
            return self.json(404, {"message": "Not Found"})
        if not any(is_trigger(n) for n in wf["nodes"]):
            return self.json(400, {"message": NO_TRIGGER})
        if not wf["active"]:
            wf["active"] = True
            wf["updatedAt"] = iso_ms(time.time())
        return self.json(200, workflow_view(wf, False))

    def deactivate(self, req, parts):
        wf = self.by_id.get(parts[1])
        if wf is None:
            return self.json(404, {"message": "Not Found"})
        if wf["active"]:
            wf["active"] = False
            wf["updatedAt"] = iso_ms(time.time())
        return self.json(200, workflow_view(wf, False))

    # --- executions ------------------------------------------------------------------

    def list_executions(self, req, parts):
        errors = []
        limit = query_number(req, "limit", errors)
        include_data = query_bool(req, "includeData", errors)
        status = req.q("status")
        if status is not None and status not in STATUS_FILTER:
            errors.append("request/query/status must be equal to one of the allowed values: "
                          + ", ".join(STATUS_FILTER))
        if errors:
            return self.json(400, {"message": ", ".join(errors)})
        last_id = None
        cursor = req.q("cursor")
        if cursor:
            dec = decode_cursor(cursor)
            if dec is None:
                return self.json(400, {"message": "An invalid cursor was provided"})
            if "lastId" in dec:
                last_id = dec["lastId"]
            limit = dec.get("limit", limit)
        limit = 100 if limit is None else int(limit)
        wid = req.q("workflowId")
        if wid is not None and wid not in self.by_id:
            return self.json(200, {"data": [], "nextCursor": None})
        rows = []
        for e in sorted(self.executions.values(), key=lambda x: -x.id):
            if wid is not None and str(e.workflow_id) != wid:
                continue
            rows.append((e, e.status(observe=True)))
        want = {"error": {"error", "crashed"}}.get(status, {status})
        if status is not None:
            rows = [(e, s) for e, s in rows if s in want]
        if status != "running":
            rows = [(e, s) for e, s in rows if s != "running"]

        def below(lid):
            try:
                n = int(lid)
            except (TypeError, ValueError):
                return rows
            return [(e, s) for e, s in rows if e.id < n]
        if last_id is not None:
            rows = below(last_id)
        page = rows if limit <= 0 else rows[:limit]
        new_last = str(page[-1][0].id) if page else "0"
        more = len(below(new_last))
        nxt = fakebase.b64({"lastId": new_last, "limit": limit}) if more else None
        data = [e.view(s, bool(include_data)) for e, s in page]
        return self.json(200, {"data": data, "nextCursor": nxt})

    def get_execution(self, req, parts):
        eid = parts[1]
        errors = []
        if not re.fullmatch(r"-?\d+(\.\d+)?", eid):
            errors.append("request/params/id must be number")
        include_data = query_bool(req, "includeData", errors)
        if errors:
            return self.json(400, {"message": ", ".join(errors)})
        e = self.executions.get(int(float(eid)))
        if e is None:
            return self.json(404, {"message": "Not Found"})
        return self.json(200, e.view(e.status(observe=True), bool(include_data)))

    # --- webhooks --------------------------------------------------------------------

    def webhook(self, req, path):
        path = path.strip("/")
        hooks = []  # (workflow, node) of active workflows with a webhook on this path
        for wf in self.workflows:
            if not wf["active"] or wf["isArchived"]:
                continue
            for n in wf["nodes"]:
                if n["type"] == WEBHOOK_TYPE and \
                        str(n["parameters"].get("path", "")).strip("/") == path:
                    hooks.append((wf, n))
        if not hooks:
            return self.json(404, {"code": 404, "message": 'The requested webhook "%s %s" is '
                                   'not registered.' % (req.method, path), "hint": PROD_HINT})
        for wf, node in hooks:
            if node["parameters"].get("httpMethod", "GET") == req.method:
                break
        else:
            methods = sorted({n["parameters"].get("httpMethod", "GET") for _, n in hooks})
            alts = methods[0] if len(methods) == 1 else \
                "%s or %s" % (", ".join(methods[:-1]), methods[-1])
            return self.json(404, {"code": 404, "message": "This webhook is not registered for "
                                   "%s requests. Did you mean to make a %s request?"
                                   % (req.method, alts)})
        outcome = self.next_outcome(wf.get("_outcome"))
        run = self.new_run(self.steps_for(outcome))
        eid = self.next_exec
        self.next_exec += 1
        self.executions[eid] = Execution(eid, wf["id"], run=run)
        self.runs[str(eid)] = self.executions[eid]
        mode = node["parameters"].get("responseMode", "onReceived")
        if mode in ("lastNode", "responseNode"):
            return self._answer_after_run(run, wf)
        return self.json(200, {"message": "Workflow was started"})

    def _answer_after_run(self, run, wf):
        """responseMode lastNode: the answer comes when the run ends (bounded: 30 s)."""
        deadline = time.time() + 30
        self.lock.release()
        try:
            while time.time() < deadline and not self._stopping.is_set():
                with self.lock:
                    if run.final():
                        break
                self._stopping.wait(0.01)
        finally:
            self.lock.acquire()
        status = run.steps[run.index()]
        if status == "success":
            return self.json(200, {"ok": True, "workflowId": wf["id"]})
        return self.json(500, {"code": 0, "message": "Error in workflow"})


# --- workflows as n8n stores them --------------------------------------------------------------

def generated_workflow(i):
    """Workflow i of a generated set, in a cycle of five: a POST webhook (active), a
    webhook without httpMethod, i.e. GET (active), a manual trigger only (inactive,
    cannot be activated), a schedule trigger (active, no webhook), a POST webhook
    (inactive)."""
    k = i % 5
    spec = {"name": "Workflow %03d" % (i + 1)}
    if k in (0, 4):
        spec.update(trigger="webhook", active=(k == 0),
                    webhook={"path": "hook-%03d" % (i + 1), "httpMethod": "POST"})
    elif k == 1:
        spec.update(trigger="webhook", active=True, webhook={"path": "hook-%03d" % (i + 1)})
    elif k == 2:
        spec.update(trigger="manual", active=False)
    else:
        spec.update(trigger="schedule", active=True)
    return spec


def make_workflow(spec, i):
    """A whole workflow from a partial one: id, name, active, isArchived, updatedAt (or
    updated_at), createdAt, tags (names), trigger (webhook|schedule|manual), webhook
    ({path, httpMethod?, responseMode?}), nodes (instead of trigger/webhook), outcome."""
    wid = str(spec.get("id") or stable_id("n8n-workflow", i))
    webhook = spec.get("webhook")
    trigger = spec.get("trigger") or ("webhook" if webhook else "manual")
    nodes = spec.get("nodes")
    if nodes is None:
        nodes = [trigger_node(trigger, webhook, i), {
            "parameters": {}, "id": fakebase.stable_uuid("n8n-node-noop", i),
            "name": "No Operation, do nothing", "type": "n8n-nodes-base.noOp",
            "typeVersion": 1, "position": [220, 0]}]
    upd = spec.get("updatedAt") or spec.get("updated_at")
    updated = parse_time(upd) if upd is not None else BASE_TIME + 60 * i
    crt = spec.get("createdAt")
    created = parse_time(crt) if crt is not None else min(updated, BASE_TIME + 30 * i)
    active = bool(spec.get("active", any(is_trigger(n) for n in nodes)))
    tags = [{"id": fakebase.stable_id("n8n-tag", t), "name": t, "createdAt": iso_ms(BASE_TIME),
             "updatedAt": iso_ms(BASE_TIME)} for t in spec.get("tags", [])]
    conns = {}
    if len(nodes) > 1:
        conns = {nodes[0]["name"]: {"main": [[{"node": nodes[1]["name"], "type": "main",
                                               "index": 0}]]}}
    return {"id": wid, "name": str(spec.get("name") or "Workflow %03d" % (i + 1)),
            "active": active, "isArchived": bool(spec.get("isArchived", False)),
            "createdAt": iso_ms(created), "updatedAt": iso_ms(updated), "nodes": nodes,
            "connections": conns, "tags": tags,
            "versionId": fakebase.stable_uuid("n8n-version", wid),
            "_outcome": spec.get("outcome")}


def trigger_node(trigger, webhook, i):
    nid = fakebase.stable_uuid("n8n-node", i)
    if trigger == "webhook":
        webhook = dict(webhook or {})
        params = {}
        if webhook.get("httpMethod"):
            params["httpMethod"] = webhook["httpMethod"]
        params["path"] = webhook.get("path") or fakebase.stable_uuid("n8n-hook", i)
        if webhook.get("responseMode"):
            params["responseMode"] = webhook["responseMode"]
        params["options"] = {}
        return {"parameters": params, "id": nid, "name": "Webhook", "type": WEBHOOK_TYPE,
                "typeVersion": 2, "position": [0, 0], "webhookId": params["path"]}
    if trigger == "schedule":
        return {"parameters": {"rule": {"interval": [{}]}}, "id": nid, "name": "Schedule Trigger",
                "type": "n8n-nodes-base.scheduleTrigger", "typeVersion": 1.2, "position": [0, 0]}
    return {"parameters": {}, "id": nid, "name": "When clicking \u2018Execute workflow\u2019",
            "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0]}


def is_trigger(node):
    t = node.get("type", "")
    return t == WEBHOOK_TYPE or (t.endswith("Trigger") and t != "n8n-nodes-base.manualTrigger")


def workflow_view(wf, exclude_pinned):
    active = wf["active"]
    nodes = wf["nodes"]
    v = {"createdAt": wf["createdAt"], "updatedAt": wf["updatedAt"], "id": wf["id"],
         "name": wf["name"], "description": None, "active": active,
         "isArchived": wf["isArchived"], "nodes": nodes, "connections": wf["connections"],
         "settings": {"executionOrder": "v1"}, "staticData": None, "meta": None,
         "pinData": {}, "versionId": wf["versionId"],
         "activeVersionId": wf["versionId"] if active else None,
         "triggerCount": sum(1 for n in nodes if is_trigger(n)) if active else 0,
         "shared": [{"createdAt": wf["createdAt"], "updatedAt": wf["updatedAt"],
                     "role": "workflow:owner", "workflowId": wf["id"],
                     "projectId": "fakeProject00001"}],
         "tags": wf["tags"],
         "activeVersion": {"versionId": wf["versionId"], "workflowId": wf["id"],
                           "nodes": nodes, "connections": wf["connections"],
                           "authors": "Fake Owner", "createdAt": wf["updatedAt"],
                           "updatedAt": wf["updatedAt"]} if active else None}
    if exclude_pinned:
        del v["pinData"]
    return v


# --- request details as n8n's validator and middlewares see them -------------------------------

def query_number(req, name, errors):
    v = req.q(name)
    if v is None:
        return None
    try:
        n = float(v)
    except ValueError:
        errors.append("request/query/%s must be number" % name)
        return None
    if name == "limit" and n > 250:
        errors.append("request/query/limit must be <= 250")
        return None
    return int(n)


def query_bool(req, name, errors):
    v = req.q(name)
    if v is None:
        return None
    if v in ("true", "false"):
        return v == "true"
    errors.append("request/query/%s must be boolean" % name)
    return None


def decode_cursor(cursor):
    """As n8n's validCursor: Buffer.from(c, 'base64') (lenient) then JSON; None when it
    cannot be decoded or is not an object."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_")
        dec = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return dec if isinstance(dec, dict) else None


def express_404(req):
    body = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>Error</title>\n</head>\n<body>\n<pre>Cannot %s %s</pre>\n</body>\n</html>\n"
            % (req.method, req.path)).encode()
    return Response(404, body, "text/html; charset=utf-8",
                    [("Content-Security-Policy", "default-src 'none'"),
                     ("X-Content-Type-Options", "nosniff")])


OPENAPI_STUB = (b"---\nopenapi: 3.0.0\ninfo:\n  title: n8n Public API\n"
                b"  description: n8n Public API\n  version: 1.1.1\nservers:\n  - url: /api/v1\n"
                b"security:\n  - ApiKeyAuth: []\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description="A fake n8n for wfreg's tests.")
    fakebase.common_arguments(parser)
    parser.add_argument("--workflows", type=int, help="generate N workflows (default 260)")
    parser.add_argument("--archived", type=int, help="and M archived ones (default 3, or 0 "
                                                     "with --workflows)")
    parser.add_argument("--executions", type=int, default=0, help="K past executions")
    parser.add_argument("--forbidden-key", action="append", default=[],
                        help="a key that is known but has no scopes (403)")
    args = parser.parse_args(argv)
    kw = fakebase.common_kwargs(args)
    if "fixture" not in kw:
        kw.update(workflows=args.workflows, archived=args.archived, executions=args.executions)
    kw["forbidden_keys"] = args.forbidden_key
    kw["max_seconds"] = args.max_seconds
    return fakebase.run_main(FakeN8n, parser, kw)


if __name__ == "__main__":
    sys.exit(main())
