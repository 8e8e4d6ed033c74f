"""test_load.py: issue 7's load test. ctest runs it as `python3 tests/load/test_load.py
path/to/wfreg` (label load, alone: RUN_SERIAL; never under the sanitizers).

A `wfreg serve` (tests/api/harness.py: a fresh SQLite database, 2 workers, the access
log at info level, the health monitor on) with SEEDS engines registered takes a mixed
load from wrk for LOAD_SECONDS (environment, default 60): 256 connections on loopback,
reads and writes as tests/load/mixed.lua makes them (creates with API keys, patches,
deletes, lists, one engine, /healthz), with an admin token. While it runs, the server's
VmRSS is read from /proc/PID/status every second.

It asserts: no socket error (connect, read, write, timeout), every answer 2xx (the mix
is race-free by construction, so a 404 or 409 would be the script's bug or the
server's), no 5xx in the access log either, writes really happened, the seeded engines
are intact afterwards, the server exits 0 on SIGTERM, and the peak RSS of the last ten
seconds is under 1.10 times the peak of the first ten. It prints requests/s, latency
p50/p99 (wrk), the counts and the RSS samples. The machine may be small and shared:
wrk's timeout is generous (30 s) and no speed is asserted, only correctness and memory.

wrk must be installed (scripts/install-deps.sh installs it); without it the test fails
saying so. Every wait is bounded; only 127.0.0.1 is contacted.
"""

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
import harness  # noqa: E402
from harness import ADMIN, ADMIN_PASSWORD, Server  # noqa: E402

MIX = os.path.join(HERE, "mixed.lua")
LOAD_SECONDS = int(os.environ.get("LOAD_SECONDS", "60") or "60")
CONNECTIONS = 256
WRK_THREADS = 2
SEEDS = 60
WINDOW = 10  # seconds: the first and the last window of RSS samples compared
RSS_GROWTH_MAX = 1.10
ENGINES = "/api/v1/engines"
ACCESS_RE = re.compile(r" (GET|POST|PATCH|DELETE|HEAD|PUT|OPTIONS) \S+ (\d{3}) [\d.]+ms user=")


