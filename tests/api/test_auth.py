"""test_auth.py: login, logout, me, bearer tokens, roles, API tokens from the command
line and their revocation while the server runs, and the failed-login limiter."""

import hashlib
import re
import time
from datetime import datetime, timezone

import harness
from harness import (ADMIN, ADMIN_PASSWORD, VIEWER, VIEWER_PASSWORD, Server, ServerTestCase,
                     poll, scaled)

LOGIN = "/api/v1/auth/login"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")


def parse_iso(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


class Login(ServerTestCase):
    def test_login_ok_gives_token_and_expiry(self):
        status, headers, obj = self.jreq("POST", LOGIN,
                                         {"username": ADMIN, "password": ADMIN_PASSWORD})
        self.assertEqual(status, 200, obj)
        self.assertTrue(headers["content-type"].startswith("application/json"))
        self.assertIsInstance(obj["token"], str)
        self.assertGreaterEqual(len(obj["token"]), 32)
        self.assertRegex(obj["expires_at"], ISO_UTC)
        self.assertGreater(parse_iso(obj["expires_at"]), datetime.now(timezone.utc))
        # the password is in no answer
        self.assertNotIn(ADMIN_PASSWORD, str(obj))
        # and the new token works
        status, _, me = self.jreq("GET", "/api/v1/auth/me", token=obj["token"])
        self.assertEqual(status, 200, me)
        self.assertEqual(me["username"], ADMIN)

    def test_login_wrong_password_401(self):
        status, _, obj = self.jreq("POST", LOGIN, {"username": VIEWER, "password": "wrong-one-1"})
        self.assertEqual(status, 401, obj)
        self.assertDetail(obj)

    def test_login_unknown_user_401_same_message(self):
        s1, _, o1 = self.jreq("POST", LOGIN, {"username": "nobody", "password": "whatever-1"})
        s2, _, o2 = self.jreq("POST", LOGIN, {"username": VIEWER, "password": "whatever-1"})
        self.assertEqual(s1, 401, o1)
        self.assertDetail(o1)
        # the answer does not tell which usernames exist
        self.assertEqual(o1, o2)

    def test_login_missing_field_422(self):
        status, _, obj = self.jreq("POST", LOGIN, {"username": ADMIN})
        self.assertEqual(status, 422, obj)
        self.assertValidation(obj, [["body", "password"]])
        status, _, obj = self.jreq("POST", LOGIN, {})
        self.assertEqual(status, 422, obj)
        self.assertValidation(obj, [["body", "username"], ["body", "password"]])

    def test_login_wrong_types_and_unknown_field_422(self):
        status, _, obj = self.jreq("POST", LOGIN, {"username": 5, "password": ["x"], "otp": 1})
        self.assertEqual(status, 422, obj)
        self.assertValidation(obj, [["body", "username"], ["body", "password"], ["body", "otp"]])

    def test_login_wrong_content_type_415(self):
        r = self.req("POST", LOGIN, body=b"username=admin&password=x",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertStatus(r, 415)
        self.assertDetail(r.json())
        r = self.req("POST", LOGIN, body=b'{"username":"admin","password":"x"}')
        self.assertStatus(r, 415, "no content type")

    def test_login_bad_json_400(self):
        r = self.req("POST", LOGIN, body=b'{"username": "admin", "password": ',
                     headers={"Content-Type": "application/json"})
        self.assertStatus(r, 400)
        self.assertDetail(r.json())

    def test_login_body_too_large_413(self):
        big = b'{"username":"admin","password":"' + b"a" * (1024 * 1024 + 10) + b'"}'
        r = self.server.raw_request("POST", LOGIN, big, {"Content-Type": "application/json"})
        self.assertStatus(r, 413)

    def test_login_wrong_method_405(self):
        r = self.req("GET", LOGIN)
        self.assertStatus(r, 405)
        self.assertIn("POST", r.headers.get("allow", ""))


class Tokens(ServerTestCase):
    def test_me(self):
        for token, name, role in ((self.admin, ADMIN, "admin"), (self.viewer, VIEWER, "viewer")):
            status, _, obj = self.jreq("GET", "/api/v1/auth/me", token=token)
            self.assertEqual(status, 200, obj)
            self.assertEqual(obj["username"], name)
            self.assertEqual(obj["role"], role)
            self.assertIsInstance(obj["id"], int)
            self.assertNotIn("password", str(obj).lower())
            self.assertNotIn("hash", obj)

    def test_no_token_401(self):
        for method, path in (("GET", "/api/v1/auth/me"), ("GET", "/api/v1/engines"),
                             ("GET", "/api/v1/engines/x"), ("GET", "/api/v1/engines/x/history"),
                             ("POST", "/api/v1/engines"), ("PATCH", "/api/v1/engines/x"),
                             ("DELETE", "/api/v1/engines/x"), ("POST", "/api/v1/auth/logout")):
            body = {} if method in ("POST", "PATCH") else None
            status, headers, obj = self.jreq(method, path, body)
            self.assertEqual(status, 401, "%s %s: %r" % (method, path, obj))
            self.assertDetail(obj, path)
            self.assertIn("bearer", headers.get("www-authenticate", "").lower(), path)

    def test_garbage_tokens_401(self):
        garbage = ["garbage", "wfr_" + "A" * 43, "x" * 5000, self.admin[:-1] + "?",
                   self.admin + "x", "Bearer"]
        for g in garbage:
            status, _, obj = self.jreq("GET", "/api/v1/auth/me", token=g)
            self.assertEqual(status, 401, "%r: %r" % (g[:40], obj))
            self.assertDetail(obj)
        for h in ("Basic YWRtaW46YWRtaW4=", "bearer", "Token " + self.admin, ""):
            r = self.req("GET", "/api/v1/auth/me", headers={"Authorization": h})
            self.assertStatus(r, 401, repr(h))

    def test_logout_then_token_refused(self):
        token = self.server.login(ADMIN, ADMIN_PASSWORD)
        self.assertEqual(self.jreq("GET", "/api/v1/auth/me", token=token)[0], 200)
        r = self.req("POST", "/api/v1/auth/logout", token=token)
        self.assertStatus(r, 204)
        self.assertEqual(r.body, b"")
        status, _, obj = self.jreq("GET", "/api/v1/auth/me", token=token)
        self.assertEqual(status, 401, obj)
        self.assertEqual(self.req("POST", "/api/v1/auth/logout", token=token).status, 401)
        # the class's own session is untouched
        self.assertEqual(self.jreq("GET", "/api/v1/auth/me", token=self.admin)[0], 200)

    def test_viewer_logout(self):
        token = self.server.login(VIEWER, VIEWER_PASSWORD)
        self.assertStatus(self.req("POST", "/api/v1/auth/logout", token=token), 204)
        self.assertEqual(self.jreq("GET", "/api/v1/auth/me", token=token)[0], 401)
        self.assertEqual(self.jreq("GET", "/api/v1/auth/me", token=self.viewer)[0], 200)

    def test_session_expires(self):
        # A session whose time is up is refused: moved into the past from outside (the
        # server notices the commit), and one that runs out while nothing changes.
        past = self.server.login(ADMIN, ADMIN_PASSWORD)
        soon = self.server.login(VIEWER, VIEWER_PASSWORD)
        for t in (past, soon):
            self.assertEqual(self.jreq("GET", "/api/v1/auth/me", token=t)[0], 200)
        h_past = hashlib.sha256(past.encode()).hexdigest()
        h_soon = hashlib.sha256(soon.encode()).hexdigest()
        rows = self.server.sql("SELECT kind, expires_at FROM api_tokens WHERE token_hash = ?",
                               (h_past,))
        self.assertEqual(len(rows), 1, "the session is stored by its SHA-256")
        self.assertEqual(rows[0][0], "session")
        self.assertIsNotNone(rows[0][1], "a login session must expire")
        self.server.sql("UPDATE api_tokens SET expires_at = datetime('now', '-1 minute')"
                        " WHERE token_hash = ?", (h_past,))
        self.server.sql("UPDATE api_tokens SET expires_at = datetime('now', '+2 seconds')"
                        " WHERE token_hash = ?", (h_soon,))
        refused = poll(lambda: self.jreq("GET", "/api/v1/auth/me", token=past)[0] == 401, 1.0,
                       every=0.02, max_tries=200)
        self.assertTrue(refused, "an expired session still works")
        refused = poll(lambda: self.jreq("GET", "/api/v1/auth/me", token=soon)[0] == 401, 4.0,
                       every=0.1, max_tries=200)
        self.assertTrue(refused, "a session still works after its expiry time")
        self.assertEqual(self.jreq("GET", "/api/v1/auth/me", token=self.viewer)[0], 200)

    def test_passwd_signs_out_sessions(self):
        self.server.add_user("pw-user", "viewer", "first-password-1")
        token = self.server.login("pw-user", "first-password-1")
        self.assertEqual(self.jreq("GET", "/api/v1/auth/me", token=token)[0], 200)
        p = self.server.cli("users", "passwd", "pw-user", "--password-stdin",
                            input=b"second-password-2")
        self.assertEqual(p.returncode, 0, p.stderr)
        refused = poll(lambda: self.jreq("GET", "/api/v1/auth/me", token=token)[0] == 401, 1.0,
                       every=0.02, max_tries=200)
        self.assertTrue(refused, "a session survives a password change")
        self.assertEqual(self.jreq("POST", LOGIN, {"username": "pw-user",
                                                   "password": "first-password-1"})[0], 401)
        self.server.login("pw-user", "second-password-2")

    def test_api_token_works_then_revoked_within_1s(self):
        # a token made by another process: the server notices the commit (create_token
        # waits, bounded, until it is accepted)
        token, tid = self.server.create_token(ADMIN, "api-test-revoke")
        status, _, me = self.jreq("GET", "/api/v1/auth/me", token=token)
        self.assertEqual(me["username"], ADMIN)
        # it may write, as its admin user
        status, _, obj = self.jreq("POST", "/api/v1/engines",
                                   {"name": "by-api-token", "engine_type": "prefect",
                                    "api_url": "https://prefect.example.com"}, token=token)
        self.assertEqual(status, 201, obj)
        self.assertEqual(obj["created_by"], me["id"])
        # the token is not in the server's log
        self.assertNotIn(token, self.server.log_text())

        p = self.server.cli("tokens", "revoke", str(tid))
        self.assertEqual(p.returncode, 0, p.stderr)
        t0 = time.monotonic()
        refused = poll(lambda: self.jreq("GET", "/api/v1/auth/me", token=token)[0] == 401, 1.0,
                       every=0.02, max_tries=200)
        took = time.monotonic() - t0
        self.assertTrue(refused, "a revoked token still works after %.2f s" % took)
        self.assertLessEqual(took, scaled(1.0) + 0.25)
        self.assertEqual(self.jreq("GET", "/api/v1/engines", token=token)[0], 401)

    def test_viewer_api_token_is_a_viewer(self):
        token, _ = self.server.create_token(VIEWER, "api-test-viewer")
        self.assertEqual(self.jreq("GET", "/api/v1/auth/me", token=token)[2]["role"], "viewer")
        status, _, obj = self.jreq("POST", "/api/v1/engines",
                                   {"name": "by-viewer-token", "engine_type": "n8n",
                                    "api_url": "https://n8n.example.com"}, token=token)
        self.assertEqual(status, 403, obj)


class Roles(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, _, obj = cls.server.json("POST", "/api/v1/engines",
                                         {"name": "role-engine", "engine_type": "n8n",
                                          "api_url": "https://n8n.example.com"}, token=cls.admin)
        assert status == 201, obj

    def test_viewer_reads_200(self):
        for path in ("/api/v1/engines", "/api/v1/engines?engine_type=n8n",
                     "/api/v1/engines/role-engine", "/api/v1/engines/role-engine/history",
                     "/api/v1/auth/me"):
            status, _, obj = self.jreq("GET", path, token=self.viewer)
            self.assertEqual(status, 200, "%s: %r" % (path, obj))

    def test_viewer_writes_403(self):
        writes = [
            ("POST", "/api/v1/engines", {"name": "viewer-made", "engine_type": "n8n",
                                         "api_url": "https://n8n.example.com"}),
            ("POST", "/api/v1/engines", {"bad": "body"}),
            ("PATCH", "/api/v1/engines/role-engine", {"active": False}),
            ("PATCH", "/api/v1/engines/does-not-exist", {"active": False}),
            ("DELETE", "/api/v1/engines/role-engine", None),
            ("DELETE", "/api/v1/engines/does-not-exist", None),
        ]
        for method, path, body in writes:
            status, _, obj = self.jreq(method, path, body, token=self.viewer)
            self.assertEqual(status, 403, "%s %s: %r" % (method, path, obj))
            self.assertDetail(obj)
        # nothing changed
        status, _, obj = self.jreq("GET", "/api/v1/engines/role-engine", token=self.viewer)
        self.assertEqual(status, 200)
        self.assertTrue(obj["active"])
        self.assertEqual(self.jreq("GET", "/api/v1/engines/viewer-made", token=self.admin)[0],
                         404)

    def test_admin_reads_too(self):
        for path in ("/api/v1/engines", "/api/v1/engines/role-engine",
                     "/api/v1/engines/role-engine/history"):
            self.assertEqual(self.jreq("GET", path, token=self.admin)[0], 200, path)

    def test_disabled_user_token_refused(self):
        # A disabled user's tokens stop working (`users disable`, from outside).
        self.server.add_user("temp-admin", "admin", "temp-password-1")
        token = self.server.login("temp-admin", "temp-password-1")
        self.assertEqual(self.jreq("GET", "/api/v1/auth/me", token=token)[0], 200)
        p = self.server.cli("users", "disable", "temp-admin")
        self.assertEqual(p.returncode, 0, p.stderr)
        refused = poll(lambda: self.jreq("GET", "/api/v1/auth/me", token=token)[0] == 401, 2,
                       every=0.02, max_tries=200)
        self.assertTrue(refused, "a disabled user's session still works")
        status, _, obj = self.jreq("POST", LOGIN,
                                   {"username": "temp-admin", "password": "temp-password-1"})
        self.assertEqual(status, 401, obj)


class LoginLimiter(harness.unittest.TestCase):
    """Failed logins are slowed per user and address: 429 with Retry-After. Its own
    server, so that the lock-out does not touch the other tests' logins."""

    def test_429_after_repeated_failures(self):
        server = Server()
        try:
            server.start()
            got = []
            for _ in range(15):
                status, headers, obj = server.json("POST", LOGIN,
                                                   {"username": VIEWER, "password": "nope-nope"})
                got.append(status)
                if status == 429:
                    break
                self.assertEqual(status, 401, obj)
            self.assertEqual(got[-1], 429, "no 429 after %d failed logins: %r" % (len(got), got))
            self.assertGreaterEqual(len(got), 5, "the first failures are free: %r" % got)
            self.assertDetail(obj)
            self.assertRegex(headers.get("retry-after", ""), r"^[1-9][0-9]*$")
            # while locked, even the right password is refused
            status, headers, obj = server.json("POST", LOGIN,
                                               {"username": VIEWER, "password": VIEWER_PASSWORD})
            self.assertIn(status, (429, 200))
            # another user from the same address is not locked by the viewer's failures
            status, _, obj = server.json("POST", LOGIN,
                                         {"username": ADMIN, "password": ADMIN_PASSWORD})
            self.assertEqual(status, 200, obj)
        finally:
            rc, took = server.stop()
            server.close()
        self.assertEqual(rc, 0, "exit after SIGTERM (%.1f s)" % took)

    def assertDetail(self, obj):
        self.assertIsInstance(obj, dict)
        self.assertIsInstance(obj.get("detail"), str)


if __name__ == "__main__":
    harness.main()
