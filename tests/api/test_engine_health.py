"""test_engine_health.py: the background health monitor (issue 5), with
WFREG_HEALTH_INTERVAL=1 against fake n8n servers: the startup summary once the first
round is over, "health" in every engine's JSON (unknown for an inactive engine),
wfreg_engine_up and the last latency in /metrics, fewer checks of a failing engine
(back-off) than of a healthy one, an engine whose record changes checked again at once;
and WFREG_HEALTH_INTERVAL=0, which turns the checks off."""

import os
import re
import sys
import time
import unittest

import harness
from harness import Server, poll, scaled

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
from fake_n8n import FakeN8n  # noqa: E402

KEY = "n8n-health-key-01"
CLOSED_URL = "http://127.0.0.1:1"
ISO_UTC = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


class Monitor(unittest.TestCase):
    """up-one answers, down-one answers 503, badkey has a wrong key, moves is down until a
    test points it elsewhere, idle is inactive."""

    @classmethod
    def setUpClass(cls):
        cls.fakes = {name: FakeN8n(keys=[KEY], workflows=1) for name in ("up", "down", "bad")}
        for f in cls.fakes.values():
            f.start()
        cls.fakes["down"].switch("down")
        cls.server = Server(env={"WFREG_HEALTH_INTERVAL": "1"})
        try:
            for name, url, key, extra in (
                    ("up-one", cls.fakes["up"].url, KEY, []),
                    ("down-one", cls.fakes["down"].url, KEY, []),
                    ("badkey", cls.fakes["bad"].url, "wrong-key-0001", []),
                    ("moves", CLOSED_URL, KEY, []),
                    ("idle", cls.fakes["up"].url, KEY, ["--inactive"])):
                cls.server.cli("engines", "add", name, "--type", "n8n", "--url", url,
                               "--api-key-stdin", *extra, input=key.encode(), check=True)
            cls.server.start()
            cls.admin = cls.server.login(harness.ADMIN, harness.ADMIN_PASSWORD)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            rc, took = cls.server.stop()
            if rc != 0 or cls.server.sanitizer_reports():
                raise AssertionError("exit %s, sanitizers %s\n%s" % (
                    rc, cls.server.sanitizer_reports()[:3], cls.server.log_text()[-3000:]))
        finally:
            cls.server.close()
            for f in cls.fakes.values():
                f.stop()

    def engine(self, name):
        status, _, obj = self.server.json("GET", "/api/v1/engines/" + name, token=self.admin)
        self.assertEqual(status, 200, obj)
        return obj

    def test_startup_summary(self):
        line = self.server.wait_log(r"Engine health: ", 10)
        self.assertIsNotNone(line, self.server.log_text()[-2000:])
        self.assertRegex(line, r"Engine health: 1 up, 2 down, 1 unauthorized, 0 timeout, 0 error "
                               r"\(4 active engines checked\)")
        self.assertEqual(len([l for l in self.server.log() if "Engine health: " in l]), 1)

    def test_health_in_engine_json(self):
        self.assertIsNotNone(self.server.wait_log(r"Engine health: ", 10))
        up = self.engine("up-one")["health"]
        self.assertEqual(set(up), {"status", "checked_at", "latency_ms"})
        self.assertEqual(up["status"], "up")
        self.assertRegex(up["checked_at"], ISO_UTC)
        self.assertIsInstance(up["latency_ms"], int)
        self.assertEqual(self.engine("down-one")["health"]["status"], "down")
        self.assertEqual(self.engine("badkey")["health"]["status"], "unauthorized")
        self.assertEqual(self.engine("idle")["health"],
                         {"status": "unknown", "checked_at": None, "latency_ms": None})
        status, _, page = self.server.json("GET", "/api/v1/engines", token=self.admin)
        health = {e["name"]: e["health"]["status"] for e in page["items"]}
        self.assertEqual((health["up-one"], health["idle"]), ("up", "unknown"))

    def test_metrics(self):
        self.assertIsNotNone(self.server.wait_log(r"Engine health: ", 10))
        text = self.server.request("GET", "/metrics").body.decode()
        self.assertIn('wfreg_engine_up{engine="up-one"} 1\n', text)
        self.assertIn('wfreg_engine_up{engine="down-one"} 0\n', text)
        self.assertIn('wfreg_engine_up{engine="badkey"} 0\n', text)
        self.assertRegex(text, r'wfreg_engine_check_latency_seconds\{engine="up-one"\} '
                               r'\d+\.\d{3}\n')
        self.assertNotIn('engine="idle"', text)
        self.assertIn("# TYPE wfreg_engine_up gauge", text)

    def test_backoff(self):
        self.assertIsNotNone(self.server.wait_log(r"Engine health: ", 10))
        up, down = self.fakes["up"], self.fakes["down"]
        up.clear_requests()
        down.clear_requests()
        time.sleep(4.5)
        n_up, n_down = up.request_count("/api/v1/"), down.request_count("/api/v1/")
        # up: about every second; down: every 2, 4, 8... seconds after its failures
        self.assertGreaterEqual(n_up, 3, (n_up, n_down))
        self.assertLessEqual(n_down, 2, (n_up, n_down))
        self.assertLess(n_down, n_up)

    def test_changed_engine_checked_again(self):
        self.assertIsNotNone(self.server.wait_log(r"Engine health: ", 10))
        self.assertEqual(self.engine("moves")["health"]["status"], "down")
        time.sleep(2.5)  # a few failures: its next check is seconds away
        status, _, obj = self.server.json("PATCH", "/api/v1/engines/moves",
                                          {"api_url": self.fakes["up"].url}, token=self.admin)
        self.assertEqual(status, 200, obj)
        self.assertIn("health", obj)
        ok = poll(lambda: self.engine("moves")["health"]["status"] == "up", 1.5)
        self.assertTrue(ok, self.engine("moves"))


class Off(unittest.TestCase):
    def test_interval_zero(self):
        f = FakeN8n(keys=[KEY], workflows=1)
        f.start()
        server = Server(env={"WFREG_HEALTH_INTERVAL": "0"})
        try:
            server.cli("engines", "add", "one", "--type", "n8n", "--url", f.url,
                       "--api-key-stdin", input=KEY.encode(), check=True)
            server.start()
            admin = server.login(harness.ADMIN, harness.ADMIN_PASSWORD)
            self.assertIsNotNone(server.wait_log("Engine health checks are off", 2))
            time.sleep(0.5)
            status, _, obj = server.json("GET", "/api/v1/engines/one", token=admin)
            self.assertEqual(obj["health"]["status"], "unknown")
            self.assertEqual(f.request_count(), 0)
            self.assertNotIn("wfreg_engine_up{", server.request("GET", "/metrics").body.decode())
            rc, _ = server.stop()
            self.assertEqual(rc, 0)
            self.assertEqual(server.sanitizer_reports(), [])
        finally:
            server.close()
            f.stop()
        p = Server(env={"WFREG_HEALTH_INTERVAL": "soon"})
        try:
            r = p.cli("serve", "--listen", "127.0.0.1:0")
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(b"WFREG_HEALTH_INTERVAL", r.stderr)
        finally:
            p.close()


if __name__ == "__main__":
    harness.main()
