"""test_secrets_sweep.py: issue 7's secrets sweep, on SQLite, in one place. ctest runs it
as `python3 tests/reliability/test_secrets_sweep.py path/to/wfreg` (label integration,
again under the sanitizers). The PostgreSQL part (a marker in a real database password)
is tests/pg/test_secrets_sweep_pg.py.

Every secret of the run carries a unique marker (tests/reliability/sweeplib.py): the API
keys of engines of all three types, in the database and in the environment, registered
against the fake n8n, Prefect and Windmill of tests/fakes (so the adapters really send
them: the fakes' logs are checked for them), wrong keys of engines that are refused,
keys sent in requests that are refused, SECRET_KEY (and the Fernet key derived from it),
users' passwords, keys made by `wfreg keys generate`, and the password of a PostgreSQL
DATABASE_URL that cannot connect. Then:

- two servers (text log and LOG_FORMAT=json, both LOG_LEVEL=debug, health checked every
  second) take every route: public ones, login (good, wrong, unknown user, 429), 401,
  403, 404, 405, 409, 413, 415, 422 and 400 answers, engine writes with keys, the
  engines' own calls (test, workflows, runs and their status) when the engine is up,
  refuses the key, is down, times out, or has a key no configured key opens;
- the command line runs every command (engines list/show/add/update/remove, export with
  and without wrapped keys, import, test, workflows list, run, keys generate/check/rotate,
  check, users, tokens, migrate status, serve refusing to start), with text and json logs
  at debug level, and against a DATABASE_URL whose password is a marker;
- and every log line, every response (status, headers, body), /metrics, every command's
  output, every export file and each server's /proc/PID/cmdline are searched: no marker,
  no derived secret. Each server also must write no core file (core size limit 0 and
  not dumpable, so that no process without CAP_SYS_PTRACE can read its memory).
  /proc/PID/environ holds SECRET_KEY and the environment engines' keys because the test
  passes them there: it is reported, not counted.

test_key_material_is_wiped: after requests that carry keys (accepted and refused) and
calls that send them to engines, the server's memory (heap, stacks, libraries' data,
read through /proc/PID/mem) holds none of the database engines' keys, nor the passwords
used to log in: what held them was overwritten before it was freed. Environment
engines' keys and SECRET_KEY live as long as the process and are not looked for.

"Refuses to start without a key": tests/api/test_secrets.py
(Keys.test_refuses_to_start_without_a_key); checked here again with markers around.
"""

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
import harness  # noqa: E402
from harness import ADMIN, ADMIN_PASSWORD, Server, scaled  # noqa: E402
import sweeplib  # noqa: E402
from sweeplib import Markers, Sweep  # noqa: E402
from fake_n8n import FakeN8n  # noqa: E402
from fake_prefect import FakePrefect  # noqa: E402
from fake_windmill import FakeWindmill  # noqa: E402

ENGINES = "/api/v1/engines"
CLOSED_URL = "http://127.0.0.1:1"  # nothing listens there
UNREADABLE_MSG = "API key unreadable with the configured keys"


def quote(s):
    return urllib.parse.quote(s, safe="")


class World:
    """The markers and the fakes of one run: every key the fakes accept is a marker."""

    def __init__(self):
        m = self.m = Markers()
        self.secret_key = m.new("secret-key")
        self.derived = m.add_secret_key(self.secret_key)
        self.other_secret = m.new("other-secret-key")  # 'locked': its key under this one
        self.other_derived = m.add_secret_key(self.other_secret)
        self.keys = {k: m.new(k) for k in (
            "n8n-key", "n8n-key-patched", "prefect-key", "windmill-key", "env-n8n-key",
            "env-prefect-key", "env-windmill-key", "env-extra-key", "cli-n8n-key",
            "cli-n8n-key-updated", "slow-key", "unreadable-key")}
        self.wrong = {k: m.new(k) for k in ("wrong-n8n-key", "wrong-prefect-key",
                                            "wrong-windmill-key", "down-key")}
        self.passwords = {k: m.new(k) for k in ("sweep-admin-password", "sweep-viewer-password",
                                                "wrong-password", "cli-user-password",
                                                "cli-user-password-2")}
        k = self.keys
        self.n8n = FakeN8n(keys=[k["n8n-key"], k["n8n-key-patched"], k["env-n8n-key"],
                                 k["env-extra-key"], k["cli-n8n-key"], k["cli-n8n-key-updated"],
                                 k["unreadable-key"]], workflows=5)
        self.pf = FakePrefect(auth="basic", keys=[k["prefect-key"], k["env-prefect-key"]],
                              deployments=3, flows=1)
        self.wm = FakeWindmill(keys=[k["windmill-key"], k["env-windmill-key"]], flows=2,
                               scripts=2)
        self.slow = FakeN8n(keys=[k["slow-key"]], workflows=1)
        self.fakes = [self.n8n, self.pf, self.wm, self.slow]
        for f in self.fakes:
            f.start()
        self.slow.switch("hang", hang_ms=3000)

    def stop(self):
        for f in self.fakes:
            f.stop()

    def server_env(self, **extra):
        k = self.keys
        env = {
            "SECRET_KEY": self.secret_key, "LOG_LEVEL": "debug",
            "N8N_API_URL": self.n8n.url, "N8N_API_KEY": k["env-n8n-key"],
            "PREFECT_API_URL": self.pf.base_url, "PREFECT_API_KEY": k["env-prefect-key"],
            "WINDMILL_API_URL": self.wm.url, "WINDMILL_API_KEY": k["env-windmill-key"],
            "WINDMILL_WORKSPACE": "demo",
            "WFREG_ENGINE_EXTRA_N8N": json.dumps({
                "engine_type": "n8n", "api_url": self.n8n.url,
                "api_key": k["env-extra-key"]}),
        }
        env.update(extra)
        return env

    def fake_saw(self, fake, header, value):
        """Did fake receive header with exactly value (the adapters really send keys)?"""
        return any(v == value for r in fake.requests() for n, v in r["headers"]
                   if n.lower() == header.lower())


