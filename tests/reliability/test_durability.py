"""test_durability.py: `kill -9` of the server in the middle of a stream of writes,
repeated 20 times (issue 7, "Faults").

Each round starts `wfreg serve` on the same SQLite database (WAL, synchronous=NORMAL),
lets 4 writer threads, each on its own keep-alive connection and its own engine names,
stream creates (with an API key, a config and an active flag), PATCHes and DELETEs, and
records every write answered 2xx. At a random moment (a seeded RNG: the seed is printed;
WFREG_TEST_SEED replays one) the server gets SIGKILL. Then:

- the database passes `PRAGMA integrity_check` and `PRAGMA foreign_key_check`, and
  `wfreg migrate verify`;
- a new server on the same database serves every acknowledged create with what was
  written (URL, active, config, a key that opens), no acknowledged delete, every
  acknowledged PATCH applied, and no engine that no write made;
- a write cut by the kill (sent, never answered) is either wholly there or wholly not:
  the engine is in its state before or after that write, and its audit row is there
  exactly when the change is (writes.c writes both in one transaction);
- every acknowledged write has its audit row (create, update, delete), and no more.

The writers keep going on the names that survived, so later rounds patch and delete
engines created rounds before. WFREG_DURABILITY_ROUNDS changes the number of rounds.
"""

import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))

import harness  # noqa: E402
from harness import ADMIN, ADMIN_PASSWORD, Server, scaled  # noqa: E402

ROUNDS = int(os.environ.get("WFREG_DURABILITY_ROUNDS", "20"))
WRITERS = 4
MAX_OPS_PER_ROUND = 2000  # per writer; the kill comes long before
MIN_ACKS_BEFORE_KILL = 8  # acknowledged writes (all writers) before the kill may come
KILL_WINDOW_S = 0.8       # then the kill comes after 0 to this many seconds
ENGINES = "/api/v1/engines"
# what a connection cut by the kill looks like to http.client
CUT = (ConnectionError, http.client.HTTPException, socket.timeout, OSError)


def expected_fields(state):
    """The fields of an engine the API must show for a stored state (a dict)."""
    return {"api_url": state["api_url"], "active": state["active"], "config": state["config"],
            "has_api_key": True, "key_status": "ok", "engine_type": "n8n",
            "source": "database"}


class Writer(threading.Thread):
    """Streams writes on its own names (prefix w{index}-) until told to stop or the
    connection dies. Records what was acknowledged, and the one write in flight when the
    connection was cut (at most one: a writer waits for each answer)."""

    def __init__(self, test, index, rnd, model, live, seq_start):
        super().__init__(daemon=True)
        self.test, self.index, self.rnd = test, index, rnd
        self.model = model        # name -> state dict (shared, each writer its own names)
        self.live = live          # this writer's names present in the model
        self.seq = seq_start      # a counter for unique names and URLs
        self.stop = threading.Event()
        self.acked = []           # (action, name) of each 2xx write
        self.pending = None       # (action, name, state before, state after) cut by the kill
        self.unexpected = []      # answers that are neither 2xx nor a cut connection
        self.cut_at = None        # when the connection died (monotonic)

    def next_op(self):
        r = self.rnd.random()
        if len(self.live) < 3 or (len(self.live) < 30 and r < 0.55) or r < 0.35:
            self.seq += 1
            name = "w%d-%05d" % (self.index, self.seq)
            state = {"api_url": "https://%s.example.com/v%d" % (name, self.seq),
                     "active": self.rnd.random() < 0.7,
                     "config": {"timeout_ms": self.rnd.randint(1000, 60000), "seq": self.seq}}
            body = dict(state, name=name, engine_type="n8n", api_key="key-%s-%d" % (
                name, self.seq))
            return "create", "POST", ENGINES, body, name, None, state
        name = self.rnd.choice(sorted(self.live))
        before = self.model[name]
        if r < 0.8:
            self.seq += 1
            after = dict(before, api_url="https://%s.example.com/v%d" % (name, self.seq))
            body = {"api_url": after["api_url"]}  # always a change: always an audit row
            if self.rnd.random() < 0.5:
                after["active"] = body["active"] = not before["active"]
            if self.rnd.random() < 0.5:
                after["config"] = body["config"] = {"timeout_ms": self.rnd.randint(1000, 60000),
                                                    "seq": self.seq}
            return "update", "PATCH", ENGINES + "/" + name, body, name, before, after
        return "delete", "DELETE", ENGINES + "/" + name, None, name, before, None

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.test.server.port,
                                          timeout=scaled(15))
        hdrs = {"Authorization": "Bearer " + self.test.token,
                "Content-Type": "application/json"}
        try:
            for _ in range(MAX_OPS_PER_ROUND):
                if self.stop.is_set():
                    return
                action, method, path, body, name, before, after = self.next_op()
                try:
                    conn.request(method, path, body=json.dumps(body) if body else None,
                                 headers=hdrs)
                    resp = conn.getresponse()
                    data = resp.read()
                except ConnectionRefusedError:
                    return  # a new connection after the kill: nothing was sent
                except CUT:
                    self.pending = (action, name, before, after)
                    self.cut_at = time.monotonic()
                    return
                want = {"create": 201, "update": 200, "delete": 204}[action]
                if resp.status != want:
                    self.unexpected.append((action, name, resp.status, data[:300]))
                    return
                if after is None:
                    self.model.pop(name, None)
                    self.live.discard(name)
                else:
                    self.model[name] = after
                    self.live.add(name)
                self.acked.append((action, name))
        finally:
            conn.close()


