"""test_db_faults.py: the SQLite database made read-only under a running registry, and
made writable again (issue 7, "Faults"). The PostgreSQL side, the database stopped and
started again under a running server (503s with a clear detail while it is gone, the
process up, reads and writes served again within 5 s), is tests/pg/test_server.py.

The server runs as `nobody` when the test runs as root (root ignores file modes), on a
database folder and files that belong to it. Then the folder, the database file and its
-wal and -shm files are made read-only:

1. While the server runs, nothing changes for it: it opened its files for writing before
   the change, and a file's mode is checked when it is opened, not at each write (POSIX).
   Every write there is answered 2xx (and is in the file afterwards) or a clear 503, none
   a 500, and the process stays up.
2. The read-only file reaches a server when it opens it: here a server started on it (as
   after a crash, a deploy or a reboot; the -wal and -shm files are still there, the
   folder being read-only). It starts; reads are served from the snapshot; every write
   (create, PATCH, DELETE, a log-in's session) answers 503 with a detail that says the
   database is read-only; /healthz answers; nothing crashes.
3. The modes restored, writes succeed again within a few seconds, with no restart: the
   server reopens connections that were opened read-only once the file is writable.

Bounded waits everywhere. Figures printed at the end.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))

import harness  # noqa: E402
from harness import ADMIN, ADMIN_PASSWORD, Server, poll, scaled  # noqa: E402

ENGINES = "/api/v1/engines"
NOBODY = 65534
RECOVERY_S = 3.0  # writes work again within this long after the modes are restored


def engine(name):
    return {"name": name, "engine_type": "n8n", "api_url": "https://%s.example.com" % name}


def as_nobody_prefix():
    """The command prefix that runs wfreg as nobody when we are root; [] otherwise."""
    if os.getuid() != 0:
        return []
    if shutil.which("setpriv"):
        return ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                "--"]
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    raise unittest.SkipTest("running as root without setpriv or runuser: the file modes "
                            "would not apply to the server")


class Unprivileged(Server):
    """A Server whose `wfreg serve` runs as nobody when we are root. The harness starts
    harness.WFREG: a wrapper script (in the database's folder, made before it is
    read-only) takes its place while the process starts."""

    def start(self):
        prefix = as_nobody_prefix()
        if not prefix:
            return super().start()
        wrapper = os.path.join(self.cwd, "wfreg-as-nobody.sh")
        if not os.path.exists(wrapper):
            with open(wrapper, "w") as f:
                f.write("#!/bin/sh\nexec %s %s \"$@\"\n" % (" ".join(prefix), harness.WFREG))
            os.chmod(wrapper, 0o755)
        saved, harness.WFREG = harness.WFREG, wrapper
        try:
            return super().start()
        finally:
            harness.WFREG = saved


class SqliteReadOnly(unittest.TestCase):
    def setUp(self):
        prefix = as_nobody_prefix()  # skips when it cannot be done
        if prefix:
            p = subprocess.run(prefix + [harness.WFREG, "--version"], capture_output=True,
                               timeout=scaled(30))
            self.assertEqual(p.returncode, 0, "nobody cannot run %s (every folder on its path"
                             " must be open to others): %s" % (harness.WFREG, p.stderr))
        self.base = Server(env={"WFREG_HEALTH_INTERVAL": "0"})
        self.server = None
        self.dir = os.path.dirname(self.base.db_path)
        if prefix:
            for path in self.paths(with_dir=True):
                os.chown(path, NOBODY, NOBODY)

    def tearDown(self):
        self.set_modes(writable=True)
        if self.server is not None:
            self.server.close()
        self.base.close()

    def paths(self, with_dir=False):
        files = [os.path.join(self.dir, f) for f in sorted(os.listdir(self.dir))
                 if f.startswith("db.sqlite")]
        return ([self.dir] if with_dir else []) + files

    def set_modes(self, writable):
        for p in self.paths():
            os.chmod(p, 0o600 if writable else 0o400)
        os.chmod(self.dir, 0o750 if writable else 0o550)

    def start(self):
        self.server = Unprivileged(same_db_as=self.base).start()
        return self.server

    def stop(self):
        rc, took = self.server.stop()
        self.assertEqual(rc, 0, "exit %s after SIGTERM (%.1f s); log:\n%s"
                         % (rc, took, self.server.log_text()[-3000:]))
        self.assertEqual(self.server.sanitizer_reports(), [])
        self.server.close()
        self.server = None

    def writes(self, tag):
        """One of each write: (what, response) for a create, a PATCH, a DELETE."""
        s, t = self.server, self.token
        out = [("create", s.request("POST", ENGINES, engine("w-" + tag), token=t)),
               ("patch", s.request("PATCH", ENGINES + "/keep", {"active": False}, token=t)),
               ("delete", s.request("DELETE", ENGINES + "/gone-" + tag, token=t))]
        return out

    def test_read_only_and_back(self):
        t0 = time.monotonic()
        s = self.start()
        self.token = s.login(ADMIN, ADMIN_PASSWORD)
        for name in ("keep", "gone-running", "gone-opened", "gone-after"):
            r = s.request("POST", ENGINES, engine(name), token=self.token)
            self.assertEqual(r.status, 201, r)

        # 1. read-only while it runs: its open files stay writable
        self.set_modes(writable=False)
        running = self.writes("running")
        for what, r in running:
            self.assertIn(r.status, (200, 201, 204, 503), "%s while read-only: %r" % (what, r))
            if r.status == 503:
                self.assertIn("database", r.json()["detail"])
        self.assertEqual(s.request("GET", ENGINES + "/keep", token=self.token).status, 200)
        self.assertIsNone(s.proc.poll(), "the server stays up")
        committed = [what for what, r in running if r.status < 300]

        # 2. a server that opens the read-only file
        self.stop()
        self.assertTrue(os.path.exists(self.base.db_path + "-wal"),
                        "the -wal file is gone: the folder was not read-only?")
        s = self.start()
        self.assertEqual(s.request("GET", "/healthz").status, 200)
        status, _, listing = s.json("GET", ENGINES + "?limit=500", token=self.token)
        self.assertEqual(status, 200, listing)
        served = {e["name"]: e for e in listing["items"]}
        self.assertIn("keep", served)
        # what phase 1 acknowledged is in the file, and nothing else
        self.assertEqual("w-running" in served, "create" in committed)
        self.assertEqual(served["keep"]["active"], "patch" not in committed)
        self.assertEqual("gone-running" in served, "delete" not in committed)
        opened = self.writes("opened")
        r = s.request("POST", "/api/v1/auth/login",
                      {"username": ADMIN, "password": ADMIN_PASSWORD})
        opened.append(("log-in", r))
        for what, r in opened:
            self.assertEqual(r.status, 503, "%s on a read-only database: %r" % (what, r))
            self.assertIn("read", r.json()["detail"].lower())
            self.assertIn("database", r.json()["detail"])
        self.assertEqual(s.request("GET", ENGINES + "/gone-opened", token=self.token).status,
                         200, "a refused DELETE left the engine served")
        readyz = s.request("GET", "/readyz").status
        self.assertIsNone(s.proc.poll(), "the server stays up")
        self.assertIsNotNone(s.wait_log(r"WARN.*the database is read-only for this process", 3),
                             "no word of it in the log")

        # 3. writable again: writes succeed again, no restart
        self.set_modes(writable=True)
        back = time.monotonic()
        tries = []

        def write_ok():
            r = s.request("POST", ENGINES, engine("w-after-%d" % len(tries)), token=self.token)
            tries.append(r.status)
            self.assertIn(r.status, (201, 503), r)
            return r.status == 201

        ok = poll(write_ok, scaled(RECOVERY_S + 2), every=0.1, max_tries=200)
        recovered_in = time.monotonic() - back
        self.assertTrue(ok, "writes still fail %.1f s after the modes were restored: %s"
                        % (recovered_in, tries[-5:]))
        self.assertLess(recovered_in, scaled(RECOVERY_S))
        self.assertIsNotNone(s.wait_log(r"the database is writable again", 1), s.log_text())
        # every worker writes again: several of each kind, over new connections
        for i in range(4):
            name = "again-%d" % i
            for method, path, body, want in (
                    ("POST", ENGINES, engine(name), 201),
                    ("PATCH", ENGINES + "/" + name, {"active": False}, 200),
                    ("PATCH", ENGINES + "/keep", {"active": i % 2 == 0}, 200),
                    ("DELETE", ENGINES + "/" + name, None, 204)):
                r = s.request(method, path, body, token=self.token)
                self.assertEqual(r.status, want, "%s %s after the restore: %r"
                                 % (method, path, r))
        self.assertEqual(s.request("DELETE", ENGINES + "/gone-after",
                                   token=self.token).status, 204)
        s.login(ADMIN, ADMIN_PASSWORD)
        self.assertEqual(s.request("GET", "/readyz").status, 200)
        self.stop()

        db = sqlite3.connect(self.base.db_path, timeout=scaled(10))
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            stored = {n for (n,) in db.execute("SELECT name FROM workflow_engines")}
        finally:
            db.close()
        self.assertIn("w-after-%d" % (len(tries) - 1), stored)
        self.assertNotIn("w-opened", stored)
        print("\n  figures: as %s; read-only while running: %d of 3 writes committed (open"
              " files stay writable), the rest 503; on a server that opened the read-only"
              " file: %d writes, all 503 with a clear detail, reads 200, /readyz %d; modes"
              " restored: writes succeed again after %.2f s (%d tries), no restart; 0"
              " crashes; %.1f s"
              % ("nobody" if os.getuid() == 0 else "uid %d" % os.getuid(), len(committed),
                 len(opened), readyz, recovered_in, len(tries), time.monotonic() - t0))


if __name__ == "__main__":
    harness.main()
