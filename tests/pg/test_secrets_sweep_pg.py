"""test_secrets_sweep_pg.py: the secrets sweep of tests/reliability/test_secrets_sweep.py
on PostgreSQL, with a marker in a real database password. ctest runs it with the "pg"
fixture's cluster (WF_TEST_PG_URL_FILE); without one it is skipped.

A role of its own whose password is a marker (made with psql as the cluster's superuser,
over its Unix socket) owns a database of its own. Through a DATABASE_URL with that
password: the command-line drive of the SQLite sweep (every command, text and json logs
at debug level), a server (text log) that takes every route of the SQLite sweep, and a
second server (json log) on the same database. While the first runs, the role's
password changes and its connections are cut: the server answers 503 with the reason
(/readyz, the API), never a password, and serves again once the password is back. Then
commands and a server given the old, now wrong, password fail without showing it. Every
log line, answer, /metrics, command output, export and /proc/PID/cmdline is searched
for every marker (keys, SECRET_KEY, both passwords); the server's core size limit must
be 0. /proc/PID/environ holds DATABASE_URL with the password, as the test passes it
there: reported, not counted.
"""

import os
import subprocess
import sys
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reliability"))
sys.path.insert(0, os.path.join(HERE, "..", "api"))

import harness  # noqa: E402
from harness import ADMIN, ADMIN_PASSWORD, Server, scaled  # noqa: E402
import sweeplib  # noqa: E402
from sweeplib import Sweep  # noqa: E402
from test_secrets_sweep import ApiDriver, Drives, World  # noqa: E402

ENGINES = "/api/v1/engines"


def cluster_url():
    path = os.environ.get("WF_TEST_PG_URL_FILE")
    if not path or not os.path.exists(path):
        raise unittest.SkipTest("no PostgreSQL test cluster (WF_TEST_PG_URL_FILE)")
    with open(path) as f:
        return f.read().strip()