def vm_rss_kib(pid):
    """The process's resident set in KiB (VmRSS), or None once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class RssSampler:
    """Reads a process's VmRSS once a second, in a thread, until stop() (bounded by
    max_seconds): samples is a list of (seconds since start, KiB)."""

    def __init__(self, pid, max_seconds):
        self.pid = pid
        self.max_seconds = max_seconds
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def _run(self):
        for _ in range(int(self.max_seconds) + 1):
            rss = vm_rss_kib(self.pid)
            if rss is not None:
                self.samples.append((time.monotonic() - self.t0, rss))
            if self._stop.wait(1.0):
                return

    def stop(self):
        self._stop.set()
        self._thread.join(5)


def parse_wrk(text):
    """wrk's summary and mixed.lua's MIX lines as a dict of numbers."""
    out = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out.update(zip(("wrk_connect", "wrk_read", "wrk_write", "wrk_timeout"),
                   (int(x) for x in m.groups()) if m else (0, 0, 0, 0)))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["wrk_non2xx3xx"] = int(m.group(1)) if m else 0
    for line in text.splitlines():
        if line.startswith("MIX ") and not line.startswith("MIX unexpected"):
            words = line.split()
            group = words[1]
            for w in words[2:]:
                k, _, v = w.partition("=")
                out["%s.%s" % (group, k)] = int(v)
    m = re.search(r"^MIX unexpected (.*)$", text, re.M)
    out["unexpected"] = m.group(1) if m else ""
    return out


class MixedLoad(unittest.TestCase):
    def test_mixed_load(self):
        wrk = shutil.which("wrk")
        if not wrk:
            self.fail("wrk is not installed: run scripts/install-deps.sh (as root or with sudo)")
        self.assertGreaterEqual(LOAD_SECONDS, 2 * WINDOW + 1,
                                "LOAD_SECONDS must leave two separate %d s windows" % WINDOW)
        server = Server()
        try:
            self.run_load(server, wrk)
        finally:
            server.close()

    def seed(self, server, token):
        types = ("n8n", "prefect", "windmill")
        for i in range(SEEDS):
            kind = types[i % 3]
            body = {"name": "seed-%03d" % i, "engine_type": kind,
                    "api_url": "http://127.0.0.1:9/seed/%d" % i, "api_key": "seed-key-%d" % i,
                    "active": i % 4 != 0,
                    "config": {"workspace": "ws"} if kind == "windmill" else {"timeout_ms": 1000}}
            status, _, obj = server.json("POST", ENGINES, body, token=token)
            self.assertEqual(status, 201, "seed %d: %r" % (i, obj))

    def run_load(self, server, wrk):
        server.start()
        token = server.login(ADMIN, ADMIN_PASSWORD)
        self.seed(server, token)
        before = server.json("GET", ENGINES + "?limit=500", token=token)[2]["items"]

        env = dict(os.environ, WFREG_TOKEN=token, WFREG_SEEDS=str(SEEDS),
                   WFREG_RUN_ID="%x" % int(time.time()))
        cmd = [wrk, "-t%d" % WRK_THREADS, "-c%d" % CONNECTIONS, "-d%ds" % LOAD_SECONDS,
               "--timeout", "30s", "--latency", "-s", MIX,
               "http://127.0.0.1:%d" % server.port]
        log_mark = len(server.log())
        sampler = RssSampler(server.proc.pid, LOAD_SECONDS + 120).start()
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                               timeout=LOAD_SECONDS + 120)
        finally:
            sampler.stop()
        took = time.monotonic() - t0
        out = p.stdout + p.stderr
        print("\n--- wrk ---\n" + out.rstrip(), flush=True)
        self.assertEqual(p.returncode, 0, "wrk failed:\n" + out)
        r = parse_wrk(out)

        # the server still answers, and the seeded engines are as they were
        self.assertEqual(server.request("GET", "/healthz").status, 200)
        after = server.json("GET", ENGINES + "?limit=500", token=token)[2]["items"]
        seeds_before = {e["name"]: e for e in before}
        seeds_after = {e["name"]: e for e in after if e["name"].startswith("seed-")}
        self.assertEqual(set(seeds_after), set(seeds_before))
        for name, e in seeds_before.items():
            for k in ("id", "engine_type", "api_url", "active", "config", "has_api_key",
                      "key_status", "updated_at"):
                self.assertEqual(seeds_after[name][k], e[k], "%s.%s changed" % (name, k))
        left = len(after) - len(seeds_after)

        mark = server.quiet_mark()
        rc, stop_took = server.stop()
        access = [ACCESS_RE.search(l) for l in server.log()[log_mark:mark]]
        statuses = [int(m.group(2)) for m in access if m]
        log_5xx = sum(1 for s in statuses if s >= 500)
        errors = [l for l in server.log() if " ERROR " in l or '"level":"error"' in l]

        # RSS: the peak of the first and of the last WINDOW seconds of the run
        samples = sampler.samples
        first = [kib for t, kib in samples if t < WINDOW]
        last = [kib for t, kib in samples if LOAD_SECONDS - WINDOW <= t <= LOAD_SECONDS + 1]
        first_peak = max(first) if first else 0
        last_peak = max(last) if last else 0
        growth = last_peak / first_peak if first_peak else float("inf")

        def ms(us):
            return us / 1000.0
        print("\n--- load figures (%d s, %d connections, %d wrk threads, %d server workers, "
              "%d seeded engines) ---" % (LOAD_SECONDS, CONNECTIONS, WRK_THREADS, server.workers,
                                          SEEDS))
        with open("/proc/loadavg") as f:
            print("load average at the end (1, 5, 15 min): %s" % " ".join(f.read().split()[:3]))
        print("requests: %d in %.1f s, %.0f requests/s" % (
            r.get("summary.requests", 0), r.get("summary.duration_us", 0) / 1e6, r["rps"] or 0))
        print("latency: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms" % (
            ms(r.get("latency_us.p50", 0)), ms(r.get("latency_us.p90", 0)),
            ms(r.get("latency_us.p99", 0)), ms(r.get("latency_us.max", 0))))
        print("answers: 2xx %d, 3xx %d, 4xx %d, 5xx %d" % tuple(
            r.get("status.%s" % c, -1) for c in ("2xx", "3xx", "4xx", "5xx")))
        print("writes answered: %d created (201), %d patched (200), %d deleted (204); sent: "
              "%d creates, %d patches, %d deletes, %d reads; mix engines left: %d" % (
                  r.get("answered.created", 0), r.get("answered.patched", 0),
                  r.get("answered.deleted", 0), r.get("sent.create", 0), r.get("sent.patch", 0),
                  r.get("sent.delete", 0), r.get("sent.read", 0), left))
        print("socket errors: connect %d, read %d, write %d, timeout %d; wrk non-2xx/3xx %d" % (
            r["wrk_connect"], r["wrk_read"], r["wrk_write"], r["wrk_timeout"],
            r["wrk_non2xx3xx"]))
        print("access log: %d lines, %d with 5xx; error lines: %d" % (
            len(statuses), log_5xx, len(errors)))
        print("RSS samples (KiB, one a second, %d): %s" % (
            len(samples), " ".join(str(k) for _, k in samples)))
        print("RSS peak: first %d s %d KiB, last %d s %d KiB, growth x%.3f (limit x%.2f)" % (
            WINDOW, first_peak, WINDOW, last_peak, growth, RSS_GROWTH_MAX))
        print("wrk took %.1f s; server stopped in %.2f s (exit %s)" % (took, stop_took, rc),
              flush=True)

        self.assertEqual((r["wrk_connect"], r["wrk_read"], r["wrk_write"], r["wrk_timeout"]),
                         (0, 0, 0, 0), "socket errors")
        self.assertEqual(r["wrk_non2xx3xx"], 0, "non-2xx answers: " + r["unexpected"][:1000])
        self.assertEqual((r.get("status.3xx"), r.get("status.4xx"), r.get("status.5xx")),
                         (0, 0, 0), "answers other than 2xx: " + r["unexpected"][:1000])
        self.assertGreater(r.get("status.2xx", 0), 0)
        self.assertEqual(log_5xx, 0, "5xx in the access log")
        self.assertEqual(errors, [], "error lines in the server's log")
        for k in ("answered.created", "answered.patched", "answered.deleted"):
            self.assertGreater(r.get(k, 0), 0, "no write of this kind happened: " + k)
        self.assertEqual(rc, 0, "exit after SIGTERM")
        self.assertEqual(server.sanitizer_reports(), [])
        self.assertGreaterEqual(len(first), WINDOW - 2, "too few RSS samples in the first window")
        self.assertGreaterEqual(len(last), WINDOW - 2, "too few RSS samples in the last window")
        self.assertLess(last_peak, RSS_GROWTH_MAX * first_peak,
                        "peak RSS grew by more than %d %%" % round((RSS_GROWTH_MAX - 1) * 100))


if __name__ == "__main__":
    harness.main()