class ApiDriver:
    """Drives every route of one server, searching each answer."""

    def __init__(self, test, world, sweep, server, label):
        self.t, self.w, self.sweep, self.s, self.label = test, world, sweep, server, label
        self.count = 0

    def call(self, method, path, body=None, token=None, headers=None, expect=None, raw=None):
        if raw is not None:
            hdrs = {"Content-Type": "application/json"}
            hdrs.update(headers or {})
            r = self.s.request(method, path, raw, token=token, headers=hdrs)
        else:
            r = self.s.request(method, path, body, token=token, headers=headers)
        self.count += 1
        self.sweep.search_response("%s %s %s" % (self.label, method, path.split("?")[0]), r)
        if r.status is not None and r.status >= 500 and r.status not in (502, 503, 504):
            self.t.fail("%s %s: %r" % (method, path, r))
        if expect is not None:
            want = expect if isinstance(expect, tuple) else (expect,)
            self.t.assertIn(r.status, want, "%s %s: %r" % (method, path, r))
        return r

    def json(self, *a, **kw):
        r = self.call(*a, **kw)
        return r.json() if r.body else None

    def run(self):
        w, k, m = self.w, self.w.keys, self.w.m
        s = self.s
        # --- public routes, and what is not a route
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/"):
            self.call("GET", path, expect=200)
        self.call("HEAD", "/", expect=200)
        self.call("HEAD", "/healthz", expect=405)
        self.call("GET", "/no-such-path", expect=404)
        self.call("DELETE", "/healthz", expect=405)
        self.call("GET", "/healthz", headers={"X-Api-Key": m.new("header-noise")}, expect=200)

        # --- login (the users were added before the server started)
        admin = self.json("POST", "/api/v1/auth/login", {
            "username": "sweep-admin", "password": w.passwords["sweep-admin-password"]},
            expect=200)["token"]
        viewer = self.json("POST", "/api/v1/auth/login", {
            "username": "sweep-viewer", "password": w.passwords["sweep-viewer-password"]},
            expect=200)["token"]
        self.call("POST", "/api/v1/auth/login", {"username": "sweep-admin",
                                                 "password": w.passwords["wrong-password"]},
                  expect=401)
        self.call("POST", "/api/v1/auth/login", {"username": "nobody-" + m.new("user-noise"),
                                                 "password": m.new("nobody-password")},
                  expect=401)
        self.call("POST", "/api/v1/auth/login", {"username": "sweep-admin",
                                                 "password": m.new("login-extra"), "x": 1},
                  expect=422)
        self.call("POST", "/api/v1/auth/login", raw=b'{"username": "a", "password": "'
                  + m.new("login-bad-json").encode() + b'"', expect=400)
        statuses = []  # the 6th failure locks for 1 s, the 7th for 2 s, ...
        for i in range(12):
            statuses.append(self.call("POST", "/api/v1/auth/login", {
                "username": "sweep-viewer", "password": m.new("locked-out-%d" % i)}).status)
            if statuses[-1] == 429:
                break
        self.t.assertEqual(statuses[-1], 429, "repeated failed logins end in 429")
        self.call("GET", "/api/v1/auth/me", token=admin, expect=200)
        self.call("GET", "/api/v1/auth/me", expect=401)
        self.call("GET", "/api/v1/auth/me", token=m.new("bearer-noise"), expect=401)
        self.call("GET", ENGINES, headers={"Authorization": "Basic " + base64.b64encode(
            m.new("basic-noise").encode()).decode()}, expect=401)
        spare = s.login(ADMIN, ADMIN_PASSWORD)
        self.call("POST", "/api/v1/auth/logout", token=spare, expect=204)
        self.call("GET", "/api/v1/auth/me", token=spare, expect=401)

        # --- engine writes that carry keys
        def create(name, etype, url, key=None, config=None, expect=201, token=admin):
            body = {"name": name, "engine_type": etype, "api_url": url}
            if key is not None:
                body["api_key"] = key
            if config is not None:
                body["config"] = config
            return self.call("POST", ENGINES, body, token=token, expect=expect)

        create("n8n-db", "n8n", w.n8n.url, k["n8n-key"])
        create("pf-db", "prefect", w.pf.base_url, k["prefect-key"])
        create("wm-db", "windmill", w.wm.url, k["windmill-key"], {"workspace": "demo"})
        create("n8n-wrong", "n8n", w.n8n.url, w.wrong["wrong-n8n-key"])
        create("pf-wrong", "prefect", w.pf.base_url, w.wrong["wrong-prefect-key"])
        create("wm-wrong", "windmill", w.wm.url, w.wrong["wrong-windmill-key"],
               {"workspace": "demo"})
        create("n8n-down", "n8n", CLOSED_URL, w.wrong["down-key"])
        create("n8n-slow", "n8n", w.slow.url, k["slow-key"], {"timeout_ms": 300})
        create("gone", "prefect", w.pf.base_url, m.new("deleted-key"))
        create("keyless", "windmill", w.wm.url, m.new("removed-key"), {"workspace": "demo"})
        # refused: every failure an API client can cause while sending a key
        create("n8n-db", "n8n", w.n8n.url, m.new("conflict-key"), expect=409)
        create("Bad Name", "n8n", "ftp://x", m.new("invalid-key"), {"timeout_ms": 0},
               expect=422)
        create("ctl", "n8n", w.n8n.url, m.new("control-key") + "\n", expect=422)
        create("long", "n8n", w.n8n.url, (m.new("long-key") + "-") * 300, expect=422)
        create("viewer-write", "n8n", w.n8n.url, m.new("viewer-key"), expect=403, token=viewer)
        create("no-token", "n8n", w.n8n.url, m.new("no-token-key"), expect=401, token=None)
        self.call("POST", ENGINES, {"name": "x", "engine_type": "n8n", "api_url": w.n8n.url,
                                    "api_key": m.new("extra-field-key"), "colour": "red"},
                  token=admin, expect=422)
        self.call("POST", ENGINES, {"name": "x", "api_key": 42}, token=admin, expect=422)
        for raw, want in ((b'{"name": "x", "api_key": "%s' % m.new("truncated").encode(), 400),
                          (b'{"api_key": "%s", "api_key": "x"}' % m.new("dup").encode(), 422),
                          (b'{"api_key": "%s" x}' % m.new("bad-json").encode(), 400),
                          (b'{"api_key": "%s-\xff"}' % m.new("bad-utf8").encode(), 400),
                          (b'["%s"]' % m.new("array-body").encode(), 422)):
            self.call("POST", ENGINES, token=admin, raw=raw, expect=(want, 400, 422))
        self.call("POST", ENGINES, token=admin, raw=b'{"api_key": "%s"}' % m.new(
            "text-plain").encode(), headers={"Content-Type": "text/plain"}, expect=415)
        big = b'{"name": "big", "api_key": "' + m.new("big-body").encode() + b'", "x": "' \
            + b"a" * (1 << 20) + b'"}'
        self.call("POST", ENGINES, token=admin, raw=big, expect=413)
        self.call("PATCH", ENGINES + "/n8n-db", {"api_key": k["n8n-key-patched"]}, token=admin,
                  expect=200)
        self.call("PATCH", ENGINES + "/keyless", {"api_key": None}, token=admin, expect=200)
        self.call("PATCH", ENGINES + "/missing", {"api_key": m.new("patch-404")}, token=admin,
                  expect=404)
        self.call("PATCH", ENGINES + "/n8n-default", {"api_key": m.new("patch-env")},
                  token=admin, expect=409)
        self.call("PATCH", ENGINES + "/pf-db", {"api_key": m.new("patch-ctl") + "\x01",
                                                "api_url": "nope"}, token=admin, expect=422)
        self.call("PATCH", ENGINES + "/pf-db", {"api_key": m.new("patch-viewer")},
                  token=viewer, expect=403)
        self.call("DELETE", ENGINES + "/gone", token=admin, expect=204)
        self.call("DELETE", ENGINES + "/gone", token=admin, expect=404)
        self.call("DELETE", ENGINES + "/windmill-default", token=admin, expect=409)

        # the engine stored under another key (by a process with another SECRET_KEY)
        p = subprocess.run([harness.WFREG, "engines", "add", "locked", "--type", "n8n", "--url",
                            w.n8n.url, "--api-key-stdin"], input=k["unreadable-key"].encode(),
                           env=dict(s.env, SECRET_KEY=w.other_secret), capture_output=True,
                           cwd=s.cwd, timeout=scaled(30))
        self.t.assertEqual(p.returncode, 0, p.stderr)
        self.sweep.search("command output (stdout, stderr)", "engines add locked",
                          p.stdout + p.stderr)
        self.t.assertTrue(harness.poll(lambda: s.request(
            "GET", ENGINES + "/locked", token=admin).status == 200, 3))

        # --- reads
        for q in ("", "?limit=500", "?source=environment", "?source=database",
                  "?engine_type=prefect", "?active=false", "?limit=2&offset=3"):
            self.call("GET", ENGINES + q, token=viewer, expect=200)
        self.call("GET", ENGINES + "?limit=0&engine_type=airflow", token=viewer, expect=422)
        names = [e["name"] for e in self.json("GET", ENGINES + "?limit=500", token=viewer)["items"]]
        for name in names:
            self.call("GET", ENGINES + "/" + quote(name), token=viewer, expect=200)
            self.call("GET", ENGINES + "/" + quote(name) + "/history", token=viewer, expect=200)
        self.call("GET", ENGINES + "/missing", token=viewer, expect=404)
        self.call("GET", ENGINES + "/missing/history", token=viewer, expect=404)
        self.call("GET", ENGINES + "/gone/history", token=viewer, expect=200)

        # --- the engines' own calls: up, refused key, down, timeout, unreadable key
        results = {}
        for name in names:
            obj = self.json("POST", ENGINES + "/%s/test" % quote(name), token=viewer, expect=200)
            results[name] = obj["status"]
        want = {"n8n-db": "up", "pf-db": "up", "wm-db": "up", "n8n-default": "up",
                "prefect-default": "up", "windmill-default": "up", "extra-n8n": "up",
                "n8n-wrong": "unauthorized", "pf-wrong": "unauthorized",
                "wm-wrong": "unauthorized", "n8n-down": "down", "n8n-slow": "timeout",
                "locked": "error"}
        self.t.assertEqual({n: results.get(n) for n in want}, want, results)
        self.call("POST", ENGINES + "/missing/test", token=viewer, expect=404)
        self.call("POST", ENGINES + "/n8n-db/test", expect=401)
        for q in ("", "?engine=n8n-db", "?engine_type=windmill", "?q=workflow",
                  "?engine=locked", "?engine=n8n-slow"):
            self.call("GET", "/api/v1/workflows" + q, token=viewer, expect=200)
        self.call("GET", "/api/v1/workflows?engine=nope&q=" + "x" * 201, token=viewer,
                  expect=422)
        lists = {}
        for name in names:
            r = self.call("GET", ENGINES + "/%s/workflows" % quote(name), token=viewer,
                          expect=(200, 502, 504))
            if r.status == 200:
                lists[name] = r.json()["items"]
        self.t.assertTrue({"n8n-db", "pf-db", "wm-db"} <= set(lists), sorted(lists))

        def start(engine, wid, body=None, query="", expect=202):
            return self.call("POST", ENGINES + "/%s/workflows/%s/runs%s" % (
                quote(engine), quote(wid), query), body if body is not None else {},
                token=admin, expect=expect)

        n8n_ids = {x["name"]: x["id"] for x in lists["n8n-db"]}
        runs = [("n8n-db", start("n8n-db", n8n_ids["Workflow 001"], {"a": 1}).json())]
        start("n8n-db", n8n_ids["Workflow 004"], expect=409)  # no webhook trigger
        start("n8n-db", "NoSuchWorkflow00", expect=404)
        runs.append(("pf-db", start("pf-db", lists["pf-db"][0]["id"], {"x": 1}).json()))
        flow = [x["id"] for x in lists["wm-db"] if x["kind"] == "flow"][0]
        script = [x["id"] for x in lists["wm-db"] if x["kind"] == "script"][0]
        runs.append(("wm-db", start("wm-db", flow, {"b": 2}, "?kind=flow").json()))
        runs.append(("wm-db", start("wm-db", script, {}, "?kind=script").json()))
        start("n8n-down", "x", expect=502)
        start("locked", "x", expect=502)
        start("n8n-wrong", n8n_ids["Workflow 001"], expect=(502, 404))
        start("n8n-slow", "x", expect=504)
        start("n8n-db", n8n_ids["Workflow 001"], {"a": 1}, "?kind=job", expect=422)
        self.call("POST", ENGINES + "/n8n-db/workflows/x/runs", {}, token=viewer, expect=403)
        for engine, run in runs:
            if not run.get("run_id"):
                continue
            self.call("GET", ENGINES + "/%s/runs/%s" % (engine, quote(run["run_id"])),
                      token=viewer, expect=200)
        self.call("GET", ENGINES + "/pf-db/runs/00000000-0000-0000-0000-000000000000",
                  token=viewer, expect=404)
        self.call("GET", ENGINES + "/n8n-down/runs/1", token=viewer, expect=502)
        self.call("GET", ENGINES + "/missing/runs/1", token=viewer, expect=404)

        time.sleep(scaled(1.5))  # a round of health checks with all of these engines
        metrics = self.call("GET", "/metrics", expect=200)
        self.sweep.search("/metrics", self.label, metrics.body)
        self.call("POST", "/api/v1/auth/logout", token=admin, expect=204)
        return self.count


