"""test_server.py: `wfreg serve` on PostgreSQL.

- Two instances on one database behave as one registry: a change committed on one is
  read on the other within one second (LISTEN/NOTIFY), and a name created on both at once
  ends with exactly one 201 and one 409.
- The database going away and coming back: the API (reads and writes) and /readyz
  answer 503 with a clear detail while it is gone, the log says so, the process stays
  up, and it serves normally (reads and writes) within 5 seconds of the database's
  return, without the write it refused. This test starts a PostgreSQL of its own
  (tests/pg/cluster.sh), so stopping it disturbs no other test.

Run by ctest with the shared cluster's URL in the file WF_TEST_PG_URL_FILE.
"""

import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))

from harness import ADMIN, ADMIN_PASSWORD, Server, main, poll, scaled  # noqa: E402
from test_multi import TwoInstancesTests  # noqa: E402

ENGINES = "/api/v1/engines"
CLUSTER = os.path.join(HERE, "cluster.sh")


def psql(url, query):
    return subprocess.run(["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c",
                           query], capture_output=True, text=True, check=True,
                          timeout=scaled(30)).stdout.strip()


def new_database(admin_url, name):
    """A new empty database on the cluster of admin_url; its URL."""
    psql(admin_url, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
    psql(admin_url, "CREATE DATABASE %s" % name)
    return admin_url.replace("@/wfreg?", "@/%s?" % name)


def shared_admin_url():
    path = os.environ.get("WF_TEST_PG_URL_FILE")
    if not path or not os.path.exists(path):
        raise unittest.SkipTest("no PostgreSQL test cluster (WF_TEST_PG_URL_FILE)")
    with open(path) as f:
        return f.read().strip()


def stop_server(s):
    if s is not None:
        if s.proc is not None and s.proc.poll() is None:
            rc, _ = s.stop()
            assert rc == 0, "exit %s after SIGTERM" % rc
        s.close()


class TwoInstancesOnPostgres(TwoInstancesTests, unittest.TestCase):
    """The tests of tests/api/test_multi.py, on one PostgreSQL database (LISTEN/NOTIFY)."""

    @classmethod
    def database_env(cls):
        return {"DATABASE_URL": new_database(shared_admin_url(), "wfreg_api_%d" % os.getpid())}


class DatabaseGoesAway(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.TemporaryDirectory(prefix="wfreg-pg-own.")
        subprocess.run(["bash", CLUSTER, "start", self.state.name], check=True,
                       capture_output=True, timeout=scaled(90))
        with open(os.path.join(self.state.name, "url")) as f:
            self.url = f.read().strip()
        self.dir = urllib.parse.parse_qs(urllib.parse.urlparse(self.url).query)["host"][0]
        self.server = None

    def tearDown(self):
        try:
            stop_server(self.server)
        finally:
            subprocess.run(["bash", CLUSTER, "stop", self.state.name], capture_output=True,
                           timeout=scaled(60))
            self.state.cleanup()

    def pg_ctl(self, *args):
        bindir = os.path.dirname(subprocess.run(
            ["bash", "-c", "ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1"],
            capture_output=True, text=True).stdout.strip() + "/")
        cmd = [os.path.join(bindir, "pg_ctl"), "-D", os.path.join(self.dir, "data")] + list(args)
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, check=True, capture_output=True, cwd=self.dir, timeout=scaled(60))

    def test_503_while_gone_then_served_within_5_seconds_of_its_return(self):
        self.server = Server(env={"DATABASE_URL": self.url}).start()
        token = self.server.login(ADMIN, ADMIN_PASSWORD)
        body = {"name": "before", "engine_type": "n8n", "api_url": "https://b.example.com"}
        self.assertEqual(self.server.json("POST", ENGINES, body, token=token)[0], 201)

        # fast: sessions are cut as in a crash, but the test cluster runs without fsync, so
        # only a clean stop keeps what was committed
        self.pg_ctl("stop", "-m", "fast", "-w")
        gone = poll(lambda: self.server.request("GET", ENGINES, token=token).status == 503,
                    scaled(5))
        self.assertTrue(gone, "the API does not answer 503 while the database is gone")
        r = self.server.request("GET", ENGINES, token=token)
        self.assertIn("database unavailable", r.json()["detail"])
        self.assertEqual(self.server.request("GET", "/readyz").status, 503)
        self.assertEqual(self.server.request("GET", "/healthz").status, 200)
        body2 = {"name": "during", "engine_type": "n8n", "api_url": "https://d.example.com"}
        status, _, obj = self.server.json("POST", ENGINES, body2, token=token)
        self.assertEqual(status, 503, obj)
        self.assertIn("database unavailable", obj["detail"])
        self.assertIsNone(self.server.proc.poll(), "the process stays up")
        self.assertIsNotNone(self.server.wait_log("the database does not answer", 5),
                             "the log does not say the database is gone")
        log = self.server.log_text()
        self.assertNotIn(urllib.parse.urlparse(self.url).password, log)

        self.pg_ctl("start", "-w", "-t", "30", "-l", os.path.join(self.dir, "server.log"))
        back = time.monotonic()
        ok = poll(lambda: self.server.request("GET", "/readyz").status == 200, scaled(5))
        self.assertTrue(ok, "/readyz is not 200 within 5 s of the database's return")
        # every worker serves again: reads and a write, several times over the connections
        for i in range(6):
            self.assertEqual(self.server.request("GET", ENGINES + "/before",
                                                 token=token).status, 200)
            b = {"name": "after-%d" % i, "engine_type": "n8n",
                 "api_url": "https://a.example.com"}
            status, _, obj = self.server.json("POST", ENGINES, b, token=token)
            self.assertEqual(status, 201, obj)
        self.assertLess(time.monotonic() - back, scaled(5) + 2)
        self.assertIsNotNone(self.server.wait_log("the database answers again", 1))
        # and the write refused while it was gone was not made
        self.assertEqual(self.server.request("GET", ENGINES + "/during", token=token).status,
                         404)


if __name__ == "__main__":
    main()
