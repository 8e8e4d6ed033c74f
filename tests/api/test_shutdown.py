"""test_shutdown.py: SIGTERM (and SIGINT) stop the server cleanly: a request in flight
is answered in full, open keep-alive connections, busy ones and half-sent requests do not
hold it up, and it exits 0 within 5 seconds."""

import signal
import socket
import threading
import time
import unittest

import harness
from harness import ADMIN, ADMIN_PASSWORD, Server, scaled

LOGIN = "/api/v1/auth/login"


class Shutdown(unittest.TestCase):
    def setUp(self):
        self.server = Server().start()

    def tearDown(self):
        self.server.close()

    def assertStopped(self, rc, took, sig="SIGTERM"):
        s = self.server
        self.assertEqual(rc, 0, "exit %s after %s (%.2f s); log:\n%s" % (rc, sig, took,
                                                                          s.log_text()[-3000:]))
        self.assertLessEqual(took, scaled(5.0), "took %.2f s to stop" % took)
        self.assertIsNotNone(s.wait_log("Received %s" % sig, 1), s.log_text()[-2000:])
        self.assertIsNotNone(s.wait_log("Stopped", 1), s.log_text()[-2000:])
        self.assertEqual(s.sanitizer_reports(), [])

    def test_idle_server(self):
        self.assertEqual(self.server.request("GET", "/healthz").status, 200)
        rc, took = self.server.stop()
        self.assertStopped(rc, took)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", self.server.port), timeout=2).close()

    def test_sigint(self):
        t0 = time.monotonic()
        self.server.signal(signal.SIGINT)
        rc = self.server.wait_exit(scaled(5))
        self.assertStopped(rc, time.monotonic() - t0, "SIGINT")

    def test_request_in_flight_is_answered(self):
        # A login takes a while (argon2id): send one, stop the server while it is being
        # handled, and read a complete answer.
        s = self.server
        body = b'{"username": "%s", "password": "%s"}' % (ADMIN.encode(), ADMIN_PASSWORD.encode())
        conn = socket.create_connection(("127.0.0.1", s.port), timeout=scaled(10))
        try:
            conn.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (LOGIN.encode(), len(body), body))
            time.sleep(0.01)
            t0 = time.monotonic()
            s.signal(signal.SIGTERM)
            r = harness.read_response(conn, timeout=10)
        finally:
            conn.close()
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["token"])
        rc = s.wait_exit(scaled(5))
        self.assertStopped(rc, time.monotonic() - t0)

    def test_keepalive_connections_open(self):
        s = self.server
        conns = [s.connect() for _ in range(8)]
        try:
            for c in conns:
                r = s.request("GET", "/healthz", conn=c)
                self.assertEqual(r.status, 200)
            # a few idle sockets that never sent anything, and one half a request
            idle = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(4)]
            idle[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            time.sleep(0.1)
            rc, took = s.stop()
            for sock in idle:
                sock.close()
        finally:
            for c in conns:
                c.close()
        self.assertStopped(rc, took)

    def test_busy_keepalive_clients(self):
        # Clients that keep sending on their keep-alive connections while the server
        # stops: each request gets a whole answer or the connection closes; none hangs.
        s = self.server
        token = s.login(ADMIN, ADMIN_PASSWORD)
        stop = threading.Event()
        results = []
        errors = []

        def client():
            c = s.connect(timeout=5)
            try:
                for _ in range(100000):
                    if stop.is_set():
                        return
                    try:
                        r = s.request("GET", "/api/v1/engines", token=token, conn=c, timeout=5)
                    except (OSError, harness.http.client.HTTPException):
                        return  # closed by the server: fine
                    results.append(r.status)
                    if r.status != 200:
                        errors.append(r)
                    if r.headers.get("connection", "").lower() == "close":
                        return
            finally:
                c.close()

        threads = [threading.Thread(target=client, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        rc, took = s.stop()
        stop.set()
        for t in threads:
            t.join(scaled(10))
        self.assertFalse(any(t.is_alive() for t in threads), "a client hangs")
        self.assertEqual(errors, [])
        self.assertGreater(len(results), 4)
        self.assertStopped(rc, took)


if __name__ == "__main__":
    harness.main()
