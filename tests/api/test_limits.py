"""test_limits.py: the cap on connections (`wfreg serve --max-connections`)."""

import socket
import time
import unittest

from harness import Server, main, scaled


def get_healthz(sock):
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")


def answered(sock, timeout):
    """True when an HTTP answer starts arriving on sock within timeout seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(64).startswith(b"HTTP/1.1 200")
    except socket.timeout:
        return False


class ConnectionCap(unittest.TestCase):
    def test_connections_over_the_cap_wait_for_one_to_close(self):
        server = Server(workers=1, users=False, args=["--max-connections", "2"]).start()
        try:
            held = []
            for _ in range(2):
                s = socket.create_connection(("127.0.0.1", server.port), timeout=scaled(5))
                get_healthz(s)
                self.assertTrue(answered(s, scaled(5)), "a connection under the cap is served")
                held.append(s)
            time.sleep(0.2)
            third = socket.create_connection(("127.0.0.1", server.port), timeout=scaled(5))
            get_healthz(third)
            self.assertFalse(answered(third, 1.0), "a third connection waits while two are open")
            held.pop().close()
            self.assertTrue(answered(third, scaled(5)),
                            "the waiting connection is served once one closes")
            third.close()
            for s in held:
                s.close()
        finally:
            server.stop()
            server.close()

    def test_bad_values_are_refused(self):
        server = Server(users=False)
        try:
            for bad in ("0", "-1", "x", ""):
                r = server.cli("serve", "--max-connections", bad)
                self.assertEqual(r.returncode, 2, bad)
                self.assertIn(b"--max-connections", r.stderr)
        finally:
            server.close()


if __name__ == "__main__":
    main()
