"""test_connection.py: `wfreg engines test` against the fake engines on loopback: up,
unauthorized, down, timeout, garbage, reset, a wrong base URL, an answer too large, and
a redirect to another host that must not receive the key (the second fake's request log
is the proof); Prefect's Basic auth string against Cloud's Bearer; Windmill's wrong
workspace; a key no configured key opens (nothing sent); environment engines; proxies
from the environment ignored.

Run: python3 tests/engines/test_connection.py path/to/wfreg
"""

import harness
from harness import EngineTest, FakeN8n, FakePrefect, FakeWindmill, scaled

KEY = "n8n_api_test_key_0123456789"


class N8nConnection(EngineTest):
    def setUp(self):
        super().setUp()
        self.n8n = self.fake(FakeN8n, keys=[KEY], workflows=3)
        self.reg.add("n8n-a", "n8n", self.n8n.url, key=KEY)

    def call_test(self, name="n8n-a"):
        r = self.reg.run("engines", "test", name, "--json")
        return r, r.json()

    def test_up(self):
        r, t = self.call_test()
        self.assertEqual(r.code, 0, r)
        self.assertEqual(t["status"], "up")
        self.assertTrue(t["ok"])
        self.assertIsNone(t["version"])  # n8n has no version endpoint
        self.assertEqual(set(t), {"engine", "ok", "status", "latency_ms", "version", "detail"})
        self.assertEqual(self.header_values(self.n8n, "X-N8N-API-KEY"), [KEY])
        # the table for people, too
        r = self.reg.run("engines", "test", "n8n-a")
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.out, r"n8n-a\s+n8n\s+up\s+\d+ ms")

    def test_wrong_key_is_unauthorized(self):
        self.reg.add("n8n-bad", "n8n", self.n8n.url, key="n8n_api_wrong_key_000")
        r, t = self.call_test("n8n-bad")
        self.assertEqual(r.code, 1, r)
        self.assertEqual(t["status"], "unauthorized")
        self.assertIn("refused the API key", t["detail"])

    def test_down(self):
        self.n8n.stop()
        r, t = self.call_test()
        self.assertEqual(r.code, 1, r)
        self.assertEqual(t["status"], "down")
        self.n8n.start()
        self.n8n.switch("down")  # 503
        r, t = self.call_test()
        self.assertEqual(t["status"], "down")
        self.assertIn("503", t["detail"])

    def test_timeout(self):
        self.reg.add("n8n-slow", "n8n", self.n8n.url, key=KEY, config={"timeout_ms": 300})
        self.n8n.switch("hang", hang_ms=5000)
        r, t = self.call_test("n8n-slow")
        self.assertEqual(t["status"], "timeout", r)
        self.assertIn("300 ms", t["detail"])
        self.assertLess(r.elapsed, scaled(3.0))

    def test_garbage_html_reset_truncate(self):
        for mode, status, part in (("garbage", "error", "invalid JSON"),
                                   ("html", "error", "not JSON"),
                                   ("reset", "down", ""),
                                   ("truncate", "down", "")):
            self.n8n.switch(mode)
            r, t = self.call_test()
            self.assertEqual(r.code, 1, r)
            self.assertEqual(t["status"], status, (mode, t))
            self.assertIn(part, t["detail"])

    def test_answer_too_large(self):
        self.n8n.switch("status", status=200, content_type="application/json",
                        body='{"data":[],"pad":"' + "x" * (9 << 20) + '"}')
        r, t = self.call_test()
        self.assertEqual(t["status"], "error", r)
        self.assertIn("larger than", t["detail"])

    def test_redirect_to_another_host_keeps_the_key(self):
        other = self.fake(FakeN8n, keys=[KEY], workflows=1)
        self.n8n.switch("redirect", location=other.url)
        r, t = self.call_test()
        self.assertEqual(r.code, 1, r)
        self.assertEqual(t["status"], "error")
        self.assertIn("another host", t["detail"])
        self.assertEqual(other.request_count(), 0)  # nothing, so not the key, went there
        # a redirect on the same host is followed
        self.n8n.switch("redirect", location=self.n8n.url, times=1, status=307)
        r, t = self.call_test()
        self.assertEqual(t["status"], "up", r)

    def test_unreadable_key_sends_nothing(self):
        r = self.reg.run("engines", "test", "n8n-a", "--json",
                         env={"SECRET_KEY": "another-secret-key"})
        self.assertEqual(r.code, 1, r)
        t = r.json()
        self.assertEqual(t["status"], "error")
        self.assertEqual(t["detail"], "API key unreadable with the configured keys")
        self.assertEqual(self.n8n.request_count(), 0)

    def test_all_and_environment_engines(self):
        self.reg.env_engine("n8n-env", "n8n", self.n8n.url, key=KEY)
        self.reg.add("n8n-off", "n8n", "http://127.0.0.1:1", key=KEY)
        self.reg.run("engines", "update", "n8n-off", "--inactive")
        r = self.reg.run("engines", "test", "--all", "--json", env={"LOG_LEVEL": "debug"})
        self.assertEqual(r.code, 0, r)
        self.assertEqual({t["engine"]: t["status"] for t in r.json()},
                         {"n8n-a": "up", "n8n-env": "up"})  # inactive engines are skipped
        r = self.reg.run("engines", "test", "nope")
        self.assertEqual(r.code, 1, r)
        self.assertIn("no engine named 'nope'", r.err)

    def test_proxy_from_the_environment_is_ignored(self):
        dead = "http://127.0.0.1:1"
        r = self.reg.run("engines", "test", "n8n-a", "--json",
                         env={"http_proxy": dead, "HTTP_PROXY": dead, "ALL_PROXY": dead})
        self.assertEqual(r.json()["status"], "up", r)


