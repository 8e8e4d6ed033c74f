#!/usr/bin/env python3
"""fake_prefect.py: a fake Prefect server (3.x REST API) or Prefect Cloud for wfreg's tests.

What it answers, and where each behaviour comes from, is in tests/fakes/README.md; the
engine itself is described in the shared engine-apis/README.md ("Prefect" section) and
prefect-server-openapi.json. In short:

- the API is under /api (self-hosted) or /api/accounts/{a}/workspaces/{w} (Cloud); the
  registry stores that URL (base_url) and every path below is relative to it;
- auth "none" (the default server), "basic" (PREFECT_SERVER_API_AUTH_STRING: 401
  {"exception_message":"Unauthorized"} before routing, GET /health and /ready exempt) or
  "cloud" (Bearer);
- /health (true), /ready, /version ("0.8.4"), /admin/version (the release; not on Cloud);
- POST /flows/filter and /deployments/filter: bare arrays, limit <= 200, offset, sort;
- POST /deployments/{id}/create_flow_run (201, 200 on an idempotency-key replay, 422 for
  extra fields or no body, 404 for an unknown deployment) and GET /flow_runs/{id}; runs
  walk SCHEDULED -> PENDING -> RUNNING -> COMPLETED | FAILED | CRASHED | CANCELLING ->
  CANCELLED, or stay SCHEDULED and become "Late" with no worker;
- a path with a trailing slash is redirected (307) to the path without it; any GET
  outside /api gets the UI's index.html (200).

Run it: python3 tests/fakes/fake_prefect.py --port 0 [--auth basic --key user:pass]
"""

import argparse
import base64
import json
import re
import sys
import time
import uuid

import fakebase
from fakebase import FakeServer, Response, iso_us, parse_time, stable_uuid, BASE_TIME

SORTS = ("CREATED_DESC", "UPDATED_DESC", "NAME_ASC", "NAME_DESC")
RUN_SORTS = ("ID_DESC", "START_TIME_ASC", "START_TIME_DESC", "EXPECTED_START_TIME_ASC",
             "EXPECTED_START_TIME_DESC", "NAME_ASC", "NAME_DESC", "NEXT_SCHEDULED_START_TIME_ASC",
             "END_TIME_DESC")
CREATE_FIELDS = ("state", "name", "parameters", "enforce_parameter_schema", "context",
                 "infrastructure_document_id", "empirical_policy", "tags", "idempotency_key",
                 "labels", "parent_task_run_id", "work_queue_name", "job_variables")
SCHEDULED, PENDING, RUNNING = ("SCHEDULED", "Scheduled"), ("PENDING", "Pending"), \
    ("RUNNING", "Running")
FINAL = {"success": ("COMPLETED", "Completed"), "failed": ("FAILED", "Failed"),
         "crashed": ("CRASHED", "Crashed"), "cancelled": ("CANCELLED", "Cancelled"),
         "skipped": ("COMPLETED", "Completed"), "paused": ("PAUSED", "Paused"),
         "unknown": ("CRASHED", "Crashed")}
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
ADJECTIVES = ("crimson", "amber", "quiet", "brave", "lucid", "mellow", "nimble", "rustic")
ANIMALS = ("otter", "heron", "lynx", "marmot", "ibis", "gecko", "puffin", "tapir")
UUID_PATH = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CLOUD_RE = re.compile(r"^/api/accounts/([^/]+)/workspaces/([^/]+)(/.*)?$")


class FlowRun:
    def __init__(self, data, run):
        self.data = data  # the fields fixed at creation
        self.run = run


