"""test_runs.py: `wfreg run ENGINE WORKFLOW [--param k=v] [--wait]` against the fake
engines: runs that end succeeded, failed (and crashed), cancelled, for each engine, with
the exit status that says so; n8n through the workflow's webhook (without the API key)
and a plain refusal for a workflow without one; Prefect's parameters and a run that no
worker picks up (queued, and --wait bounded); Windmill's flows and scripts by path.

Run: python3 tests/engines/test_runs.py path/to/wfreg
"""

import json

import harness
from harness import EngineTest, FakeN8n, FakePrefect, FakeWindmill

STEP_MS = 30


class N8nRuns(EngineTest):
    def setUp(self):
        super().setUp()
        self.n8n = self.fake(FakeN8n, keys=["n8n-run-key-1"], workflows=5, step_ms=STEP_MS)
        self.reg.add("n8n-a", "n8n", self.n8n.url, key="n8n-run-key-1")
        items = self.reg.run("workflows", "list", "--json").json()["items"]
        self.ids = {w["name"]: w["id"] for w in items}

    def run_wait(self, name, *args):
        r = self.reg.run("run", "n8n-a", self.ids[name], "--wait", "--json", *args)
        return r, r.json() if r.out else None

    def test_terminal_states(self):
        self.n8n.configure(outcomes=["success", "failed", "crashed", "cancelled"])
        for want, code in (("succeeded", 0), ("failed", 1), ("failed", 1), ("cancelled", 1)):
            r, run = self.run_wait("Workflow 001")
            self.assertEqual(run["status"], want, r)
            self.assertEqual(r.code, code, r)
            self.assertEqual(run["workflow_id"], self.ids["Workflow 001"])
            self.assertIsNotNone(run["run_id"])
            self.assertIsNotNone(run["ended_at"])

    def test_webhook_call(self):
        r, run = self.run_wait("Workflow 001", "--param", "who=me", "--param-json", "n=2")
        self.assertEqual(r.code, 0, r)
        hooks = self.n8n.requests("/webhook/")
        self.assertEqual(len(hooks), 1)
        self.assertEqual(hooks[0]["method"], "POST")
        self.assertEqual(json.loads(hooks[0]["body"]), {"who": "me", "n": 2})
        self.assertIsNone(self.n8n.header_of(hooks[0], "X-N8N-API-KEY"))
        # a webhook without httpMethod is a GET: the parameters in the query
        r, run = self.run_wait("Workflow 002", "--param", "a=b c")
        self.assertEqual(run["status"], "succeeded", r)
        hook = self.n8n.requests("/webhook/")[-1]
        self.assertEqual((hook["method"], hook["query"]), ("GET", "a=b%20c"))

    def test_workflow_without_webhook(self):
        r = self.reg.run("run", "n8n-a", self.ids["Workflow 004"])
        self.assertEqual(r.code, 1, r)
        self.assertIn("has no Webhook trigger", r.err)
        r = self.reg.run("run", "n8n-a", self.ids["Workflow 005"])  # a webhook, inactive
        self.assertIn("is inactive", r.err)
        r = self.reg.run("run", "n8n-a", "NoSuchWorkflow00")
        self.assertEqual(r.code, 1, r)
        self.assertIn("not found", r.err)
        self.assertEqual(self.n8n.request_count("/webhook/"), 0)


class PrefectRuns(EngineTest):
    def setUp(self):
        super().setUp()
        self.pf = self.fake(FakePrefect, auth="basic", keys=["admin:pass"], deployments=3,
                            flows=1, step_ms=STEP_MS, late_after_ms=100)
        self.reg.add("pf", "prefect", self.pf.base_url, key="admin:pass")
        items = self.reg.run("workflows", "list", "--json").json()["items"]
        self.dep = items[0]["id"]

    def test_terminal_states(self):
        self.pf.configure(outcomes=["success", "failed", "crashed", "cancelled"])
        for want, code in (("succeeded", 0), ("failed", 1), ("failed", 1), ("cancelled", 1)):
            r = self.reg.run("run", "pf", self.dep, "--wait", "--json")
            self.assertEqual(r.json()["status"], want, r)
            self.assertEqual(r.code, code, r)
            self.assertEqual(r.json()["workflow_id"], self.dep)

    def test_parameters_and_no_worker(self):
        self.pf.configure(no_worker=True)
        r = self.reg.run("run", "pf", self.dep, "--param", "x=1", "--param-json", "y=[1,2]",
                         "--json")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json()["status"], "queued")
        sent = json.loads(self.pf.requests("/api/deployments/")[-1]["body"])
        self.assertEqual(sent, {"parameters": {"x": "1", "y": [1, 2]}})
        r = self.reg.run("run", "pf", self.dep, "--wait", "--wait-timeout", "1", "--json")
        self.assertEqual(r.code, 1, r)
        self.assertIn("still not finished", r.err)
        self.assertEqual(r.json()["status"], "queued")  # Late is still queued
        r = self.reg.run("run", "pf", "00000000-0000-0000-0000-000000000000")
        self.assertEqual(r.code, 1, r)
        self.assertIn("Deployment not found", r.err)


class WindmillRuns(EngineTest):
    def setUp(self):
        super().setUp()
        self.wm = self.fake(FakeWindmill, keys=["wm-run-token"], flows=2, scripts=2,
                            step_ms=STEP_MS)
        self.reg.add("wm", "windmill", self.wm.url, key="wm-run-token",
                     config={"workspace": "demo"})
        items = self.reg.run("workflows", "list", "--json").json()["items"]
        self.flow = [w["id"] for w in items if w["kind"] == "flow"][0]
        self.script = [w["id"] for w in items if w["kind"] == "script"][0]

    def test_terminal_states(self):
        self.wm.configure(outcomes=["success", "failed", "cancelled", "skipped"])
        for want, code in (("succeeded", 0), ("failed", 1), ("cancelled", 1), ("succeeded", 0)):
            r = self.reg.run("run", "wm", self.flow, "--wait", "--json", "--param", "a=1")
            self.assertEqual(r.json()["status"], want, r)
            self.assertEqual(r.code, code, r)
        posts = self.wm.requests("/api/w/demo/jobs/run/f/")
        self.assertEqual(len(posts), 4)
        self.assertEqual(posts[0]["path"], "/api/w/demo/jobs/run/f/" + self.flow)
        self.assertEqual(json.loads(posts[0]["body"]), {"a": "1"})

    def test_scripts(self):
        r = self.reg.run("run", "wm", self.script, "--wait", "--json")  # a flow first, then
        self.assertEqual(r.json()["status"], "succeeded", r)          # a script
        self.assertEqual(self.wm.request_count("/api/w/demo/jobs/run/p/"), 1)
        r = self.reg.run("run", "wm", self.script, "--kind", "script", "--json")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.wm.request_count("/api/w/demo/jobs/run/p/"), 2)
        r = self.reg.run("run", "wm", "f/no/such", "--kind", "flow")
        self.assertEqual(r.code, 1, r)
        self.assertIn("not found", r.err)


if __name__ == "__main__":
    harness.main()
