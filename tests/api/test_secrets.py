"""test_secrets.py: an API key given to POST or PATCH (or to the server's environment)
never appears in any response body or header, any log line or /metrics, also when the
request that carries it is refused; and what is stored is a Fernet token under the key
derived from SECRET_KEY, not the key."""

import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
import struct
import time
import unittest

import harness
from harness import ADMIN, ADMIN_PASSWORD, SECRET_KEY, Server

ENGINES = "/api/v1/engines"


class Secrets(unittest.TestCase):
    def setUp(self):
        self.marker = "sekret" + secrets.token_hex(8)
        m = self.marker
        self.server = Server(env={
            "N8N_API_URL": "https://n8n-env.example.com", "N8N_API_KEY": m + "-env-n8n",
            "WFREG_ENGINE_EXTRA_ONE": json.dumps({
                "engine_type": "prefect", "api_url": "https://extra.example.com",
                "api_key": m + "-env-extra"}),
        })
        self.responses = []  # every (status, headers, body) seen

    def tearDown(self):
        self.server.close()

    def call(self, method, path, body=None, token=None, headers=None, raw_body=None):
        if raw_body is not None:
            hdrs = {"Content-Type": "application/json"}
            hdrs.update(headers or {})
            r = self.server.request(method, path, raw_body, token=token, headers=hdrs)
        else:
            r = self.server.request(method, path, body, token=token, headers=headers)
        self.responses.append(r)
        self.assertNotEqual(r.status, 500, "%s %s: %r" % (method, path, r))
        return r

    def test_key_never_leaks(self):
        m = self.marker
        s = self.server.start()
        token = s.login(ADMIN, ADMIN_PASSWORD)
        api_token, _ = s.create_token(ADMIN, "secrets-test")

        # writes that carry a key
        r = self.call("POST", ENGINES, {"name": "sec-post", "engine_type": "n8n",
                                        "api_url": "https://post.example.com",
                                        "api_key": m + "-post"}, token=token)
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.json()["has_api_key"])
        self.call("POST", ENGINES, {"name": "sec-patch", "engine_type": "windmill",
                                    "api_url": "https://patch.example.com",
                                    "config": {"workspace": "w"}}, token=token)
        r = self.call("PATCH", ENGINES + "/sec-patch", {"api_key": m + "-patch"}, token=api_token)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["has_api_key"])
        r = self.call("PATCH", ENGINES + "/sec-post", {"api_key": m + "-rotated",
                                                       "active": False}, token=token)
        self.assertEqual(r.status, 200, r)

        # refused writes that carry a key: the answer names the field, never the value
        refused = [
            ("POST", ENGINES, {"name": "Bad Name", "engine_type": "n8n",
                               "api_url": "https://x.example.com", "api_key": m + "-bad-name"}),
            ("POST", ENGINES, {"name": "sec-post", "engine_type": "n8n",
                               "api_url": "https://x.example.com", "api_key": m + "-conflict"}),
            ("POST", ENGINES, {"name": "ctl", "engine_type": "n8n",
                               "api_url": "https://x.example.com", "api_key": m + "-ctl\n"}),
            ("POST", ENGINES, {"name": "long", "engine_type": "n8n",
                               "api_url": "https://x.example.com",
                               "api_key": (m + "-long") * 400}),
            ("POST", ENGINES, {"name": "extra", "engine_type": "n8n",
                               "api_url": "https://x.example.com", "api_key": m + "-extra",
                               "colour": 1}),
            ("PATCH", ENGINES + "/n8n-default", {"api_key": m + "-env-write"}),
            ("PATCH", ENGINES + "/missing", {"api_key": m + "-missing"}),
            ("PATCH", ENGINES + "/sec-patch", {"api_key": m + "-with-bad-url", "api_url": "x"}),
            ("POST", "/api/v1/auth/login", {"username": ADMIN, "password": m + "-password"}),
            ("POST", "/api/v1/auth/login", {"username": m + "-user", "password": "x"}),
        ]
        for method, path, body in refused:
            r = self.call(method, path, body, token=token)
            self.assertTrue(400 <= r.status < 500, "%s %s: %r" % (method, path, r))
        for raw in (b'{"name": "t", "api_key": "' + m.encode() + b'-unterminated',
                    b'{"api_key": "' + m.encode() + b'-dup", "api_key": "x"}',
                    b'{"api_key": "' + m.encode() + b'-bad-json" x}',
                    b'{"api_key": "' + m.encode() + b'-bad-utf8-\xff"}'):
            r = self.call("POST", ENGINES, token=token, raw_body=raw)
            self.assertIn(r.status, (400, 422), r)
        r = self.call("POST", ENGINES, token=token, raw_body=b'{"api_key": "%s-ct"}' % m.encode(),
                      headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415)
        r = self.call("POST", ENGINES, {"name": "v", "engine_type": "n8n",
                                        "api_url": "https://v.example.com",
                                        "api_key": m + "-viewer"},
                      token=s.login("viewer", harness.VIEWER_PASSWORD))
        self.assertEqual(r.status, 403)
        # a key in a header or the query: not echoed either
        self.call("GET", ENGINES + "?engine_type=" + m + "-query", token=token)
        self.call("GET", "/healthz", headers={"X-Api-Key": m + "-header"})

        # then every route
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/api/v1/auth/me",
                     ENGINES, ENGINES + "?limit=500", ENGINES + "?source=environment",
                     ENGINES + "?engine_type=prefect", ENGINES + "?active=false",
                     ENGINES + "/sec-post", ENGINES + "/sec-patch", ENGINES + "/n8n-default",
                     ENGINES + "/extra-one", ENGINES + "/sec-post/history",
                     ENGINES + "/sec-patch/history", ENGINES + "/n8n-default/history"):
            r = self.call("GET", path, token=token)
            self.assertEqual(r.status, 200, "%s: %r" % (path, r))
        for e in self.call("GET", ENGINES + "?limit=500", token=token).json()["items"]:
            self.assertNotIn("api_key", e)
            if e["name"] in ("sec-post", "sec-patch", "n8n-default", "extra-one"):
                self.assertTrue(e["has_api_key"], e["name"])
        self.assertEqual(self.call("DELETE", ENGINES + "/sec-patch", token=token).status, 204)
        self.assertEqual(self.call("POST", "/api/v1/auth/logout", token=token).status, 204)
        metrics = self.call("GET", "/metrics")

        # what is stored: a Fernet token under the key derived from SECRET_KEY
        db = sqlite3.connect(s.db_path)
        try:
            rows = db.execute("SELECT name, api_key_encrypted FROM workflow_engines").fetchall()
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            dump = "\n".join(db.iterdump())
        finally:
            db.close()
        stored = dict(rows)
        self.assertIn("sec-post", stored)
        self.assertFernet(stored["sec-post"])
        self.assertNotIn(m, dump, "the database holds a key in clear")
        self.assertIn("audit_log", tables)

        rc, took = s.stop()
        self.assertEqual(rc, 0, "exit after SIGTERM (%.1f s)" % took)

        # and now: nowhere
        for r in self.responses:
            blob = r.body + repr(r.header_list).encode()
            self.assertNotIn(m.encode(), blob, "a response carries the key: %r" % r)
        self.assertNotIn(m, metrics.body.decode())
        leaked = [l for l in s.log() if m in l]
        self.assertEqual(leaked, [], "log lines with the key")
        for t in (token, api_token):
            self.assertNotIn(t, s.log_text())
        self.assertGreater(len(self.responses), 40)

    def assertFernet(self, tok):
        """A Fernet token (version 0x80, timestamp, IV, AES-CBC blocks, HMAC-SHA256) whose
        HMAC checks out under the signing half of urlsafe_b64(SHA-256(SECRET_KEY))."""
        self.assertIsInstance(tok, str)
        self.assertTrue(tok.startswith("gAAAAA"), tok[:12])
        raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4))
        self.assertEqual(raw[0], 0x80)
        self.assertEqual((len(raw) - 1 - 8 - 16 - 32) % 16, 0)
        self.assertGreaterEqual(len(raw), 1 + 8 + 16 + 16 + 32)
        ts = struct.unpack(">Q", raw[1:9])[0]
        self.assertLess(abs(ts - time.time()), 3600)
        key = hashlib.sha256(SECRET_KEY.encode()).digest()
        mac = hmac.new(key[:16], raw[:-32], hashlib.sha256).digest()
        self.assertTrue(hmac.compare_digest(mac, raw[-32:]), "the HMAC does not check out")


