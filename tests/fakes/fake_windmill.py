#!/usr/bin/env python3
"""fake_windmill.py: a fake Windmill (as of v1.743) for wfreg's tests.

What it answers, and where each behaviour comes from, is in tests/fakes/README.md; the
engine itself is described in the shared engine-apis/README.md ("Windmill" section) and
windmill-openapi.yaml. In short:

- GET /api/version ("CE v1.743.0", text/plain) and /api/health/status need no token;
- under /api/w/{workspace}/: "Authorization: Bearer <token>" exactly (a token cookie and
  ?token= work too, as in Windmill); a bad token, an unknown workspace and a workspace the
  token's user is not a member of all get 401 text "Not authorized: Unauthorized";
- GET /api/users/whoami (no workspace) tells a valid token from a wrong workspace;
- flows/list and scripts/list with page/per_page (the code's defaults: 1000 clamped to
  10000 for flows, 10000 unclamped for scripts), starred first then newest, archived
  left out unless show_archived, scripts' kinds filter and latest version only;
- POST jobs/run/f/{path} and jobs/run/p/{path}: 201 text/plain with the job's UUID;
- GET jobs_u/get/{id} (QueuedJob running false, then true, then CompletedJob) and
  jobs_u/completed/get_result_maybe/{id}; no or a bad token: 400 "Bad request: As a non
  logged in user, you can only see jobs ran by anonymous users";
- every error is text/plain; any GET outside /api gets the frontend's index.html (200).

Run it: python3 tests/fakes/fake_windmill.py --port 0 --key TOKEN [--workspace demo]
"""

import argparse
import json
import re
import sys
import time
import uuid
from urllib.parse import unquote

import fakebase
from fakebase import (FakeServer, Response, iso_us, parse_time, stable_uuid, BASE_TIME)

TEXT = "text/plain; charset=utf-8"  # axum's String answers
ERR = "text/plain"                  # windmill_common::error::Error's answers
UNAUTHORIZED = "Not authorized: Unauthorized"
NOT_ANON = "Bad request: As a non logged in user, you can only see jobs ran by anonymous users"
Q_WAIT, Q_RUN = ("QueuedJob", "waiting"), ("QueuedJob", "running")
FINAL = {"success": ("CompletedJob", "success"), "failed": ("CompletedJob", "failure"),
         "crashed": ("CompletedJob", "failure"), "cancelled": ("CompletedJob", "canceled"),
         "skipped": ("CompletedJob", "skipped"), "paused": ("QueuedJob", "running"),
         "unknown": ("CompletedJob", "failure")}
LANGS = ("python3", "deno", "bun", "bash", "go")


class Job:
    def __init__(self, data, run):
        self.data = data
        self.run = run


