"""test_web.py: how `wfreg serve` serves the admin page (issue 6): index.html at /, every
other file at /ui/{file}, with the right content types, security headers (a CSP without
inline script, nosniff, no framing, no referrer), ETags and 304s; every file the page
loads or imports is there; nothing points to another origin; names that try to leave the
folder find nothing. The page's behaviour is tested in a browser (tests/web)."""

import re
import socket
import unittest

import harness
from harness import ServerTestCase

SRC_RE = re.compile(r'\b(?:src|href)="([^"]*)"')
IMPORT_RE = re.compile(r'\bfrom\s+[\'"]([^\'"]+)[\'"]|\bimport\s*\(?\s*[\'"]([^\'"]+)[\'"]')
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


class Page(ServerTestCase):
    def get(self, path, headers=None):
        resp = self.req("GET", path, headers=headers)
        return resp

    def assertPageHeaders(self, resp, what):
        h = resp.headers
        csp = h.get("content-security-policy", "")
        directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
        self.assertEqual(directives.get("default-src"), ["'none'"], what)
        self.assertEqual(directives.get("script-src"), ["'self'"], what)  # no inline, no eval
        self.assertEqual(directives.get("connect-src"), ["'self'"], what)
        self.assertEqual(directives.get("frame-ancestors"), ["'none'"], what)
        self.assertNotIn("unsafe", csp, what)
        self.assertEqual(h.get("x-content-type-options"), "nosniff", what)
        self.assertEqual(h.get("referrer-policy"), "no-referrer", what)
        self.assertEqual(h.get("x-frame-options"), "DENY", what)
        self.assertRegex(h.get("etag", ""), r'^"[0-9a-f]{16}"$', what)
        self.assertNotIn("set-cookie", h, what)

    def test_index(self):
        resp = self.get("/")
        self.assertStatus(resp, 200, "GET /")
        self.assertEqual(resp.headers["content-type"], "text/html; charset=utf-8")
        self.assertPageHeaders(resp, "GET /")
        html = resp.body.decode("utf-8")
        self.assertTrue(html.lower().startswith("<!doctype html>"))
        # every script is a file of this origin: the CSP would refuse an inline one
        scripts = re.findall(r"<script\b[^>]*>", html)
        self.assertTrue(scripts)
        for s in scripts:
            self.assertRegex(s, r'src="/ui/[a-z_]+\.js"', s)
        self.assertNotRegex(html, r"\son[a-z]+=", "inline event handlers")
        self.assertNotIn("style=", html)

    def test_every_file_the_page_loads_is_served(self):
        """Follows index.html's src/href and every module's imports, checking that each
        is served with its type and that none leaves the origin."""
        seen, todo = set(), ["/"]
        for _ in range(100):
            if not todo:
                break
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            resp = self.get(path)
            self.assertStatus(resp, 200, path)
            self.assertPageHeaders(resp, path)
            ext = "." + path.rsplit(".", 1)[-1] if "." in path else ".html"
            self.assertTrue(resp.headers["content-type"].startswith(TYPES[ext]), path)
            text = resp.body.decode("utf-8")
            refs = SRC_RE.findall(text) if ext == ".html" else []
            if ext == ".js":
                refs = [a or b for a, b in IMPORT_RE.findall(text)]
            if ext == ".css":
                self.assertNotIn("url(", text, "a style sheet that fetches")
                self.assertNotIn("@import", text)
            for ref in refs:
                if ref.startswith("#"):
                    continue
                self.assertFalse(re.match(r"^[a-z]+:|^//", ref), "%s refers to %s" % (path, ref))
                todo.append("/ui/" + ref[2:] if ref.startswith("./") else ref)
        self.assertGreaterEqual(len(seen), 6, seen)
        self.assertIn("/ui/app.js", seen)

    def test_etag_revalidation(self):
        first = self.get("/ui/app.js")
        etag = first.headers["etag"]
        self.assertEqual(first.headers.get("cache-control"), "no-cache")
        again = self.get("/ui/app.js", headers={"If-None-Match": etag})
        self.assertStatus(again, 304, "same ETag")
        self.assertEqual(again.body, b"")
        self.assertEqual(again.headers.get("etag"), etag)
        self.assertPageHeaders(again, "304")
        weak = self.get("/ui/app.js", headers={"If-None-Match": 'W/"0000000000000000", W/' + etag})
        self.assertStatus(weak, 304, "a list with the weak form")
        other = self.get("/ui/app.js", headers={"If-None-Match": '"0000000000000000"'})
        self.assertStatus(other, 200, "another ETag")
        self.assertEqual(other.body, first.body)
        self.assertNotEqual(self.get("/ui/app.css").headers["etag"], etag, "one ETag per file")

    def test_no_token_needed_and_no_cookie(self):
        resp = self.get("/ui/api.js")
        self.assertStatus(resp, 200, "the page loads before anyone logs in")
        self.assertIn(b"sessionStorage", resp.body)
        self.assertNotIn(b"document.cookie", resp.body)

    def test_names_outside_the_folder_find_nothing(self):
        for path in ["/ui/", "/ui/nope.js", "/ui/..%2Fapi%2Fopenapi.json", "/ui/%2e%2e%2fCMakeLists.txt",
                     "/ui/.hidden", "/ui/app.js%00.png", "/ui/app.js/x", "/index.html",
                     "/ui/APP.JS", "/ui/..", "/ui/%2e%2e"]:
            resp = self.get(path)
            self.assertStatus(resp, 404, path)
            self.assertDetail(resp.json(), path)

    def test_other_methods(self):
        for method in ["POST", "DELETE", "PATCH"]:
            resp = self.req(method, "/ui/app.js")
            self.assertStatus(resp, 405, method)
            self.assertEqual(resp.headers.get("allow"), "GET, HEAD")

    def head_then_get(self, path):
        """HEAD path, then GET /healthz on the same connection: (the HEAD answer's head
        as text, everything after it)."""
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=harness.scaled(5))
        try:
            s.sendall(("HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
            data = b""
            for _ in range(1000):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        return head.decode("latin-1"), rest

    def test_head(self):
        """HEAD answers as GET would, without the body: with GET's length, and nothing
        after the headers (libevent 2.1 sent the body, unframed, which the next answer
        on the connection was read as part of)."""
        full = self.get("/ui/app.js").body
        for path, status, length in [("/ui/app.js", 200, len(full)), ("/", 200, None),
                                     ("/nope", 404, None), ("/api/v1/engines", 405, None),
                                     ("/healthz", 405, None)]:
            head, rest = self.head_then_get(path)
            self.assertTrue(head.startswith("HTTP/1.1 %d " % status), "%s: %r" % (path, head))
            m = re.search(r"(?im)^content-length: (\d+)\r?$", head)
            self.assertIsNotNone(m, "%s: no length: %r" % (path, head))
            if length is not None:
                self.assertEqual(int(m.group(1)), length, path)
            self.assertTrue(rest.startswith(b"HTTP/1.1 200 OK\r\n"), "%s: after the head: %r" % (path, rest[:80]))
            self.assertTrue(rest.endswith(b'{"status":"ok"}'), path)

    def test_access_log_names_the_route(self):
        mark = len(self.server.log())
        self.get("/ui/app.css")
        self.server.wait_log(r"GET /ui/\{file\} 200", start=mark)


if __name__ == "__main__":
    harness.main()