class Keys(unittest.TestCase):
    """What the server does with the encryption keys it is given, or not given."""

    def test_refuses_to_start_without_a_key(self):
        server = Server(env={"SECRET_KEY": None})
        try:
            with self.assertRaises(AssertionError) as cm:
                server.start()
            self.assertIn("SECRET_KEY", str(cm.exception))
            self.assertNotIn(server.proc.returncode, (0, None))
        finally:
            server.close()

    def test_changed_secret_key(self):
        # Keys stored under one SECRET_KEY, a server started with another: every engine
        # is still served, the unreadable key is reported per engine, nothing breaks; a
        # new key can be set; with the old key among WFREG_FERNET_KEYS it reads again.
        first = Server()
        try:
            first.start()
            token = first.login(ADMIN, ADMIN_PASSWORD)
            for name in ("keyed", "other"):
                status, _, obj = first.json("POST", ENGINES, {
                    "name": name, "engine_type": "n8n", "api_url": "https://k.example.com",
                    "api_key": "old-key-0123456789"}, token=token)
                self.assertEqual(status, 201, obj)
            self.assertEqual(first.stop()[0], 0)

            second = Server(same_db_as=first, env={"SECRET_KEY": "a-different-secret-key"})
            try:
                second.start()
                token = second.login(ADMIN, ADMIN_PASSWORD)
                status, _, obj = second.json("GET", ENGINES, token=token)
                self.assertEqual(status, 200, obj)
                self.assertEqual([(e["name"], e["has_api_key"], e.get("key_status"))
                                  for e in obj["items"]],
                                 [("keyed", True, "unreadable"), ("other", True, "unreadable")])
                errors = [l for l in second.log() if "ERROR" in l and "keyed" in l]
                self.assertEqual(len(errors), 1, "the startup log names the engine once at "
                                 "error level:\n" + second.log_text())
                status, _, obj = second.json("PATCH", ENGINES + "/keyed", {"active": False},
                                             token=token)
                self.assertEqual(status, 200, obj)
                self.assertEqual(obj.get("key_status"), "unreadable")
                status, _, obj = second.json("PATCH", ENGINES + "/keyed",
                                             {"api_key": "new-key-0123456789"}, token=token)
                self.assertEqual(status, 200, obj)
                self.assertEqual(obj.get("key_status"), "ok")
                self.assertEqual(second.request("DELETE", ENGINES + "/other",
                                                token=token).status, 204)
                self.assertEqual(second.stop()[0], 0)
                self.assertEqual(second.sanitizer_reports(), [])
            finally:
                second.close()

            # NEW,OLD: both readable again
            old = base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest())
            new = base64.urlsafe_b64encode(hashlib.sha256(b"a-different-secret-key").digest())
            third = Server(same_db_as=first, env={
                "SECRET_KEY": None, "WFREG_FERNET_KEYS": new.decode() + "," + old.decode()})
            try:
                third.start()
                token = third.login(ADMIN, ADMIN_PASSWORD)
                status, _, obj = third.json("GET", ENGINES + "/keyed", token=token)
                self.assertEqual((status, obj.get("key_status")), (200, "ok"), obj)
                self.assertEqual(third.stop()[0], 0)
            finally:
                third.close()
        finally:
            first.close()


if __name__ == "__main__":
    harness.main()