class PrefectConnection(EngineTest):
    def test_self_hosted_basic(self):
        p = self.fake(FakePrefect, auth="basic", keys=["admin:pass"])
        self.reg.add("pf", "prefect", p.base_url, key="admin:pass")
        r = self.reg.run("engines", "test", "pf", "--json")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json()["version"], "3.4.11")  # the release, not "0.8.4"
        auth = set(self.header_values(p, "Authorization"))
        self.assertEqual(auth, {"Basic YWRtaW46cGFzcw=="})
        self.reg.add("pf-bad", "prefect", p.base_url, key="admin:wrong")
        r = self.reg.run("engines", "test", "pf-bad", "--json")
        self.assertEqual(r.json()["status"], "unauthorized", r)

    def test_cloud_bearer(self):
        p = self.fake(FakePrefect, auth="cloud", keys=["pnu_cloudkey123"], account="acc-1",
                      workspace="ws-1")
        self.assertIn("/accounts/acc-1/workspaces/ws-1", p.base_url)
        self.reg.add("pc", "prefect", p.base_url, key="pnu_cloudkey123")
        r = self.reg.run("engines", "test", "pc", "--json")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json()["status"], "up")
        self.assertEqual(set(self.header_values(p, "Authorization")), {"Bearer pnu_cloudkey123"})
        self.assertEqual(p.request_count("/api/admin"), 0)  # Cloud has no /admin/version
        self.reg.add("pc-bad", "prefect", p.base_url, key="pnu_wrong")
        r = self.reg.run("engines", "test", "pc-bad", "--json")
        self.assertEqual(r.json()["status"], "unauthorized", r)

    def test_open_server_without_key(self):
        p = self.fake(FakePrefect)
        self.reg.add("po", "prefect", p.base_url)
        r = self.reg.run("engines", "test", "po", "--json")
        self.assertEqual(r.json()["status"], "up", r)
        self.assertEqual(self.header_values(p, "Authorization"), [])


class WindmillConnection(EngineTest):
    def test_token_and_workspace(self):
        w = self.fake(FakeWindmill, keys=["wm_tok_123"], outsider_keys=["wm_outsider_1"])
        self.reg.add("wm", "windmill", w.url, key="wm_tok_123", config={"workspace": "demo"})
        r = self.reg.run("engines", "test", "wm", "--json")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json()["version"], "CE v1.743.0")
        # a valid token for a workspace it is not a member of
        self.reg.add("wm-out", "windmill", w.url, key="wm_outsider_1",
                     config={"workspace": "demo"})
        r = self.reg.run("engines", "test", "wm-out", "--json")
        self.assertEqual(r.json()["status"], "unauthorized", r)
        self.assertIn("not for workspace 'demo'", r.json()["detail"])
        self.reg.add("wm-bad", "windmill", w.url, key="wm_nobody_00",
                     config={"workspace": "demo"})
        r = self.reg.run("engines", "test", "wm-bad", "--json")
        self.assertEqual(r.json()["status"], "unauthorized", r)
        self.assertIn("refused the token", r.json()["detail"])


if __name__ == "__main__":
    harness.main()
