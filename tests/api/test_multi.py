"""test_multi.py: several wfreg instances on one database behave as one registry.

A committed change on one instance reaches the other's snapshot within one second, and
a name created on both at once ends with exactly one 201 and one 409. Two `wfreg serve`
processes share one SQLite file here (the server notices another process's commit
through PRAGMA data_version).
"""

import threading
import time
import unittest

from harness import ADMIN, ADMIN_PASSWORD, Server, main, poll, scaled

ENGINES = "/api/v1/engines"


class TwoInstancesTests:
    """The tests, for any backend: a subclass (also a unittest.TestCase) says which
    database the two servers share by overriding database_env()."""

    @classmethod
    def database_env(cls):
        return None  # the harness's own SQLite file

    @classmethod
    def setUpClass(cls):
        cls.a = cls.b = None
        try:
            cls.a = Server(env=cls.database_env()).start()
            cls.b = Server(same_db_as=cls.a).start()
            cls.token = cls.a.login(ADMIN, ADMIN_PASSWORD)
            # the session made on a is usable on b once b has noticed it
            if not poll(lambda: cls.b.request("GET", "/api/v1/auth/me",
                                              token=cls.token).status == 200, scaled(3)):
                raise AssertionError("b never accepted a's session")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in (cls.b, cls.a):
            if s is not None:
                if s.proc is not None and s.proc.poll() is None:
                    rc, _ = s.stop()
                    assert rc == 0, "exit %s after SIGTERM" % rc
                s.close()

    def seen_within(self, server, path, check, limit=1.0):
        """Fails unless check(response) holds on server within limit seconds (scaled)."""
        start = time.monotonic()
        ok = poll(lambda: check(server.request("GET", path, token=self.token)),
                  scaled(limit), every=0.02)
        self.assertTrue(ok, "%s not as expected on the other instance after %.2f s"
                        % (path, time.monotonic() - start))

    def test_post_patch_delete_on_one_are_read_on_the_other_within_a_second(self):
        for writer, reader in ((self.a, self.b), (self.b, self.a)):
            name = "shared-%d" % writer.port
            body = {"name": name, "engine_type": "n8n", "api_url": "https://s.example.com",
                    "api_key": "k-%d" % writer.port}
            status, _, made = writer.json("POST", ENGINES, body, token=self.token)
            self.assertEqual(status, 201, made)
            self.seen_within(reader, ENGINES + "/" + name,
                             lambda r: r.status == 200 and r.json()["key_status"] == "ok")
            status, _, obj = writer.json("PATCH", ENGINES + "/" + name, {"active": False},
                                         token=self.token)
            self.assertEqual(status, 200, obj)
            self.seen_within(reader, ENGINES + "/" + name,
                             lambda r: r.status == 200 and r.json()["active"] is False)
            status, _, _ = writer.json("DELETE", ENGINES + "/" + name, token=self.token)
            self.assertEqual(status, 204)
            self.seen_within(reader, ENGINES + "/" + name, lambda r: r.status == 404)

    def test_the_same_name_created_on_both_at_once(self):
        for round_ in range(5):
            name = "race-%d" % round_
            body = {"name": name, "engine_type": "prefect",
                    "api_url": "https://%s.example.com" % name}
            statuses = []
            gate = threading.Barrier(2)

            def create(server):
                gate.wait(scaled(5))
                statuses.append(server.json("POST", ENGINES, body, token=self.token)[0])

            threads = [threading.Thread(target=create, args=(s,)) for s in (self.a, self.b)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(scaled(10))
            self.assertEqual(sorted(statuses), [201, 409], name)
            self.seen_within(self.a, ENGINES + "/" + name, lambda r: r.status == 200)
            status, _, obj = self.a.json("GET", ENGINES + "?limit=500", token=self.token)
            self.assertEqual([e["name"] for e in obj["items"]].count(name), 1, name)


class TwoInstances(TwoInstancesTests, unittest.TestCase):
    """On one SQLite file (the server notices another process's commit through PRAGMA
    data_version)."""


if __name__ == "__main__":
    main()
