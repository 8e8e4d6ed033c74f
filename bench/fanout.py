#!/usr/bin/env python3
"""bench/fanout.py: the fan-out of GET /api/v1/workflows (issue 5): 50 fake n8n engines
(tests/fakes, in this process, on 127.0.0.1), each answering after 100 ms, registered in
a `wfreg serve` on a temporary SQLite database (tests/api/harness.py starts it, the
health monitor off so that only the bench's requests reach the fakes).

    python3 bench/fanout.py [build/wfreg]
        (ENGINES=50 DELAY_MS=100 RUNS=10 WORKERS=2 FAKE_PROCS=10)

It measures each engine alone (GET /api/v1/engines/{name}/workflows, one after the
other) and then every engine at once (GET /api/v1/workflows, RUNS times), and prints the
wall time of the fan-out against the slowest single engine: about 1.0 means the engines
were asked concurrently; ENGINES would mean one after the other. The fakes run in
FAKE_PROCS child processes (10 by default, 5 fakes each): in one Python process, 50
fakes answering at once queue behind one interpreter lock, and the figure would measure
the fakes. Python's standard library only; every wait is bounded."""

import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fakes"))
import harness  # noqa: E402
from fake_n8n import FakeN8n  # noqa: E402

ENGINES = int(os.environ.get("ENGINES", "50"))
DELAY_MS = int(os.environ.get("DELAY_MS", "100"))
RUNS = int(os.environ.get("RUNS", "10"))
WORKERS = int(os.environ.get("WORKERS", "2"))
FAKE_PROCS = max(1, int(os.environ.get("FAKE_PROCS", "10")))
KEY = "bench-n8n-key-0001"
WORKFLOWS = 20  # per engine


def timed(server, path, token):
    t0 = time.monotonic()
    status, _, obj = server.json("GET", path, token=token)
    took = time.monotonic() - t0
    if status != 200:
        raise SystemExit("GET %s: %d %r" % (path, status, obj))
    return took, obj


def serve_fakes(n):
    """Child mode: n slow fakes; prints their URLs, then runs until standard input
    closes (the parent ends, or dies)."""
    fakes = []
    for _ in range(n):
        f = FakeN8n(keys=[KEY], workflows=WORKFLOWS)
        f.start()
        f.switch("slow", delay_ms=DELAY_MS)
        fakes.append(f)
        print(f.url, flush=True)
    sys.stdin.read()
    for f in fakes:
        f.stop()


def start_fakes():
    """FAKE_PROCS children with ENGINES fakes between them: (processes, urls)."""
    procs, urls = [], []
    for i in range(FAKE_PROCS):
        n = ENGINES // FAKE_PROCS + (1 if i < ENGINES % FAKE_PROCS else 0)
        if n == 0:
            continue
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--fakes", str(n)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(p)
        for _ in range(n):
            line = p.stdout.readline().strip()
            if not line.startswith("http://"):
                raise SystemExit("a fake process did not start: %r" % line)
            urls.append(line)
    return procs, urls


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--fakes":
        serve_fakes(int(sys.argv[2]))
        return
    harness.WFREG = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/wfreg")
    procs, server = [], None
    try:
        procs, urls = start_fakes()
        server = harness.Server(env={"WFREG_HEALTH_INTERVAL": "0"},
                                workers=WORKERS).start()
        admin = server.login(harness.ADMIN, harness.ADMIN_PASSWORD)
        for i, url in enumerate(urls):
            status, _, obj = server.json("POST", "/api/v1/engines", {
                "name": "fan-%03d" % i, "engine_type": "n8n", "api_url": url,
                "api_key": KEY}, token=admin)
            if status != 201:
                raise SystemExit("create: %d %r" % (status, obj))
        timed(server, "/api/v1/workflows", admin)  # warm: connections to every fake

        single = [timed(server, "/api/v1/engines/fan-%03d/workflows" % i, admin)[0]
                  for i in range(ENGINES)]
        fan = []
        for _ in range(RUNS):
            took, obj = timed(server, "/api/v1/workflows", admin)
            if len(obj["items"]) != ENGINES * WORKFLOWS or obj["errors"]:
                raise SystemExit("fan-out: %d items, errors %r" % (len(obj["items"]),
                                                                    obj["errors"][:3]))
            fan.append(took)
        slowest = max(single)
        med = statistics.median(fan)
        print("engines: %d, each answering after %d ms, %d workflows each; %d workers; fakes "
              "in %d processes" % (ENGINES, DELAY_MS, WORKFLOWS, WORKERS, len(procs)))
        print("one engine alone (GET /api/v1/engines/{name}/workflows): median %.0f ms, "
              "slowest %.0f ms" % (statistics.median(single) * 1000, slowest * 1000))
        print("every engine at once (GET /api/v1/workflows, %d runs): min %.0f ms, median "
              "%.0f ms, max %.0f ms" % (RUNS, min(fan) * 1000, med * 1000, max(fan) * 1000))
        print("fan-out median / slowest single engine: %.2f (one after the other: about %d)"
              % (med / slowest, ENGINES))
    finally:
        if server is not None:
            server.stop()
            server.close()
        for p in procs:
            p.stdin.close()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


if __name__ == "__main__":
    main()