class KillNine(unittest.TestCase):
    def setUp(self):
        seed = os.environ.get("WFREG_TEST_SEED")
        self.seed = int(seed) if seed else random.SystemRandom().randrange(1 << 32)
        print("\n  seed %d (WFREG_TEST_SEED=%d replays the choices)" % (self.seed, self.seed))
        self.rnd = random.Random(self.seed)
        # a health monitor would only add noise: nobody answers at these URLs
        self.base = Server(env={"WFREG_HEALTH_INTERVAL": "0"})
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.close()
        self.base.close()

    # --- the checks after each kill ------------------------------------------------------

    def check_database_file(self):
        db = sqlite3.connect(self.base.db_path, timeout=scaled(10))
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            self.assertEqual(db.execute("PRAGMA foreign_key_check").fetchall(), [])
        finally:
            db.close()
        p = self.base.cli("migrate", "verify")
        self.assertEqual(p.returncode, 0, "migrate verify: %s %s" % (p.stdout, p.stderr))

    def served_engines(self):
        """Every engine the new server serves, by name (paged, bounded)."""
        out = {}
        for page in range(100):
            status, _, obj = self.server.json("GET", "%s?limit=500&offset=%d"
                                              % (ENGINES, page * 500), token=self.token)
            self.assertEqual(status, 200, obj)
            for e in obj["items"]:
                out[e["name"]] = e
            if (page + 1) * 500 >= obj["total"]:
                return out
        self.fail("more than 50,000 engines?")

    def audit_counts(self):
        rows = self.base.sql("SELECT engine_name, action, COUNT(*) FROM audit_log"
                             " GROUP BY engine_name, action")
        return {(n, a): c for n, a, c in rows}

    def check_round(self, rnd_no, writers):
        """Compares what the restarted server serves with what was acknowledged; the
        writes cut by the kill are resolved from what is there (before or after)."""
        served = self.served_engines()
        pending = {w.pending[1]: w.pending for w in writers if w.pending}
        for name, state in list(self.model.items()) + [(n, None) for n in pending
                                                       if n not in self.model]:
            got = served.get(name)
            if name in pending:
                action, _, before, after = pending[name]
                ok = any((got is None and s is None) or (
                    got is not None and s is not None
                    and {k: got.get(k) for k in expected_fields(s)} == expected_fields(s))
                    for s in (before, after))
                self.assertTrue(ok, "round %d: %s cut by the kill: neither before (%r) nor "
                                "after (%r): %r" % (rnd_no, action, before, after, got))
                took_effect = (got is None) == (after is None) and (
                    after is None or {k: got.get(k) for k in expected_fields(after)}
                    == expected_fields(after))
                self.cut_committed += took_effect
                # what the database says now is the truth from here on
                resolved = after if took_effect else before
                if resolved is None:
                    self.model.pop(name, None)
                else:
                    self.model[name] = resolved
                if took_effect:
                    self.audit_expected[(name, action)] = (
                        self.audit_expected.get((name, action), 0) + 1)
                continue
            if state is None:
                self.assertIsNone(got, "round %d: %s was deleted (acknowledged) but is "
                                  "served" % (rnd_no, name))
                continue
            self.assertIsNotNone(got, "round %d: %s was acknowledged but is gone"
                                 % (rnd_no, name))
            self.assertEqual({k: got.get(k) for k in expected_fields(state)},
                             expected_fields(state), "round %d: %s" % (rnd_no, name))
            self.checked += 1
        extra = set(served) - set(self.model)
        self.assertEqual(extra, set(), "round %d: engines no acknowledged write made"
                         % rnd_no)
        # the audit trail: one row per acknowledged write, and for a cut write exactly
        # when its change is there
        for w in writers:
            for action, name in w.acked:
                self.audit_expected[(name, action)] = (
                    self.audit_expected.get((name, action), 0) + 1)
        got = self.audit_counts()
        self.assertEqual(got, self.audit_expected, "round %d: the audit trail" % rnd_no)
        self.audit_checked = sum(got.values())
        # every writer's live names follow the resolved model
        for w in writers:
            w.live.clear()
            w.live.update(n for n in self.model if n.startswith("w%d-" % w.index))

    # --- the rounds ----------------------------------------------------------------------

    def start_server(self):
        self.server = Server(same_db_as=self.base).start()

    def kill_server(self):
        self.server.proc.send_signal(signal.SIGKILL)
        rc = self.server.wait_exit(scaled(10))
        self.assertEqual(rc, -signal.SIGKILL, "the server did not die of SIGKILL")
        self.assertEqual(self.server.sanitizer_reports(), [])
        self.server.close()
        self.server = None

    def test_kill_nine_during_writes(self):
        t_start = time.monotonic()
        self.model = {}
        self.audit_expected = {}
        self.checked = self.cut_committed = self.audit_checked = 0
        totals = {"create": 0, "update": 0, "delete": 0}
        cut = 0
        self.start_server()
        self.token = self.server.login(ADMIN, ADMIN_PASSWORD)  # a session outlives restarts
        lives = [set() for _ in range(WRITERS)]
        seqs = [0] * WRITERS
        for rnd_no in range(1, ROUNDS + 1):
            if self.server is None:
                self.start_server()
            writers = [Writer(self, i, random.Random(self.rnd.randrange(1 << 32)), self.model,
                              lives[i], seqs[i]) for i in range(WRITERS)]
            for w in writers:
                w.start()
            # the kill: once some writes are acknowledged, after a random delay
            deadline = time.monotonic() + scaled(30)
            while (sum(len(w.acked) for w in writers) < MIN_ACKS_BEFORE_KILL
                   and time.monotonic() < deadline and all(w.is_alive() for w in writers)):
                time.sleep(0.005)
            time.sleep(self.rnd.uniform(0, KILL_WINDOW_S))
            killed_at = time.monotonic()
            self.kill_server()
            for w in writers:
                w.stop.set()
            for w in writers:
                w.join(scaled(20))
                self.assertFalse(w.is_alive(), "a writer does not stop")
                self.assertEqual(w.unexpected, [], "round %d: answers other than 2xx"
                                 % rnd_no)
                if w.cut_at is not None:
                    self.assertGreaterEqual(w.cut_at, killed_at - 0.05,
                                            "round %d: a connection died before the kill"
                                            % rnd_no)
                seqs[w.index] = w.seq
            acked = sum(len(w.acked) for w in writers)
            self.assertGreaterEqual(acked, MIN_ACKS_BEFORE_KILL,
                                    "round %d: too few writes acknowledged" % rnd_no)
            for w in writers:
                for action, _ in w.acked:
                    totals[action] += 1
            cut += sum(1 for w in writers if w.pending)

            self.check_database_file()
            self.start_server()
            self.check_round(rnd_no, writers)
            print("  round %2d: %3d writes acknowledged, %d cut by the kill, %d engines"
                  % (rnd_no, acked, sum(1 for w in writers if w.pending), len(self.model)))
            # the restarted server takes writes again (the next round's writers prove it
            # too; the last round has none)
            if rnd_no == ROUNDS:
                status, _, obj = self.server.json(
                    "POST", ENGINES, {"name": "after-the-last-kill", "engine_type": "n8n",
                                      "api_url": "https://x.example.com"}, token=self.token)
                self.assertEqual(status, 201, obj)
        rc, _ = self.server.stop()
        self.assertEqual(rc, 0, self.server.log_text()[-2000:])
        self.assertEqual(self.server.sanitizer_reports(), [])
        print("  figures: %d rounds of kill -9 (seed %d); %d writes acknowledged (%d creates,"
              " %d patches, %d deletes), each engine's last acknowledged state checked after"
              " every restart; %d writes cut"
              " by a kill (%d of them committed), each all or nothing; %d engine states"
              " checked over the restarts (%d engines at the end), %d audit rows at the end;"
              " %d integrity checks passed; %.1f s"
              % (ROUNDS, self.seed, sum(totals.values()), totals["create"], totals["update"],
                 totals["delete"], cut, self.cut_committed, self.checked,
                 len(self.model), self.audit_checked, ROUNDS, time.monotonic() - t_start))


if __name__ == "__main__":
    harness.main()
