"""test_admin_page.py: the admin page (issue 6) in a real browser. ctest runs it as
`python3 tests/web/test_admin_page.py path/to/wfreg` (label browser).

It starts `wfreg serve` through tests/api/harness.py (a fresh SQLite database with an
admin and a viewer, engine health checked every second) and a fake n8n in-process
(tests/fakes), with three workflows: two with a webhook trigger, so runs can be started,
and one without. Then it runs `node tests/web/admin.spec.mjs`, which drives Debian's
Chromium through playwright-core at 1440 and 360 pixels wide and fails on any console
error, failed request or request leaving wfreg's origin (tests/web/guard.mjs). The spec's
output is printed; a non-zero exit fails the test. Last, the server is stopped and must
exit 0.

Screenshots go to WFREG_ARTIFACTS (ctest sets build/artifacts/web; default ./artifacts),
whose PNG files are removed first.
What it needs (node 20 or newer, /usr/bin/chromium, tests/web/node_modules from
package-lock.json) comes from scripts/install-deps.sh; without it the test fails saying
so, it is never skipped. Every wait is bounded: the spec at 240 s, the rest as in the
API tests. Only 127.0.0.1 is contacted.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
import harness  # noqa: E402
from harness import Server  # noqa: E402
from fake_n8n import FakeN8n  # noqa: E402

SPEC = os.path.join(HERE, "admin.spec.mjs")
CHROMIUM = "/usr/bin/chromium"
NODE_MIN_MAJOR = 20
SPEC_TIMEOUT = 240  # seconds for the whole node run; the spec gives up itself at 200
SECRET_KEY = "web-test-secret-key"
N8N_KEY = "n8n-web-test-key-0123"
N8N_WORKFLOWS = [
    {"name": "Nightly import", "active": True, "tags": ["etl"],
     "webhook": {"path": "nightly-import", "httpMethod": "POST"}},
    {"name": "Send report", "active": True, "tags": ["reports"],
     "webhook": {"path": "send-report"}},  # GET
    {"name": "Manual cleanup", "trigger": "manual", "active": False},
    {"name": "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>",
     "trigger": "manual", "active": False},
]
INSTALL_HINT = "run scripts/install-deps.sh (as root or with sudo), then this test again"


def missing_tools():
    """What the browser test needs and does not find: a list of readable lines."""
    problems = []
    node = shutil.which("node")
    if not node:
        problems.append("node is not installed")
    else:
        out = subprocess.run([node, "--version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
        m = re.match(r"v(\d+)\.", out)
        if not m or int(m.group(1)) < NODE_MIN_MAJOR:
            problems.append("node %s is too old: playwright-core needs %d or newer"
                            % (out or "?", NODE_MIN_MAJOR))
    if not os.access(CHROMIUM, os.X_OK):
        problems.append("%s is missing (Debian package chromium)" % CHROMIUM)
    with open(os.path.join(HERE, "package-lock.json")) as f:
        lock = json.load(f)
    want = lock["packages"]["node_modules/playwright-core"]["version"]
    installed = os.path.join(HERE, "node_modules", "playwright-core", "package.json")
    if not os.path.exists(installed):
        problems.append("tests/web/node_modules is missing playwright-core")
    else:
        with open(installed) as f:
            have = json.load(f).get("version")
        if have != want:
            problems.append("tests/web/node_modules has playwright-core %s, package-lock.json "
                            "pins %s" % (have, want))
    return problems


class AdminPage(unittest.TestCase):

    def setUp(self):
        problems = missing_tools()
        if problems:
            self.fail("the browser test cannot run: %s.\n%s" % ("; ".join(problems),
                                                                 INSTALL_HINT))
        self.fake = FakeN8n(keys=[N8N_KEY], fixture={"workflows": N8N_WORKFLOWS},
                            step_ms=300).start()
        self.addCleanup(self.fake.stop)
        # The fake n8n is also the server's environment engine n8n-default (read-only on
        # the page), and n8n-down is registered where nothing listens (an error row on
        # the workflows page, "down" in the table). One workflow's name is markup, which
        # the page must show as text.
        self.server = Server(env={"SECRET_KEY": SECRET_KEY, "WFREG_HEALTH_INTERVAL": "1",
                                  "N8N_API_URL": self.fake.base_url, "N8N_API_KEY": N8N_KEY})
        self.addCleanup(self.server.close)
        self.server.start()
        token = self.server.login(harness.ADMIN, harness.ADMIN_PASSWORD)
        status, _, obj = self.server.json("POST", "/api/v1/engines", {
            "name": "n8n-down", "engine_type": "n8n", "api_url": "http://127.0.0.1:1",
            "api_key": "unused-key"}, token=token)
        self.assertEqual(status, 201, obj)
        # a row the Python system wrote: a name today's rules refuse, inactive (never
        # asked); the page must still edit it
        self.server.sql("INSERT INTO workflow_engines (name, engine_type, api_url, active, config)"
                        " VALUES ('My Engine', 'n8n', 'http://127.0.0.1:1/legacy', 0, '{}')")

    def run_spec(self):
        """Runs the spec: (exit code, or None when it had to be stopped; its output; the
        screenshots' folder)."""
        env = dict(os.environ)
        env.update({
            "WFREG_URL": "http://127.0.0.1:%d" % self.server.port,
            "FAKE_N8N_URL": self.fake.base_url,
            "FAKE_N8N_KEY": N8N_KEY,
            "WFREG_ADMIN": harness.ADMIN,
            "WFREG_ADMIN_PASSWORD": harness.ADMIN_PASSWORD,
            "WFREG_VIEWER": harness.VIEWER,
            "WFREG_VIEWER_PASSWORD": harness.VIEWER_PASSWORD,
            "WFREG_ARTIFACTS": os.path.abspath(env.get("WFREG_ARTIFACTS") or "artifacts"),
        })
        # this run's screenshots only: an old failed-*.png would mislead whoever looks
        shots = env["WFREG_ARTIFACTS"]
        if os.path.isdir(shots):
            for name in os.listdir(shots):
                if name.endswith(".png"):
                    os.remove(os.path.join(shots, name))
        proc = subprocess.Popen(["node", SPEC], cwd=HERE, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            out, _ = proc.communicate(timeout=SPEC_TIMEOUT)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            # SIGTERM first: playwright-core then closes the browser it launched
            proc.send_signal(signal.SIGTERM)
            try:
                out, _ = proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate(timeout=15)
            out += b"\n(test_admin_page.py: stopped the spec after %d s)\n" % SPEC_TIMEOUT
            rc = None
        return rc, out.decode("utf-8", errors="replace"), env["WFREG_ARTIFACTS"]

    def test_admin_page(self):
        t0 = time.monotonic()
        rc, out, artifacts = self.run_spec()
        sys.stdout.write(out)
        sys.stdout.write("(node: %.1f s; screenshots in %s)\n" % (time.monotonic() - t0,
                                                                  artifacts))
        sys.stdout.flush()
        problems = []
        if rc != 0:
            problems.append("node admin.spec.mjs: exit %s (its output is above)" % rc)
        stop_rc, took = self.server.stop()
        if stop_rc != 0:
            problems.append("wfreg exit %s after SIGTERM (%.1f s)" % (stop_rc, took))
        if self.server.sanitizer_reports():
            problems.append("sanitizer reports: %s" % self.server.sanitizer_reports()[:5])
        if problems:
            self.fail("; ".join(problems) + "\nwfreg log tail:\n"
                      + "\n".join(self.server.log()[-40:]))


if __name__ == "__main__":
    harness.main()