class Drives:
    """The command-line drives, for a TestCase with self.world (also the PostgreSQL
    sweep's, tests/pg/test_secrets_sweep_pg.py)."""

    def cli(self, sweep, base_env, what, *args, input=None, expect=None, search=True,
            timeout=60):
        """Runs wfreg with base_env; searches stdout and stderr (unless search is False,
        for the one output that is a secret by design: keys generate)."""
        p = subprocess.run([harness.WFREG] + list(args), input=input, env=base_env,
                           capture_output=True, timeout=scaled(timeout))
        if search:
            sweep.search("command output (stdout, stderr)", "%s: wfreg %s" % (what, " ".join(
                a if len(a) < 60 else a[:60] + "..." for a in args)), p.stdout + p.stderr)
        sanitizer = harness.SANITIZER_RE.search(p.stderr.decode(errors="replace"))
        self.assertIsNone(sanitizer, "wfreg %s: %s" % (args, p.stderr[-3000:]))
        if expect is not None:
            want = expect if isinstance(expect, tuple) else (expect,)
            self.assertIn(p.returncode, want, "wfreg %s: exit %d\n%s\n%s" % (
                " ".join(args), p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
        return p

    def drive_cli(self, sweep, server, log_format):
        w, k, m = self.world, self.world.keys, self.world.m
        env = dict(server.env, LOG_LEVEL="debug", LOG_FORMAT=log_format)
        tmp = tempfile.mkdtemp(prefix="wfreg-sweep-cli.")
        self.addCleanup(shutil.rmtree, tmp, True)
        what = "cli " + log_format

        def run(*args, **kw):
            return self.cli(sweep, env, what, *args, **kw)

        suffix = log_format
        run("engines", "list", expect=0)
        run("engines", "list", "--json", expect=0)
        run("engines", "list", "--source", "environment", "--json", expect=0)
        for name in ("n8n-db", "n8n-default", "locked", "extra-n8n"):
            run("engines", "show", name, expect=0)
            run("engines", "show", name, "--json", expect=0)
        run("engines", "show", "missing", expect=1)
        cli_key = k["cli-n8n-key"]
        run("engines", "add", "cli-" + suffix, "--type", "n8n", "--url", w.n8n.url,
            "--api-key-stdin", "--json", input=cli_key.encode(), expect=0)
        run("engines", "add", "cli-bad-" + suffix, "--type", "n8n", "--url", "ftp://x",
            "--api-key-stdin", input=m.new("cli-invalid-key").encode(), expect=2)
        run("engines", "add", "cli-" + suffix, "--type", "n8n", "--url", w.n8n.url,
            "--api-key-stdin", input=m.new("cli-conflict-key").encode(), expect=(1, 2))
        run("engines", "add", "cli-ctl-" + suffix, "--type", "n8n", "--url", w.n8n.url,
            "--api-key-stdin", input=(m.new("cli-ctl-key") + "\x01x").encode(), expect=2)
        run("engines", "update", "cli-" + suffix, "--api-key-stdin",
            input=k["cli-n8n-key-updated"].encode(), expect=0)
        run("engines", "update", "n8n-default", "--api-key-stdin",
            input=m.new("cli-env-update").encode(), expect=(1, 2))
        run("engines", "update", "missing", "--api-key-stdin",
            input=m.new("cli-missing-update").encode(), expect=1)
        run("engines", "add", "cli-rm-" + suffix, "--type", "windmill", "--url", w.wm.url,
            "--config", '{"workspace":"demo"}', "--api-key-stdin",
            input=m.new("cli-removed-key").encode(), expect=0)
        run("engines", "update", "cli-rm-" + suffix, "--remove-api-key", expect=0)
        run("engines", "remove", "cli-rm-" + suffix, expect=0)
        run("engines", "test", "cli-" + suffix, expect=0)
        run("engines", "test", "cli-" + suffix, "--json", expect=0)
        for name in ("n8n-wrong", "n8n-down", "locked", "n8n-slow"):
            run("engines", "test", name, expect=1)
        run("engines", "test", "--all", expect=1)
        run("engines", "test", "--all", "--json", expect=1)
        run("workflows", "list", expect=1)
        run("workflows", "list", "--json", expect=1)
        run("workflows", "list", "--engine", "pf-db", "--json", expect=0)
        run("workflows", "list", "--engine", "locked", expect=1)
        listing = json.loads(run("workflows", "list", "--json", expect=1).stdout)
        ids = {(x["engine"], x["name"]): x["id"] for x in listing["items"]}
        run("run", "n8n-db", ids[("n8n-db", "Workflow 001")], "--param", "a=1", "--json",
            expect=0)
        run("run", "n8n-db", ids[("n8n-db", "Workflow 004")], expect=(1, 2))
        pf_dep = [v for (e, _), v in ids.items() if e == "pf-db"][0]
        run("run", "pf-db", pf_dep, "--wait", "--wait-timeout", "20", "--json", expect=0)
        wm_flow = [x["id"] for x in listing["items"] if x["engine"] == "wm-db"
                   and x["kind"] == "flow"][0]
        run("run", "wm-db", wm_flow, "--kind", "flow", "--json", expect=0)
        run("run", "n8n-down", "x", expect=(1, 3))
        run("run", "locked", "x", expect=(1, 3))

        # export: without keys, and with keys wrapped under a generated export key
        gen = run("keys", "generate", expect=0, search=False)
        export_key = gen.stdout.decode().strip()
        m.add_secret("export key (" + suffix + ")", export_key)
        key_file = os.path.join(tmp, "export.key")
        with open(key_file, "w") as f:
            f.write(export_key + "\n")
        plain_file = os.path.join(tmp, "plain.json")
        wrapped_file = os.path.join(tmp, "wrapped.json")
        out = run("engines", "export", expect=0)
        run("engines", "export", "-o", plain_file, expect=0)
        run("engines", "export", "-o", wrapped_file, "--with-keys", "--export-key-file",
            key_file, expect=3)  # 'locked': its key is unreadable, nothing is written
        self.assertFalse(os.path.exists(wrapped_file))
        both = dict(env, WFREG_FERNET_KEYS=w.derived + "," + w.other_derived)
        self.cli(sweep, both, what, "engines", "export", "-o", wrapped_file, "--with-keys",
                 "--export-key-file", key_file, expect=0)
        run("engines", "export", "--with-keys", expect=2)
        self.assertEqual(stat.S_IMODE(os.stat(wrapped_file).st_mode), 0o600)
        for path in (plain_file, wrapped_file):
            with open(path, "rb") as f:
                sweep.search("export file", "%s %s" % (what, os.path.basename(path)), f.read())
        with open(wrapped_file, "rb") as f:
            self.assertIn(b"api_key_wrapped", f.read())
        self.assertIn(b"n8n-db", out.stdout)
        # import into another database: dry run, real, a wrong export key, a key in clear
        other = dict(env, DATABASE_URL="sqlite:" + os.path.join(tmp, "other.db"))
        self.cli(sweep, other, what, "migrate", "up", expect=0)
        self.cli(sweep, other, what, "engines", "import", wrapped_file, "--dry-run",
                 "--export-key-file", key_file, expect=0)
        self.cli(sweep, other, what, "engines", "import", wrapped_file, "--export-key-file",
                 key_file, expect=0)
        self.cli(sweep, other, what, "engines", "import", wrapped_file, expect=(1, 2, 3))
        wrong_key_file = os.path.join(tmp, "wrong.key")
        wrong = self.cli(sweep, other, what, "keys", "generate", expect=0, search=False)
        m.add_secret("wrong export key (" + suffix + ")", wrong.stdout.decode().strip())
        with open(wrong_key_file, "wb") as f:
            f.write(wrong.stdout)
        self.cli(sweep, other, what, "engines", "import", wrapped_file, "--export-key-file",
                 wrong_key_file, expect=(1, 2, 3))
        clear_file = os.path.join(tmp, "clear.json")
        with open(clear_file, "w") as f:
            json.dump({"format": "wfreg-engines", "version": 1, "engines": [{
                "name": "clear", "engine_type": "n8n", "api_url": w.n8n.url,
                "api_key": m.new("clear-import-key")}]}, f)
        self.cli(sweep, other, what, "engines", "import", clear_file, expect=(1, 2))
        bad_key_file = os.path.join(tmp, "bad.key")
        with open(bad_key_file, "w") as f:
            f.write(m.new("not-a-fernet-key") + "\n")
        self.cli(sweep, other, what, "engines", "import", wrapped_file, "--export-key-file",
                 bad_key_file, expect=(1, 2, 3))
        run("engines", "export", "--with-keys", "--export-key-file", bad_key_file,
            "-o", os.path.join(tmp, "never.json"), expect=(1, 2, 3))
        self.cli(sweep, other, what, "engines", "test", "cli-" + suffix, expect=0)

        # keys: check, rotate under a new generated key, check again
        run("keys", "check", expect=1)  # 'locked' is unreadable
        run("keys", "check", "--json", expect=1)
        new_key = self.cli(sweep, other, what, "keys", "generate", expect=0,
                           search=False).stdout.decode().strip()
        m.add_secret("rotation key (" + suffix + ")", new_key)
        rot = dict(other, WFREG_FERNET_KEYS=new_key + "," + w.derived)
        self.cli(sweep, rot, what, "keys", "rotate", "--dry-run", expect=0)
        self.cli(sweep, rot, what, "keys", "rotate", expect=0)
        self.cli(sweep, rot, what, "keys", "check", "--json", expect=0)
        self.cli(sweep, rot, what, "engines", "test", "cli-" + suffix, "--json", expect=0)
        self.cli(sweep, dict(other, WFREG_FERNET_KEYS=m.new("bad-fernet-list") + ",x"), what,
                 "keys", "check", expect=(2, 3))
        self.cli(sweep, dict(other, WFREG_FERNET_KEYS=new_key, SECRET_KEY=""), what,
                 "engines", "list", expect=0)

        # check, users, tokens, migrate
        run("check", expect=1)  # 'locked'
        self.cli(sweep, rot, what, "check", expect=(0, 1))
        user = "cli-user-" + suffix
        run("users", "add", user, "--role", "viewer", "--password-stdin",
            input=w.passwords["cli-user-password"].encode(), expect=0)
        run("users", "passwd", user, "--password-stdin",
            input=w.passwords["cli-user-password-2"].encode(), expect=0)
        run("users", "add", "cli-short-" + suffix, "--role", "viewer", "--password-stdin",
            input=(m.new("short") + "\x01").encode(), expect=2)
        run("users", "list", expect=0)
        run("users", "list", "--json", expect=0)
        token = run("tokens", "create", "--user", user, "--label", "sweep-" + suffix, expect=0)
        tok = token.stdout.decode().strip()
        run("tokens", "list", "--json", expect=0)
        run("migrate", "status", expect=0)
        run("migrate", "status", "--json", expect=0)
        run("migrate", "verify", expect=0)
        return tok

    def drive_bad_database(self, sweep):
        """Commands given a PostgreSQL DATABASE_URL whose password is a marker, that
        cannot connect (nothing listens on port 1): each fails, saying why, without it."""
        w, m = self.world, self.world.m
        pw = m.new("db-password-unreachable")
        urls = ["postgresql://wfreg:%s@127.0.0.1:1/wfreg?connect_timeout=3" % pw,
                "postgres://wfreg:%s@127.0.0.1:1/wfreg" % quote("p@ss/" + pw),
                "postgresql+psycopg2://wfreg:%s@127.0.0.1:1/wfreg" % pw,
                "host=127.0.0.1 port=1 user=wfreg password=%s dbname=wfreg" % pw,
                "host=127.0.0.1 port=1 password='%s" % pw,
                "postgresql://wfreg:%s@[::1/wfreg" % pw]
        n = 0
        for i, url in enumerate(urls):
            for fmt in ("text", "json"):
                env = harness.clean_env({"DATABASE_URL": url, "SECRET_KEY": w.secret_key,
                                         "LOG_LEVEL": "debug", "LOG_FORMAT": fmt})
                for args in (("check",), ("engines", "list"), ("migrate", "status"),
                             ("migrate", "up"), ("keys", "check"), ("users", "list"),
                             ("serve", "--listen", "127.0.0.1:0")):
                    p = self.cli(sweep, env, "bad database url %d %s" % (i, fmt), *args,
                                 timeout=30)
                    self.assertNotEqual(p.returncode, 0, "wfreg %s with %s" % (args, url))
                    n += 1
        return n

    def check_keys_sent(self):
        """The keys reached the engines, so the adapters did send them (and the search
        looked for something that was there to leak), but never a key that no
        configured key opens."""
        w, k = self.world, self.world.keys
        sent = {
            "n8n-key-patched": w.fake_saw(w.n8n, "X-N8N-API-KEY", k["n8n-key-patched"]),
            "env-n8n-key": w.fake_saw(w.n8n, "X-N8N-API-KEY", k["env-n8n-key"]),
            "env-extra-key": w.fake_saw(w.n8n, "X-N8N-API-KEY", k["env-extra-key"]),
            "cli-n8n-key-updated": w.fake_saw(w.n8n, "X-N8N-API-KEY", k["cli-n8n-key-updated"]),
            "prefect-key": w.fake_saw(w.pf, "Authorization", "Basic " + base64.b64encode(
                k["prefect-key"].encode()).decode()),
            "env-prefect-key": w.fake_saw(w.pf, "Authorization", "Basic " + base64.b64encode(
                k["env-prefect-key"].encode()).decode()),
            "windmill-key": w.fake_saw(w.wm, "Authorization", "Bearer " + k["windmill-key"]),
            "env-windmill-key": w.fake_saw(w.wm, "Authorization",
                                           "Bearer " + k["env-windmill-key"]),
            "wrong-n8n-key": w.fake_saw(w.n8n, "X-N8N-API-KEY", w.wrong["wrong-n8n-key"]),
            "slow-key": w.fake_saw(w.slow, "X-N8N-API-KEY", k["slow-key"]),
        }
        self.assertEqual([n for n, ok in sent.items() if not ok], [],
                         "keys the engines never received")
        self.assertFalse(w.fake_saw(w.n8n, "X-N8N-API-KEY", k["unreadable-key"]),
                         "a key no configured key opens was sent")


class SecretsSweep(Drives, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.world = World()

    @classmethod
    def tearDownClass(cls):
        cls.world.stop()

    def refuses_without_key(self, sweep):
        """serve will not start without SECRET_KEY or WFREG_FERNET_KEYS (as
        tests/api/test_secrets.py's Keys.test_refuses_to_start_without_a_key checks), and
        says so without the environment engines' keys."""
        s = Server(env=self.world.server_env(SECRET_KEY=None))
        try:
            with self.assertRaises(AssertionError) as cm:
                s.start()
            self.assertIn("SECRET_KEY", str(cm.exception))
            self.assertNotIn(s.proc.returncode, (0, None))
            sweep.search_lines("server log line", "serve without a key", s.log())
        finally:
            s.close()

    def test_sweep(self):
        w = self.world
        sweep = Sweep(w.m)
        notes, routes, cli_runs = [], 0, 0
        t0 = time.monotonic()
        for fmt in ("text", "json"):
            s = Server(env=w.server_env(WFREG_HEALTH_INTERVAL="1"), log_format=fmt)
            try:
                s.add_user("sweep-admin", "admin", w.passwords["sweep-admin-password"])
                s.add_user("sweep-viewer", "viewer", w.passwords["sweep-viewer-password"])
                s.start()
                d = ApiDriver(self, w, sweep, s, "server " + fmt)
                routes += d.run()
                api_token = self.drive_cli(sweep, s, fmt)
                # a token made by the command line works on the server (and is no marker)
                self.assertTrue(harness.poll(lambda: s.request(
                    "GET", "/api/v1/auth/me", token=api_token).status == 200, 3))
                notes.append(sweeplib.process_checks(self, sweep, s.proc.pid, "server " + fmt))
                rc, took = s.stop()
                self.assertEqual(rc, 0, "exit after SIGTERM (%.1f s)" % took)
                self.assertEqual(s.sanitizer_reports(), [])
                sweep.search_lines("server log line", "server " + fmt, s.log())
                if fmt == "json":
                    self.assertTrue(s.log()[-1].startswith("{"), s.log()[-1])
            finally:
                s.close()
        # not dumpable: a process of the same user without CAP_SYS_PTRACE cannot open the
        # server's memory, where it can open that of a control process
        s = Server(env=w.server_env())
        try:
            probes = sweeplib.dumpable_check(harness.WFREG, s.env, s.cwd, scaled(10))
        finally:
            s.close()
        self.assertEqual(probes, ("readable", "denied"),
                         "/proc/PID/mem of a control process and of wfreg serve, opened "
                         "without CAP_SYS_PTRACE")
        notes.append("/proc/PID/mem without CAP_SYS_PTRACE: control process %s, wfreg serve %s"
                     " (not dumpable)" % probes)
        bad_db_runs = self.drive_bad_database(sweep)
        self.refuses_without_key(sweep)

        self.check_keys_sent()
        # the search finds a marker where there is one: in what the fakes received
        probe = Sweep(w.m)
        probe.search("probe", "the fakes' request logs", json.dumps(
            [f.requests() for f in w.fakes]))
        self.assertTrue(probe.hits, "the search finds no marker in the fakes' logs")

        print("\n" + sweep.report("secrets sweep (SQLite)"))
        print("  %d markers (%s ...); %d API requests, %d command runs with a database, "
              "%d with an unreachable PostgreSQL URL; %.1f s" % (
                  len(w.m.values), ", ".join(sorted(w.m.values)[:6]), routes,
                  sweep.places.get("command output (stdout, stderr)", 0) - bad_db_runs,
                  bad_db_runs, time.monotonic() - t0))
        for n in notes:
            print("  " + n)
        self.assertEqual(sweep.hits, [], sweep.report("secrets found"))
        self.assertGreater(sweep.total(), 800)

    def test_key_material_is_wiped(self):
        """Nothing freed still holds a key: the server's memory, after requests that
        carried keys and calls that sent them, holds none of the database engines' keys
        nor the passwords it checked."""
        w, m = self.world, self.world.m
        # no health monitor: a check in flight would hold a key legitimately
        s = Server(env=w.server_env(WFREG_HEALTH_INTERVAL="0"))
        try:
            pw = m.new("scan-password")
            s.add_user("scan-admin", "admin", pw)
            s.start()
            token = s.login("scan-admin", pw)
            s.json("POST", "/api/v1/auth/login", {"username": "scan-admin",
                                                  "password": m.new("scan-wrong-password")})
            scan_keys = []
            fake_keys = [w.keys["n8n-key"], w.keys["n8n-key-patched"]]
            for i in range(6):
                # a key accepted, refused, and replaced; each engine called with its key
                good = fake_keys[i % 2]
                status, _, obj = s.json("POST", ENGINES, {
                    "name": "scan-%d" % i, "engine_type": "n8n", "api_url": w.n8n.url,
                    "api_key": good}, token=token)
                self.assertEqual(status, 201, obj)
                refused = m.new("scan-refused-%d" % i)
                scan_keys.append(refused)
                status, _, obj = s.json("POST", ENGINES, {
                    "name": "Scan %d" % i, "engine_type": "n8n", "api_url": w.n8n.url,
                    "api_key": refused}, token=token)
                self.assertEqual(status, 422, obj)
                status, _, obj = s.json("POST", ENGINES, {
                    "name": "scan-%d" % i, "engine_type": "n8n", "api_url": w.n8n.url,
                    "api_key": m.new("scan-conflict-%d" % i)}, token=token)
                self.assertEqual(status, 409, obj)
                scan_keys.append(w.m.values["scan-conflict-%d" % i])
                status, _, obj = s.json("POST", ENGINES + "/scan-%d/test" % i, token=token)
                self.assertEqual((status, obj["status"]), (200, "up"), obj)
                self.assertEqual(s.request("GET", ENGINES + "/scan-%d/workflows" % i,
                                           token=token).status, 200)
                replaced = m.new("scan-replaced-%d" % i)
                scan_keys.append(replaced)
                status, _, obj = s.json("PATCH", ENGINES + "/scan-%d" % i, {"api_key": replaced},
                                        token=token)
                self.assertEqual(status, 200, obj)
                status, _, obj = s.json("PATCH", ENGINES + "/scan-%d" % i, {"api_key": good},
                                        token=token)
                self.assertEqual(status, 200, obj)
            for name, key in (("pf-scan", w.keys["prefect-key"]),
                              ("wm-scan", w.keys["windmill-key"])):
                etype = "prefect" if name.startswith("pf") else "windmill"
                status, _, obj = s.json("POST", ENGINES, {
                    "name": name, "engine_type": etype,
                    "api_url": w.pf.base_url if etype == "prefect" else w.wm.url,
                    "api_key": key, "config": {"workspace": "demo"} if etype == "windmill"
                    else {}}, token=token)
                self.assertEqual(status, 201, obj)
                status, _, obj = s.json("POST", ENGINES + "/%s/test" % name, token=token)
                self.assertEqual((status, obj["status"]), (200, "up"), obj)
                self.assertEqual(s.request("GET", "/api/v1/workflows?engine=" + name,
                                           token=token).status, 200)
            # the keys in use live on, encrypted: every key above and the passwords
            needles = {label: v.encode() for label, v in w.m.values.items()
                       if v in scan_keys or label.startswith("scan-")}
            for label in ("n8n-key", "n8n-key-patched", "prefect-key", "windmill-key"):
                needles[label] = w.keys[label].encode()
            needles["prefect-key as sent (Basic)"] = base64.b64encode(
                w.keys["prefect-key"].encode())
            time.sleep(0.2)
            try:
                hits, total = sweeplib.scan_memory(s.proc.pid, list(needles.values()))
            except PermissionError:
                self.skipTest("no right to read /proc/PID/mem (root or CAP_SYS_PTRACE needed)")
            found = {label: hits[n] for label, n in needles.items() if n in hits}
            print("\n  memory of the server: %.1f MB read, %d secrets looked for, %d found"
                  % (total / 1e6, len(needles), len(found)))
            for label, where in found.items():
                print("  FOUND %s: %d copies, e.g. %r" % (label, len(where), where[0]))
            self.assertGreater(total, 1 << 20)
            self.assertEqual(sorted(found), [], "secrets left in the server's memory")
            rc, _ = s.stop()
            self.assertEqual(rc, 0)
            self.assertEqual(s.sanitizer_reports(), [])
        finally:
            s.close()


if __name__ == "__main__":
    harness.main()