class FakePrefect(FakeServer):
    engine = "prefect"
    json_type = "application/json"
    html_title = "Prefect Server"
    server_header = "uvicorn"
    version = "3.4.11"
    CONFIG_KEYS = ("auth", "account", "workspace", "late_after_ms", "csrf", "uuid_errors",
                   "exempt", "default_limit", "unstable_ties")

    def __init__(self, auth="none", account=None, workspace=None, deployments=None,
                 flows=None, fixture=None, late_after_ms=200, csrf=False, uuid_errors=422,
                 exempt="exact", default_limit=200, unstable_ties=False, **kw):
        kw.setdefault("keys", ("user:pass",) if auth == "basic" else ("pnu_fakekey",))
        super().__init__(**kw)
        if auth not in ("none", "basic", "cloud"):
            raise ValueError("auth is none, basic or cloud")
        self.auth = auth
        self.account = account or stable_uuid("prefect-account", 0)
        self.workspace = workspace or stable_uuid("prefect-workspace", 0)
        self.late_after_ms = int(late_after_ms)
        self.csrf = bool(csrf)
        self.csrf_tokens = {}
        self.uuid_errors = int(uuid_errors)
        self.exempt = exempt
        self.default_limit = int(default_limit)
        self.unstable_ties = bool(unstable_ties)
        self._tie_salt = 0
        if fixture is None:
            fixture = {"generate": {"deployments": 205 if deployments is None else deployments,
                                    "flows": flows}}
        self.load(fixture)

    @property
    def prefix(self):
        if self.auth == "cloud":
            return "/api/accounts/%s/workspaces/%s" % (self.account, self.workspace)
        return "/api"

    @property
    def base_url(self):
        return self.url + self.prefix

    # --- data ------------------------------------------------------------------------

    def load(self, fixture):
        """fixture: {"flows": [partial flow...], "deployments": [partial deployment...],
        "generate": {"deployments": N, "flows": F}}. A generated set has F flows (default
        min(N, 10)); every 50th deployment from the second on takes the name of the one
        before it, under another flow."""
        with self.lock:
            self.flows, self.flow_by_id = [], {}
            self.deployments, self.dep_by_id = [], {}
            self.runs = {}
            self.idem = {}
            for i, spec in enumerate(fixture.get("flows", [])):
                self._add_flow(spec, i)
            gen = fixture.get("generate", {})
            n = int(gen.get("deployments") or 0)
            nf = int(gen.get("flows") or max(1, min(n, 10)))
            if n and not fixture.get("flows"):
                for i in range(nf):
                    self._add_flow({"name": "flow-%02d" % i}, i)
            specs = list(fixture.get("deployments", []))
            for i in range(n):
                name = "deployment-%04d" % i
                if i % 50 == 1 and nf > 1:
                    name = "deployment-%04d" % (i - 1)
                specs.append({"name": name, "flow": self.flows[i % len(self.flows)]["id"]})
            for i, spec in enumerate(specs):
                self._add_deployment(spec, i)

    def _add_flow(self, spec, i):
        t = parse_time(spec["created"]) if "created" in spec else BASE_TIME + 60 * i
        f = {"id": str(spec.get("id") or stable_uuid("prefect-flow", i)),
             "created": iso_us(t), "updated": iso_us(parse_time(spec.get("updated", t))),
             "name": spec.get("name") or "flow-%02d" % i, "tags": spec.get("tags", []),
             "labels": spec.get("labels", {})}
        self.flows.append(f)
        self.flow_by_id[f["id"]] = f
        return f

    def _add_deployment(self, spec, i):
        flow_ref = spec.get("flow") or spec.get("flow_id")
        flow = self.flow_by_id.get(flow_ref) or next(
            (f for f in self.flows if f["name"] == flow_ref), None)
        if flow is None:
            flow = self._add_flow({"name": flow_ref or "flow-for-%d" % i}, len(self.flows))
        created = parse_time(spec["created"]) if "created" in spec else BASE_TIME + 120 * i
        upd = spec.get("updated") or spec.get("updated_at")
        updated = parse_time(upd) if upd is not None else created + 30
        active = spec.get("active", not spec.get("paused", False))
        d = {"id": str(spec.get("id") or stable_uuid("prefect-deployment", i)),
             "created": iso_us(created), "updated": iso_us(updated),
             "name": spec.get("name") or "deployment-%04d" % i,
             "version": spec.get("version"), "description": spec.get("description"),
             "flow_id": flow["id"], "paused": not active, "schedules": [],
             "concurrency_limit": None, "global_concurrency_limit": None,
             "concurrency_options": None, "job_variables": {},
             "parameters": spec.get("parameters", {"x": 1}), "tags": spec.get("tags", []),
             "labels": {"prefect.flow.id": flow["id"]}, "work_queue_name": "default",
             "work_queue_id": stable_uuid("prefect-queue", 0), "last_polled": None,
             "parameter_openapi_schema": spec.get("parameter_openapi_schema", {
                 "type": "object", "title": "Parameters",
                 "properties": {"x": {"type": "integer", "title": "x", "position": 0}}}),
             "path": ".", "pull_steps": None, "entrypoint": "flows.py:main",
             "storage_document_id": None, "infrastructure_document_id": None,
             "created_by": None, "updated_by": None, "work_pool_name": "default-pool",
             "status": spec.get("status", "READY"),
             "enforce_parameter_schema": bool(spec.get("enforce_parameter_schema", True))}
        d["_outcome"] = spec.get("outcome")
        if d["id"] in self.dep_by_id:
            raise ValueError("two deployments with id %s" % d["id"])
        self.deployments.append(d)
        self.dep_by_id[d["id"]] = d

    def steps_for(self, outcome):
        if outcome == "queued":
            return [SCHEDULED]
        if outcome == "running":
            return [SCHEDULED, PENDING, RUNNING]
        if outcome == "cancelled":
            return [SCHEDULED, PENDING, RUNNING, ("CANCELLING", "Cancelling"), FINAL[outcome]]
        return [SCHEDULED, PENDING, RUNNING, FINAL[outcome]]

    def is_terminal(self, step):
        return step[0] in TERMINAL

    def run_view(self, run_id):
        v = super().run_view(run_id)
        v["state"] = list(v["state"])
        v["steps"] = [list(s) for s in v["steps"]]
        return v

    def error_response(self, status):
        if status == 503:
            return self.json(503, {"exception_message": "Service Unavailable"})
        return self.json(status, {"detail": "Too Many Requests"})

    def _set_config(self, k, v):
        if k == "auth" and v not in ("none", "basic", "cloud"):
            raise ValueError("auth is none, basic or cloud")
        setattr(self, k, v)

    # --- routing ---------------------------------------------------------------------

    def route(self, req):
        p = req.path
        if not (p == "/api" or p.startswith("/api/")):
            if req.method in ("GET", "HEAD"):
                return Response(200, self.index_html(), "text/html; charset=utf-8")
            return Response(405, b"Method Not Allowed", "text/plain; charset=utf-8")
        with self.lock:
            if self.auth == "basic":
                deny = self._basic_auth(req, p[len("/api"):])
                if deny:
                    return deny
            if self.auth == "cloud":
                m = CLOUD_RE.match(p)
                if m is None:
                    if p in ("/api/health",) and req.method == "GET":
                        return self.json(200, True)
                    return self.json(404, {"detail": "Not Found"})
                if (m.group(1), m.group(2)) != (self.account, self.workspace):
                    return self.json(404, {"detail": "Not Found"})
                h = req.header("Authorization") or ""
                if not h.startswith("Bearer ") or h[len("Bearer "):] not in self.keys:
                    return self.json(401, {"detail": "Unauthorized"})
                rel = m.group(3) or "/"
            else:
                rel = p[len("/api"):] or "/"
            return self.api(req, rel)

    def _basic_auth(self, req, rel):
        """As token_validation in prefect/server/api/server.py."""
        if req.method == "GET":
            if self.exempt == "suffix" and rel.endswith(("health", "ready")):
                return None
            if self.exempt != "suffix" and rel in ("/health", "/ready"):
                return None
        h = req.header("Authorization")
        deny = self.json(401, {"exception_message": "Unauthorized"})
        if h is None:
            return deny
        try:
            scheme, creds = h.split()
            if scheme != "Basic":
                return deny
            decoded = base64.b64decode(creds).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return deny
        return None if decoded in self.keys else deny

    def api(self, req, rel):
        routes = [
            ("GET", r"/health", self.health), ("GET", r"/ready", self.ready_),
            ("GET", r"/version", self.api_version), ("GET", r"/admin/version", self.release),
            ("GET", r"/csrf-token", self.csrf_token),
            ("POST", r"/flows/filter", self.filter_flows), ("GET", r"/flows/{id}", self.get_flow),
            ("POST", r"/deployments/filter", self.filter_deployments),
            ("GET", r"/deployments/{id}", self.get_deployment),
            ("POST", r"/deployments/{id}/create_flow_run", self.create_flow_run),
            ("POST", r"/flow_runs/filter", self.filter_flow_runs),
            ("GET", r"/flow_runs/{id}", self.get_flow_run),
        ]
        if self.auth == "cloud":
            routes = [r for r in routes if r[1] != "/admin/version"]

        def match(path):
            found = []
            for method, tmpl, fn in routes:
                rx = "^" + tmpl.replace("{id}", "([^/]+)") + "$"
                m = re.match(rx, path)
                # current code declares {id:uuid}: Starlette's convertor then does not match
                # a non-UUID at all (404, or 405 where another route has the path)
                if m and self.uuid_errors == 404 and \
                        not all(UUID_PATH.match(g) for g in m.groups()):
                    m = None
                if m:
                    found.append((method, fn, m.groups()))
            return found
        found = match(rel)
        if not found and rel != "/" and rel.endswith("/") and match(rel.rstrip("/")):
            loc = self.url + req.path.rstrip("/") + ("?" + req.raw_query if req.raw_query else "")
            return Response(307, b"", None, [("location", loc)])
        if not found:
            return self.json(404, {"detail": "Not Found"})
        hit = [f for f in found if f[0] == req.method or (req.method == "HEAD" and f[0] == "GET")]
        if not hit:
            return self.json(405, {"detail": "Method Not Allowed"},
                             [("allow", ", ".join(sorted({f[0] for f in found})))])
        _, fn, groups = hit[0]
        v = req.header("X-PREFECT-API-VERSION")
        if v:
            try:
                parts = tuple(int(x) for x in v.split("."))
                if len(parts) != 3:
                    raise ValueError
            except ValueError:
                return self.json(400, {"detail": "Invalid X-PREFECT-API-VERSION header format."
                                       "Expected header in format 'x.y.z' but received %s" % v})
            if parts < (0, 8, 0):
                return self.json(400, {"detail": "The request specified API version %s but this "
                                       "server requires version 0.8.0 or higher." % v})
        if self.csrf and req.method not in ("GET", "HEAD", "OPTIONS"):
            tok, client = req.header("Prefect-Csrf-Token"), req.header("Prefect-Csrf-Client")
            if not tok or not client:
                return self.json(403, {"detail": "Missing CSRF token."})
            if self.csrf_tokens.get(client) != tok:
                return self.json(403, {"detail": "Invalid CSRF token or client identifier."})
        return fn(req, *groups)

    # --- small endpoints -------------------------------------------------------------

    def health(self, req):
        return self.json(200, True)

    def ready_(self, req):
        if self.ready:
            return self.json(200, {"message": "OK"})
        return self.json(503, {"message": "Database is not available"})

    def api_version(self, req):
        return self.json(200, "0.8.4")

    def release(self, req):
        return self.json(200, self.version)

    def csrf_token(self, req):
        client = req.q("client")
        if not client:
            return self.validation([{"type": "missing", "loc": ["query", "client"],
                                     "msg": "Field required", "input": None}], None)
        if not self.csrf:
            return self.json(422, {"detail": "CSRF protection is disabled."})
        tok = uuid.uuid4().hex
        self.csrf_tokens[client] = tok
        return self.json(200, {"token": tok, "client": client,
                               "expiration": iso_us(time.time() + 3600)})

    # --- errors as FastAPI and Prefect make them -------------------------------------

    def validation(self, errors, body):
        return self.json(422, {"exception_message": "Invalid request received.",
                               "exception_detail": errors, "request_body": body})

    def bad_uuid(self, value):
        if self.uuid_errors == 404:
            return self.json(404, {"detail": "Not Found"})
        return self.validation([{"type": "uuid_parsing", "loc": ["path", "id"],
                                 "msg": "Input should be a valid UUID, %s" % uuid_problem(value),
                                 "input": value, "ctx": {"error": uuid_problem(value)}}], None)

    def read_body(self, req, required):
        """(body, error response): the JSON body as FastAPI reads it."""
        raw = req.body
        ctype = (req.header("Content-Type") or "").split(";")[0].strip().lower()
        if not raw.strip():
            if required:
                return None, self.validation([{"type": "missing", "loc": ["body"],
                                               "msg": "Field required", "input": None}], None)
            return {}, None
        text = raw.decode("utf-8", "replace")
        if ctype and not (ctype == "application/json" or ctype.endswith("+json")):
            return None, self.validation([{
                "type": "model_attributes_type", "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": text}], text)
        try:
            body = json.loads(text)
        except ValueError as e:
            return None, self.validation([{"type": "json_invalid", "loc": ["body", e.pos],
                                           "msg": "JSON decode error", "input": {},
                                           "ctx": {"error": e.msg}}], text)
        if not isinstance(body, dict):
            return None, self.validation([{
                "type": "model_attributes_type" if required else "dict_type", "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from"
                if required else "Input should be a valid dictionary", "input": body}], body)
        return body, None

    def paging(self, body, sorts, default_sort):
        """(limit, offset, sort, error response) from a filter body."""
        errors = []
        limit = body.get("limit")
        if limit is not None:
            limit = as_int(limit)
            if limit is None:
                errors.append({"type": "int_parsing", "loc": ["body", "limit"],
                               "msg": "Input should be a valid integer, unable to parse string "
                                      "as an integer", "input": body.get("limit")})
            elif limit < 0:
                return None, None, None, self.json(422, {
                    "detail": "Invalid limit: must be greater than or equal to 0."})
            elif limit > self.default_limit:
                return None, None, None, self.json(422, {
                    "detail": "Invalid limit: must be less than or equal to %d."
                              % self.default_limit})
        offset = body.get("offset", 0)
        offset = 0 if offset is None else as_int(offset)
        if offset is None:
            errors.append({"type": "int_parsing", "loc": ["body", "offset"],
                           "msg": "Input should be a valid integer, unable to parse string as "
                                  "an integer", "input": body.get("offset")})
        elif offset < 0:
            errors.append({"type": "greater_than_equal", "loc": ["body", "offset"],
                           "msg": "Input should be greater than or equal to 0",
                           "input": body.get("offset"), "ctx": {"ge": 0}})
        sort = body.get("sort") or default_sort
        if sort not in sorts:
            exp = ", ".join("'%s'" % s for s in sorts[:-1]) + " or '%s'" % sorts[-1]
            errors.append({"type": "enum", "loc": ["body", "sort"],
                           "msg": "Input should be %s" % exp, "input": sort,
                           "ctx": {"expected": exp}})
        for k in ("flows", "flow_runs", "task_runs", "deployments", "work_pools",
                  "work_pool_queues"):
            if body.get(k) is not None and not isinstance(body[k], dict):
                errors.append({"type": "model_attributes_type", "loc": ["body", k],
                               "msg": "Input should be a valid dictionary or object to extract "
                                      "fields from", "input": body[k]})
        if errors:
            return None, None, None, self.validation(errors, body)
        return (self.default_limit if limit is None else limit), offset, sort, None

    # --- flows and deployments -------------------------------------------------------

    def _sorted(self, items, sort):
        def tie(x):
            if not self.unstable_ties:
                return ""
            return stable_uuid("tie-%d" % self._tie_salt, x["id"])
        if self.unstable_ties:
            self._tie_salt += 1
        if sort == "NAME_ASC":
            return sorted(items, key=lambda x: (x["name"], tie(x)))
        if sort == "NAME_DESC":
            return sorted(items, key=lambda x: (x["name"], tie(x)), reverse=True)
        key = "created" if sort == "CREATED_DESC" else "updated"
        return sorted(items, key=lambda x: (x[key], tie(x)), reverse=True)

    def filter_flows(self, req):
        body, err = self.read_body(req, False)
        if err:
            return err
        limit, offset, sort, err = self.paging(body, SORTS, "NAME_ASC")
        if err:
            return err
        rows = [f for f in self.flows if match_filter(f, (body.get("flows") or {}))]
        rows = self._sorted(rows, sort)
        return self.json(200, rows[offset:offset + limit])

    def get_flow(self, req, fid):
        if not is_uuid(fid):
            return self.bad_uuid(fid)
        f = self.flow_by_id.get(str(uuid.UUID(fid)))
        return self.json(200, f) if f else self.json(404, {"detail": "Flow not found"})

    def filter_deployments(self, req):
        body, err = self.read_body(req, False)
        if err:
            return err
        limit, offset, sort, err = self.paging(body, SORTS, "NAME_ASC")
        if err:
            return err
        dfilt, ffilt = body.get("deployments") or {}, body.get("flows") or {}
        rows = [d for d in self.deployments if match_filter(d, dfilt)
                and match_filter(self.flow_by_id[d["flow_id"]], ffilt)]
        rows = self._sorted(rows, sort)
        return self.json(200, [public(d) for d in rows[offset:offset + limit]])

    def get_deployment(self, req, did):
        if not is_uuid(did):
            return self.bad_uuid(did)
        d = self.dep_by_id.get(str(uuid.UUID(did)))
        return self.json(200, public(d)) if d else \
            self.json(404, {"detail": "Deployment not found"})

    # --- flow runs -------------------------------------------------------------------

    def create_flow_run(self, req, did):
        if not is_uuid(did):
            return self.bad_uuid(did)
        body, err = self.read_body(req, True)
        if err:
            return err
        errors = [{"type": "extra_forbidden", "loc": ["body", k],
                   "msg": "Extra inputs are not permitted", "input": v}
                  for k, v in body.items() if k not in CREATE_FIELDS]
        for k, typ, word in (("parameters", dict, "dict_type"), ("tags", list, "list_type"),
                             ("name", str, "string_type"), ("idempotency_key", str, "string_type"),
                             ("context", dict, "dict_type"), ("job_variables", dict, "dict_type")):
            if body.get(k) is not None and not isinstance(body[k], typ):
                msg = {"dict_type": "Input should be a valid dictionary",
                       "list_type": "Input should be a valid list",
                       "string_type": "Input should be a valid string"}[word]
                errors.append({"type": word, "loc": ["body", k], "msg": msg, "input": body[k]})
        if errors:
            return self.validation(errors, body)
        dep = self.dep_by_id.get(str(uuid.UUID(did)))
        if dep is None:
            return self.json(404, {"detail": "Deployment not found"})
        key = body.get("idempotency_key")
        if key is not None and (dep["id"], key) in self.idem:
            fr = self.runs[self.idem[(dep["id"], key)]]
            return self.json(200, self.flow_run_view(fr, observe=False))
        params = dict(dep["parameters"])
        params.update(body.get("parameters") or {})
        enforce = body.get("enforce_parameter_schema")
        enforce = dep["enforce_parameter_schema"] if enforce is None else enforce
        if enforce:
            missing = [p for p in dep["parameter_openapi_schema"].get("required", [])
                       if p not in params]
            if missing:
                return self.json(409, {"detail": "Error creating flow run: Validation failed. "
                                       "Failure reason: '%s' is a required property" % missing[0]})
        rid = str(uuid.uuid4())
        now = time.time()
        n = len(self.runs)
        data = {"id": rid, "created": iso_us(now),
                "name": body.get("name") or "%s-%s" % (ADJECTIVES[n % len(ADJECTIVES)],
                                                       ANIMALS[(n // 8) % len(ANIMALS)]),
                "flow_id": dep["flow_id"], "deployment_id": dep["id"],
                "deployment_version": dep["version"],
                "work_queue_name": body.get("work_queue_name") or dep["work_queue_name"],
                "work_queue_id": dep["work_queue_id"], "work_pool_name": dep["work_pool_name"],
                "work_pool_id": stable_uuid("prefect-pool", 0), "flow_version": None,
                "parameters": params, "idempotency_key": key,
                "context": body.get("context") or {},
                "empirical_policy": {"max_retries": 0, "retry_delay_seconds": 0.0,
                                     "retries": 0, "retry_delay": 0, "pause_keys": [],
                                     "resuming": False, "retry_type": None},
                "tags": list(dep["tags"]) + [t for t in body.get("tags") or []
                                             if t not in dep["tags"]],
                "labels": dict(dep["labels"], **(body.get("labels") or {}),
                               **{"prefect.deployment.id": dep["id"]}),
                "parent_task_run_id": body.get("parent_task_run_id"),
                "expected_start_time": iso_us(now), "auto_scheduled": False,
                "infrastructure_document_id": None, "infrastructure_pid": None,
                "created_by": None, "job_variables": body.get("job_variables") or {}}
        outcome = self.next_outcome(dep.get("_outcome"))
        fr = FlowRun(data, self.new_run(self.steps_for(outcome)))
        self.runs[rid] = fr
        if key is not None:
            self.idem[(dep["id"], key)] = rid
        return self.json(201, self.flow_run_view(fr, observe=True))

    def get_flow_run(self, req, rid):
        if not is_uuid(rid):
            return self.bad_uuid(rid)
        fr = self.runs.get(str(uuid.UUID(rid)))
        if fr is None:
            return self.json(404, {"detail": "Flow run not found"})
        return self.json(200, self.flow_run_view(fr, observe=True))

    def filter_flow_runs(self, req):
        body, err = self.read_body(req, False)
        if err:
            return err
        limit, offset, sort, err = self.paging(body, RUN_SORTS, "ID_DESC")
        if err:
            return err
        rfilt = body.get("flow_runs") or {}
        dfilt = body.get("deployments") or {}
        rows = []
        for fr in self.runs.values():
            d = self.dep_by_id.get(fr.data["deployment_id"])
            if match_filter(fr.data, rfilt) and match_filter(d or {}, dfilt):
                rows.append(fr)
        rows.sort(key=lambda fr: fr.data["created"], reverse=True)
        return self.json(200, [self.flow_run_view(fr, observe=False)
                               for fr in rows[offset:offset + limit]])

    def flow_run_view(self, fr, observe):
        run = fr.run
        i = run.observe() if observe else run.index()
        stype, sname = run.steps[i]
        now = time.time()
        if run.hold and stype == "SCHEDULED" and \
                (now - run.created) * 1000 >= self.late_after_ms:
            sname = "Late"
        running_at = next((j for j, s in enumerate(run.steps) if s[0] == "RUNNING"), None)
        start = run.time_of(running_at) if running_at is not None and i >= running_at else None
        end = run.time_of(i) if stype in TERMINAL else None
        total = ((end or now) - start) if start else 0.0
        sid = stable_uuid(fr.data["id"], "%d-%s" % (i, sname))
        t_state = run.time_of(i) or now
        details = {"flow_run_id": fr.data["id"], "task_run_id": None, "child_flow_run_id": None,
                   "scheduled_time": fr.data["expected_start_time"] if stype == "SCHEDULED"
                   else None, "cache_key": None, "cache_expiration": None, "deferred": False,
                   "untrackable_result": False, "pause_timeout": None, "pause_reschedule": False,
                   "pause_key": None, "run_input_keyset": None, "refresh_cache": None,
                   "retriable": None, "transition_id": stable_uuid("transition", sid),
                   "task_parameters_id": None, "traceparent": None,
                   "deployment_concurrency_lease_id": None}
        message = {"FAILED": "Flow run encountered an exception: RuntimeError: failed in the "
                             "fake", "CRASHED": "Flow run infrastructure exited with non-zero "
                                                "status code 1."}.get(stype)
        state = {"id": sid, "type": stype, "name": sname, "timestamp": iso_us(t_state),
                 "message": message, "data": None, "state_details": details}
        v = dict(fr.data)
        v.update({"updated": iso_us(t_state), "state_id": sid, "state_type": stype,
                  "state_name": sname, "run_count": 1 if start else 0,
                  "next_scheduled_start_time": fr.data["expected_start_time"]
                  if stype == "SCHEDULED" else None,
                  "start_time": iso_us(start) if start else None,
                  "end_time": iso_us(end) if end else None,
                  "total_run_time": round(total, 6), "estimated_run_time": round(total, 6),
                  "estimated_start_time_delta": round(max(0.0, (start or now) - run.created), 6)
                  if stype in ("SCHEDULED", "PENDING") or start else 0.0,
                  "state": state})
        return v


def public(d):
    return {k: v for k, v in d.items() if not k.startswith("_")}


def as_int(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"\s*-?\d+\s*", v):
        return int(v)
    return None


def is_uuid(s):
    try:
        uuid.UUID(s)
        return True
    except ValueError:
        return False


def uuid_problem(s):
    """Roughly what the uuid crate behind pydantic says (the text is the fake's)."""
    bad = re.search(r"[^0-9a-fA-F-]", s)
    if bad:
        return ("invalid character: expected an optional prefix of `urn:uuid:` followed by "
                "[0-9a-fA-F-], found `%s` at %d" % (bad.group(0), bad.start() + 1))
    return "invalid group count: expected 5, found %d" % (s.count("-") + 1) if "-" in s else \
        "invalid length: expected length 32 for simple format, found %d" % len(s)


def match_filter(obj, filt):
    """The few filter operators the fake knows: {field: {any_: [...]}} and {field: {like_:
    text}} and {field: {eq_: value}}; anything else matches everything."""
    for field, ops in (filt or {}).items():
        if not isinstance(ops, dict) or field not in obj:
            continue
        val = obj[field]
        if ops.get("any_") is not None and val not in ops["any_"]:
            return False
        if ops.get("like_") is not None and str(ops["like_"]).lower() not in str(val).lower():
            return False
        if "eq_" in ops and ops["eq_"] is not None and val != ops["eq_"]:
            return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description="A fake Prefect server or Cloud for wfreg's "
                                                 "tests.")
    fakebase.common_arguments(parser)
    parser.add_argument("--auth", choices=("none", "basic", "cloud"), default="none")
    parser.add_argument("--account")
    parser.add_argument("--workspace")
    parser.add_argument("--deployments", type=int, help="generate N deployments (default 205)")
    parser.add_argument("--flows", type=int, help="over F flows (default min(N, 10))")
    parser.add_argument("--late-after-ms", type=int, default=200)
    parser.add_argument("--csrf", action="store_true")
    args = parser.parse_args(argv)
    kw = fakebase.common_kwargs(args)
    if "fixture" not in kw:
        kw.update(deployments=args.deployments, flows=args.flows)
    kw.update(auth=args.auth, account=args.account, workspace=args.workspace,
              late_after_ms=args.late_after_ms, csrf=args.csrf, max_seconds=args.max_seconds)
    return fakebase.run_main(FakePrefect, parser, kw)


if __name__ == "__main__":
    sys.exit(main())