class FakeWindmill(FakeServer):
    engine = "windmill"
    json_type = "application/json"
    html_title = "Windmill"
    server_header = None
    version = "CE v1.743.0"
    CONFIG_KEYS = ("workspace", "other_workspaces", "outsider_keys", "token_bound",
                   "username", "email")

    def __init__(self, workspace="demo", other_workspaces=("other",), outsider_keys=(),
                 token_bound=False, flows=None, scripts=None, archived=None, fixture=None,
                 username="admin", email="admin@windmill.dev", **kw):
        kw.setdefault("keys", ("wm_token",))
        super().__init__(**kw)
        self.workspace = workspace
        self.other_workspaces = list(other_workspaces)
        self.outsider_keys = [str(k) for k in outsider_keys]
        self.token_bound = bool(token_bound)
        self.username = username
        self.email = email
        if fixture is None:
            default = flows is None and scripts is None
            n_arch = (3 if default else 0) if archived is None else archived
            fixture = {"generate": {"flows": 130 if flows is None else flows,
                                    "scripts": 130 if scripts is None else scripts,
                                    "archived": n_arch, "old_versions": 5 if default else 0}}
        self.load(fixture)

    # --- data ------------------------------------------------------------------------

    def load(self, fixture):
        """fixture: {"flows": [partial flow...], "scripts": [partial script version...],
        "generate": {"flows": N, "scripts": M, "archived": K, "old_versions": V}}.
        Generated: paths f/folder{i%5}/... (even i) and u/admin/... (odd i), every 20th
        starred, every 10th script a "trigger" or "failure" kind, K archived flows and
        scripts on top, V older versions of the first scripts (never listed)."""
        with self.lock:
            self.flows = {}
            self.scripts = []  # every version of every script
            self.jobs = {}
            self.runs = self.jobs
            gen = fixture.get("generate", {})
            for i, spec in enumerate(fixture.get("flows", [])):
                self._add_flow(spec, i)
            base = len(self.flows)
            for i in range(int(gen.get("flows", 0))):
                self._add_flow(generated(i, "flow"), base + i)
            for j in range(int(gen.get("archived", 0))):
                self._add_flow(dict(generated(1000 + j, "flow"), archived=True), base + 1000 + j)
            for i, spec in enumerate(fixture.get("scripts", [])):
                self._add_script(spec, i)
            base = len(self.scripts)
            for i in range(int(gen.get("scripts", 0))):
                spec = generated(i, "script")
                if i % 10 == 9:
                    spec["kind"] = ("trigger", "failure")[(i // 10) % 2]
                self._add_script(spec, base + i)
            for j in range(int(gen.get("archived", 0))):
                self._add_script(dict(generated(1000 + j, "script"), archived=True),
                                 base + 1000 + j)
            for v in range(int(gen.get("old_versions", 0))):
                spec = generated(v, "script")
                spec["created_at"] = BASE_TIME - 86400 * (v + 1)
                spec["summary"] = "an older version"
                self._add_script(spec, base + 2000 + v)

    def _add_flow(self, spec, i):
        path = spec.get("path") or "f/fake/flow_%03d" % i
        t = spec.get("edited_at") or spec.get("updated_at")
        f = {"workspace_id": self.workspace, "path": path, "summary": spec.get("summary", ""),
             "description": spec.get("description"), "edited_by": spec.get("edited_by", "admin"),
             "edited_at": iso_us(parse_time(t) if t is not None else BASE_TIME + 60 * i),
             "archived": bool(spec.get("archived", False)), "extra_perms": {},
             "starred": bool(spec.get("starred", False)), "is_draft": False,
             "ws_error_handler_muted": False, "_outcome": spec.get("outcome"),
             "_args": spec.get("args")}
        self.flows[path] = f

    def _add_script(self, spec, i):
        path = spec.get("path") or "f/fake/script_%03d" % i
        t = spec.get("created_at") or spec.get("updated_at")
        s = {"hash": spec.get("hash") or stable_uuid("wm-script", i).replace("-", "")[:16],
             "path": path, "summary": spec.get("summary", ""),
             "description": spec.get("description"),
             "created_at": iso_us(parse_time(t) if t is not None else BASE_TIME + 60 * i),
             "archived": bool(spec.get("archived", False)), "extra_perms": {},
             "language": spec.get("language", LANGS[i % len(LANGS)]),
             "starred": bool(spec.get("starred", False)), "tag": None,
             "has_deploy_errors": False, "ws_error_handler_muted": False,
             "kind": spec.get("kind", "script"), "_outcome": spec.get("outcome")}
        self.scripts.append(s)

    def latest_scripts(self):
        """The newest version of each path."""
        latest = {}
        for s in self.scripts:
            cur = latest.get(s["path"])
            if cur is None or s["created_at"] > cur["created_at"]:
                latest[s["path"]] = s
        return list(latest.values())

    def steps_for(self, outcome):
        if outcome == "queued":
            return [Q_WAIT]
        if outcome in ("running", "paused"):
            return [Q_WAIT, Q_RUN]
        return [Q_WAIT, Q_RUN, FINAL[outcome]]

    def is_terminal(self, step):
        return step[0] == "CompletedJob"

    def run_view(self, run_id):
        v = super().run_view(run_id)
        v["state"] = list(v["state"])
        v["steps"] = [list(s) for s in v["steps"]]
        return v

    def error_response(self, status):
        return Response(status, b"Service Unavailable" if status == 503 else
                        b"Too Many Requests", ERR)

    @staticmethod
    def text(status, s, ctype=ERR):
        return Response(status, s.encode("utf-8"), ctype)

    # --- auth ------------------------------------------------------------------------

    def token(self, req):
        h = req.header("Authorization")
        if h is not None and h.startswith("Bearer "):
            return h[len("Bearer "):]
        cookie = req.header("Cookie") or ""
        m = re.search(r"(?:^|;\s*)token=([^;]*)", cookie)
        if m:
            return m.group(1)
        return req.q("token")

    def member(self, req, ws):
        tok = self.token(req)
        return tok is not None and tok in self.keys and ws == self.workspace

    # --- routing ---------------------------------------------------------------------

    def route(self, req):
        p = req.path
        if not (p == "/api" or p.startswith("/api/")):
            if req.method in ("GET", "HEAD"):
                return Response(200, self.index_html(), "text/html; charset=utf-8")
            return Response(405, b"", None)
        with self.lock:
            if p == "/api/version" and req.method == "GET":
                return self.text(200, self.version, TEXT)
            if p == "/api/health/status" and req.method == "GET":
                return self.health()
            if p == "/api/users/whoami" and req.method == "GET":
                return self.global_whoami(req)
            m = re.match(r"^/api/w/([^/]+)(/.*)?$", p)
            if m is None:
                return Response(404, b"", None)
            ws, rel = m.group(1), m.group(2) or "/"
            if rel.startswith("/jobs_u/"):
                return self.jobs_u(req, ws, rel[len("/jobs_u/"):])
            handler = None
            if req.method == "GET":
                handler = {"/users/whoami": lambda: self.json(200, self.user()),
                           "/flows/list": lambda: self.list_flows(req),
                           "/scripts/list": lambda: self.list_scripts(req)}.get(rel)
            for kind in ("f", "p"):
                pre = "/jobs/run/%s/" % kind
                if rel.startswith(pre) and len(rel) > len(pre) and req.method == "POST":
                    handler = (lambda k, path: lambda: self.run_job(req, k, path))(
                        kind, unquote(rel[len(pre):]))
            if handler is None:  # axum's fallback, before any extractor
                return Response(404, b"", None)
            if not self.member(req, ws):  # the ApiAuthed extractor of every handler here
                return self.text(401, UNAUTHORIZED)
            return handler()

    def health(self):
        ok = self.ready
        workers = 0 if self.no_worker else 1
        status = "unhealthy" if not ok else ("degraded" if workers == 0 else "healthy")
        return self.json(200 if ok else 503, {"status": status, "checked_at": iso_us(time.time()),
                                              "database_healthy": ok, "workers_alive": workers})

    def user(self):
        return {"email": self.email, "username": self.username, "is_admin": True,
                "is_super_admin": True, "created_at": iso_us(BASE_TIME), "operator": False,
                "disabled": False, "role": "Admin", "folders_read": [], "folders": [],
                "folders_owners": [], "name": "Fake Admin"}

    def global_whoami(self, req):
        tok = self.token(req)
        if tok is None or self.token_bound or tok not in self.keys + self.outsider_keys:
            return self.text(401, UNAUTHORIZED)
        return self.json(200, {"email": self.email if tok in self.keys else "outsider@example.com",
                               "login_type": "password", "super_admin": tok in self.keys,
                               "verified": True, "name": "Fake User", "username": self.username,
                               "devops": False})

    # --- lists -----------------------------------------------------------------------

    def _page(self, req, default, clamp):
        """(per_page, offset, error response), as windmill's paginate (flows) and
        paginate_without_limits (scripts)."""
        try:
            page = int(req.q("page") or 1)
            per_page = req.q("per_page")
            per_page = default if per_page is None else int(per_page)
        except ValueError:
            return None, None, self.text(400, "Failed to deserialize query string: invalid "
                                              "digit found in string", TEXT)
        if page < 0 or per_page < 0:
            return None, None, self.text(400, "Failed to deserialize query string: invalid "
                                              "digit found in string", TEXT)
        if clamp:
            per_page = max(1, min(per_page, 10000))
        return per_page, (max(page, 1) - 1) * per_page, None

    def list_flows(self, req):
        per_page, offset, err = self._page(req, 1000, True)
        if err:
            return err
        rows = list(self.flows.values())
        if req.q("show_archived") != "true":
            rows = [f for f in rows if not f["archived"]]
        if req.q("starred_only") == "true":
            rows = [f for f in rows if f["starred"]]
        if req.q("path_start"):
            rows = [f for f in rows if f["path"].startswith(req.q("path_start"))]
        if req.q("path_exact"):
            rows = [f for f in rows if f["path"] == req.q("path_exact")]
        desc = req.q("order_desc") != "false"
        rows.sort(key=lambda f: f["edited_at"], reverse=desc)
        rows.sort(key=lambda f: not f["starred"])
        out = []
        for f in rows[offset:offset + per_page]:
            v = {k: val for k, val in f.items() if not k.startswith("_")}
            if v["description"] is None:
                del v["description"]
            out.append(v)
        return self.json(200, out)

    def list_scripts(self, req):
        per_page, offset, err = self._page(req, 10000, False)
        if err:
            return err
        rows = self.latest_scripts()
        if req.q("show_archived") != "true":
            rows = [s for s in rows if not s["archived"]]
        kinds = [k for k in (req.q("kinds") or "").split(",") if k]
        if kinds:
            rows = [s for s in rows if s["kind"] in kinds]
        langs = [k for k in (req.q("languages") or "").split(",") if k]
        if langs:
            rows = [s for s in rows if s["language"] in langs]
        if req.q("starred_only") == "true":
            rows = [s for s in rows if s["starred"]]
        if req.q("path_start"):
            rows = [s for s in rows if s["path"].startswith(req.q("path_start"))]
        if req.q("path_exact"):
            rows = [s for s in rows if s["path"] == req.q("path_exact")]
        desc = req.q("order_desc") != "false"
        rows.sort(key=lambda s: s["created_at"], reverse=desc)
        rows.sort(key=lambda s: not s["starred"])
        out = []
        for s in rows[offset:offset + per_page]:
            v = {k: val for k, val in s.items() if not k.startswith("_")}
            if v["description"] is None:
                del v["description"]
            out.append(v)
        return self.json(200, out)

    # --- jobs ------------------------------------------------------------------------

    def run_job(self, req, kind, path):
        if kind == "f":
            item = self.flows.get(path)
            if item is None:
                return self.text(404, "Not found: flow not found at name %s (jobs.rs:0)" % path)
        else:
            item = next((s for s in self.latest_scripts()
                         if s["path"] == path and not s["archived"]), None)
            if item is None:
                return self.text(404, "Not found: script not found at name %s (jobs.rs:0)" % path)
        job_id = req.q("job_id")
        if job_id is not None:
            try:
                job_id = str(uuid.UUID(job_id))
            except ValueError:
                return self.text(400, "Failed to deserialize query string: job_id: UUID parsing "
                                      "failed: invalid character", TEXT)
            if job_id in self.jobs:
                return self.text(400, "Bad request: A job with id %s already exists" % job_id)
        raw = req.body.decode("utf-8", "replace").strip()
        try:
            args = json.loads(raw) if raw else {}
        except ValueError as e:
            return self.text(400, "Bad request: invalid json: %s" % e)
        if not isinstance(args, dict):
            return self.text(400, "Bad request: The arguments must be a JSON object")
        now = time.time()
        start_at = now
        if req.q("scheduled_in_secs"):
            try:
                start_at = now + int(req.q("scheduled_in_secs"))
            except ValueError:
                return self.text(400, "Failed to deserialize query string: scheduled_in_secs: "
                                      "invalid digit found in string", TEXT)
        elif req.q("scheduled_for"):
            try:
                start_at = parse_time(req.q("scheduled_for"))
            except ValueError:
                return self.text(400, "Failed to deserialize query string: scheduled_for: "
                                      "input contains invalid characters", TEXT)
        jid = job_id or str(uuid.uuid4())
        data = {"id": jid, "workspace_id": self.workspace, "created_by": self.username,
                "created_at": iso_us(now), "scheduled_for": iso_us(start_at),
                "script_path": path, "script_hash": item["hash"] if kind == "p" else None,
                "args": args, "job_kind": "flow" if kind == "f" else "script",
                "permissioned_as": "u/%s" % self.username, "email": self.email,
                "visible_to_owner": req.q("invisible_to_owner") != "true",
                "tag": req.q("tag") or ("flow" if kind == "f" else item["language"]),
                "priority": None, "parent_job": req.q("parent_job"),
                "language": None if kind == "f" else item["language"],
                "is_flow_step": False}
        outcome = self.next_outcome(item.get("_outcome"))
        job = Job(data, self.new_run(self.steps_for(outcome), start_at=start_at))
        self.jobs[jid] = job
        return self.text(201, jid, TEXT)

    def jobs_u(self, req, ws, rest):
        m = re.match(r"^(get|completed/get_result_maybe)/([^/]+)$", rest)
        if m is None or req.method != "GET":
            return Response(404, b"", None)
        what, raw_id = m.group(1), m.group(2)
        try:
            jid = str(uuid.UUID(raw_id))
        except ValueError:
            return self.text(400, "Invalid URL: Cannot parse `%s` to a `u128`: UUID parsing "
                                  "failed" % raw_id, TEXT)
        job = self.jobs.get(jid)
        if job is None or ws != self.workspace:
            return self.text(404, "Not found: Job not found at name %s (jobs.rs:0)" % jid)
        if not self.member(req, ws) and job.data["created_by"] != "anonymous":
            return self.text(400, NOT_ANON)
        view = self.job_view(job, observe=True)
        if what == "get":
            if req.q("no_logs") != "true":
                view["logs"] = "fake job log\n"
            if req.q("no_code") != "true" and job.data["job_kind"] == "script":
                view["raw_code"] = "def main():\n    return 'fake'\n"
            return self.json(200, view)
        done = view["type"] == "CompletedJob"
        return self.json(200, {"completed": done, "result": view.get("result") if done else None,
                               "success": view.get("success") if done else None,
                               "started": done or view.get("running", False)})

    def job_view(self, job, observe):
        run = job.run
        i = run.observe() if observe else run.index()
        typ, state = run.steps[i]
        d = dict(job.data)
        run_at = 1 if len(run.steps) > 1 and i >= 1 else None
        started = run.time_of(1) if run_at else None
        d["type"] = typ
        d["started_at"] = iso_us(started) if started else None
        if typ == "QueuedJob":
            d.update({"running": state == "running", "canceled": False, "canceled_by": None,
                      "canceled_reason": None, "last_ping": iso_us(time.time()) if started
                      else None, "suspend": 0, "flow_status": flow_status(d, False)})
            return d
        end = run.time_of(i) or time.time()
        success = state in ("success", "skipped")
        result = {"success": {"ok": True, "args": d["args"]}, "skipped": None,
                  "failure": {"error": {"name": "Exception", "message": "failed in the fake",
                                        "stack": ""}},
                  "canceled": {"error": {"name": "Canceled", "message": "Job canceled: "
                                         "cancelled in the fake by %s" % self.username,
                                         "reason": "cancelled in the fake",
                                         "canceler": self.username}}}[state]
        d.update({"completed_at": iso_us(end), "duration_ms": int((end - (started or end)) * 1000),
                  "success": success, "canceled": state == "canceled",
                  "canceled_by": self.username if state == "canceled" else None,
                  "canceled_reason": "cancelled in the fake" if state == "canceled" else None,
                  "is_skipped": state == "skipped", "result": result, "deleted": False,
                  "flow_status": flow_status(d, True)})
        return d


def flow_status(d, done):
    if d["job_kind"] != "flow":
        return None
    return {"step": 1 if done else 0, "modules": [], "user_states": {},
            "failure_module": {"type": "WaitingForPriorSteps", "id": "failure"}}


def generated(i, what):
    path = ("f/folder%d/%s_%03d" % (i % 5, what, i)) if i % 2 == 0 else \
        ("u/admin/%s_%03d" % (what, i))
    return {"path": path, "summary": "" if i % 7 == 3 else "%s %03d" % (what.title(), i),
            "description": None if i % 3 else "generated %s %d" % (what, i),
            "starred": i % 20 == 5, "edited_at": BASE_TIME + 60 * i,
            "created_at": BASE_TIME + 60 * i}


def main(argv=None):
    parser = argparse.ArgumentParser(description="A fake Windmill for wfreg's tests.")
    fakebase.common_arguments(parser)
    parser.add_argument("--workspace", default="demo")
    parser.add_argument("--flows", type=int, help="generate N flows (default 130)")
    parser.add_argument("--scripts", type=int, help="generate M scripts (default 130)")
    parser.add_argument("--archived", type=int, help="and K archived flows and scripts")
    parser.add_argument("--outsider-key", action="append", default=[],
                        help="a valid token whose user is not a member of the workspace")
    parser.add_argument("--token-bound", action="store_true",
                        help="the tokens are bound to the workspace (401 on global routes)")
    args = parser.parse_args(argv)
    kw = fakebase.common_kwargs(args)
    if "fixture" not in kw:
        kw.update(flows=args.flows, scripts=args.scripts, archived=args.archived)
    kw.update(workspace=args.workspace, outsider_keys=args.outsider_key,
              token_bound=args.token_bound, max_seconds=args.max_seconds)
    return fakebase.run_main(FakeWindmill, parser, kw)


if __name__ == "__main__":
    sys.exit(main())