def psql(conninfo, *queries):
    args = ["psql", conninfo, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    for q in queries:
        args += ["-c", q]
    return subprocess.run(args, capture_output=True, text=True, check=True,
                          timeout=scaled(30)).stdout.strip()


class PgSecretsSweep(Drives, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        url = cluster_url()
        cls.socket_dir = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["host"][0]
        # the cluster's superuser is trusted on its socket (tests/pg/cluster.sh)
        cls.su = "host=%s user=postgres dbname=postgres" % cls.socket_dir
        cls.world = World()
        m = cls.world.m
        cls.role = "sweep_%d" % os.getpid()
        cls.db = "sweep_db_%d" % os.getpid()
        cls.password = m.new("db-password")
        cls.changed_password = m.new("db-password-changed")
        try:
            psql(cls.su, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % cls.db,
                 "DROP ROLE IF EXISTS %s" % cls.role,
                 "CREATE ROLE %s LOGIN PASSWORD '%s'" % (cls.role, cls.password),
                 "CREATE DATABASE %s OWNER %s" % (cls.db, cls.role))
        except BaseException:
            cls.world.stop()
            raise
        cls.url = "postgresql://%s:%s@/%s?host=%s&connect_timeout=5" % (
            cls.role, cls.password, cls.db, quote(cls.socket_dir))

    @classmethod
    def tearDownClass(cls):
        try:
            psql(cls.su, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % cls.db,
                 "DROP ROLE IF EXISTS %s" % cls.role)
        finally:
            cls.world.stop()

    def set_password(self, password):
        psql(self.su, "ALTER ROLE %s PASSWORD '%s'" % (self.role, password))

    def cut_connections(self):
        psql(self.su, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                      "WHERE usename = '%s'" % self.role)

    def test_sweep_postgres(self):
        w = self.world
        sweep = Sweep(w.m)
        t0 = time.monotonic()
        s = Server(env=w.server_env(DATABASE_URL=self.url, WFREG_HEALTH_INTERVAL="1"))
        notes = []
        try:
            s.add_user("sweep-admin", "admin", w.passwords["sweep-admin-password"])
            s.add_user("sweep-viewer", "viewer", w.passwords["sweep-viewer-password"])
            s.start()
            d = ApiDriver(self, w, sweep, s, "server pg text")
            routes = d.run()
            self.drive_cli(sweep, s, "text")
            self.drive_cli(sweep, s, "json")
            notes.append(sweeplib.process_checks(self, sweep, s.proc.pid, "server pg text"))

            # the password changes under the server, whose connections are cut
            token = s.login(ADMIN, ADMIN_PASSWORD)
            self.set_password(self.changed_password)
            self.cut_connections()
            seen_503 = False
            for _ in range(40):  # bounded: about 10 s
                r = d.call("GET", "/readyz")
                d.call("GET", ENGINES, token=token)
                d.call("GET", "/metrics")
                if r.status == 503:
                    seen_503 = True
                    break
                time.sleep(0.25)
            self.assertTrue(seen_503, "/readyz never answered 503 without the database")
            for path in (ENGINES, ENGINES + "/n8n-db", "/api/v1/auth/me"):
                d.call("GET", path, token=token)
            d.call("POST", ENGINES, {"name": "while-down", "engine_type": "n8n",
                                     "api_url": w.n8n.url,
                                     "api_key": w.m.new("key-while-down")}, token=token)
            self.set_password(self.password)
            back = harness.poll(lambda: d.call("GET", "/readyz").status == 200, 15,
                                every=0.25, max_tries=100)
            self.assertTrue(back, "the server does not serve again once the password is back")
            d.call("GET", ENGINES, token=token, expect=200)
            rc, took = s.stop()
            self.assertEqual(rc, 0, "exit after SIGTERM (%.1f s)" % took)
            self.assertEqual(s.sanitizer_reports(), [])
            sweep.search_lines("server log line", "server pg text", s.log())

            # a second server on the same database, json log
            s2 = Server(same_db_as=s, env={"LOG_FORMAT": "json"})
            try:
                s2.start()
                d2 = ApiDriver(self, w, sweep, s2, "server pg json")
                tok = s2.login("sweep-admin", w.passwords["sweep-admin-password"])
                for path in ("/readyz", "/metrics", ENGINES, ENGINES + "/n8n-db",
                             "/api/v1/workflows?engine=n8n-db"):
                    d2.call("GET", path, token=tok, expect=200)
                d2.call("POST", ENGINES + "/pf-db/test", token=tok, expect=200)
                d2.call("PATCH", ENGINES + "/pf-db", {"api_key": w.keys["prefect-key"]},
                        token=tok, expect=200)
                routes += d2.count
                notes.append(sweeplib.process_checks(self, sweep, s2.proc.pid,
                                                     "server pg json"))
                self.assertEqual(s2.stop()[0], 0)
                sweep.search_lines("server log line", "server pg json", s2.log())
            finally:
                s2.close()

            # the old password, now wrong: commands and a server fail without showing it
            wrong = self.url.replace(self.password, self.changed_password)
            for fmt in ("text", "json"):
                env = dict(s.env, DATABASE_URL=wrong, LOG_FORMAT=fmt, LOG_LEVEL="debug")
                for args in (("check",), ("engines", "list"), ("migrate", "status"),
                             ("keys", "check"), ("users", "list"),
                             ("serve", "--listen", "127.0.0.1:0")):
                    p = self.cli(sweep, env, "wrong password " + fmt, *args, timeout=30)
                    self.assertNotEqual(p.returncode, 0, args)
                    self.assertIn(b"password authentication failed", p.stdout + p.stderr)
            env = dict(s.env, LOG_LEVEL="debug")
            self.cli(sweep, env, "pg", "check", expect=1)  # 'locked'
            self.cli(sweep, env, "pg", "migrate", "up", "--sql", expect=0)
            self.cli(sweep, env, "pg", "migrate", "verify", expect=0)
        finally:
            s.close()
        self.check_keys_sent()

        print("\n" + sweep.report("secrets sweep (PostgreSQL)"))
        print("  %d markers, the database password among them; %d API requests; %.1f s" % (
            len(w.m.values), routes, time.monotonic() - t0))
        for n in notes:
            print("  " + n)
        self.assertEqual(sweep.hits, [], sweep.report("secrets found"))


def quote(s):
    return urllib.parse.quote(s, safe="")


if __name__ == "__main__":
    harness.main()
