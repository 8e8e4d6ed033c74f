"""harness.py: what the engine adapters' integration tests share.

Each test file runs as `python3 tests/engines/test_x.py path/to/wfreg` (ctest passes the
built binary). A Registry is a fresh temporary SQLite database, migrated, with
SECRET_KEY set: engines are added with `wfreg engines add ... --api-key-stdin` (the key
encrypted at rest, decrypted by the command that calls the engine) or declared in the
environment (WFREG_ENGINE_<NAME>). The engines are the fakes of tests/fakes, started
in-process on 127.0.0.1. Every wfreg run is bounded in time; the sanitizers' reports
(ASan build) fail the test. Python's standard library only.

WFREG_TEST_TIMEOUT_SCALE (default 1; the ASan build sets it) stretches the time bounds.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))

from fake_n8n import FakeN8n  # noqa: E402,F401
from fake_prefect import FakePrefect  # noqa: E402,F401
from fake_windmill import FakeWindmill  # noqa: E402,F401

WFREG = os.environ.get("WFREG_BIN")
SCALE = max(1.0, float(os.environ.get("WFREG_TEST_TIMEOUT_SCALE", "1") or "1"))
SECRET_KEY = "engines-test-secret-key"
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:")
_CLEARED = re.compile(
    r"^(DATABASE_URL|SECRET_KEY|WFREG_.*|LOG_LEVEL|LOG_FORMAT|N8N_API_.*|PREFECT_API_.*"
    r"|WINDMILL_API_.*|WINDMILL_WORKSPACE|https?_proxy|HTTPS?_PROXY|ALL_PROXY|all_proxy"
    r"|NO_PROXY|no_proxy)$")


def scaled(seconds):
    return seconds * SCALE


class Result:
    def __init__(self, code, out, err, elapsed):
        self.code, self.out, self.err, self.elapsed = code, out, err, elapsed

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "<exit %s, %.2fs\nout: %s\nerr: %s>" % (self.code, self.elapsed, self.out[-2000:],
                                                      self.err[-2000:])


class Registry:
    """A temporary database with engines; run() runs wfreg on it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="wfreg-engines-")
        self.env = {k: v for k, v in os.environ.items() if not _CLEARED.match(k)}
        self.env.update({"DATABASE_URL": "sqlite:%s/wfreg.db" % self.dir,
                         "SECRET_KEY": SECRET_KEY})
        self.secrets = []  # every key given to wfreg: none may appear in its output
        r = self.run("migrate", "up")
        if r.code != 0:
            raise RuntimeError("migrate up failed: %r" % r)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, *args, stdin=None, env=None, timeout=60):
        e = dict(self.env)
        e.update(env or {})
        t0 = time.monotonic()
        p = subprocess.run([WFREG] + list(args), input=(stdin or "").encode(), env=e,
                           capture_output=True, timeout=scaled(timeout))
        r = Result(p.returncode, p.stdout.decode("utf-8", "replace"),
                   p.stderr.decode("utf-8", "replace"), time.monotonic() - t0)
        if SANITIZER_RE.search(r.err):
            raise AssertionError("sanitizer report: %r" % r)
        for s in self.secrets:
            if s in r.out or s in r.err:
                raise AssertionError("a key appears in wfreg's output: %r" % r)
        return r

    def add(self, name, engine_type, url, key=None, config=None):
        """engines add, the key through standard input."""
        args = ["engines", "add", name, "--type", engine_type, "--url", url]
        if config is not None:
            args += ["--config", json.dumps(config)]
        if key is not None:
            args.append("--api-key-stdin")
            self.secrets.append(key)
        r = self.run(*args, stdin=key)
        if r.code != 0:
            raise RuntimeError("engines add %s failed: %r" % (name, r))

    def env_engine(self, name, engine_type, url, key=None, config=None):
        """An environment engine (WFREG_ENGINE_<NAME>)."""
        spec = {"engine_type": engine_type, "api_url": url, "config": config or {}}
        if key is not None:
            spec["api_key"] = key
            self.secrets.append(key)
        self.env["WFREG_ENGINE_" + name.upper().replace("-", "_")] = json.dumps(spec)


class EngineTest(unittest.TestCase):
    """A test case with a fresh Registry (self.reg) and fakes stopped at the end."""

    def setUp(self):
        self.reg = Registry()
        self._fakes = []

    def tearDown(self):
        for f in self._fakes:
            f.stop()
        self.reg.close()

    def fake(self, cls, **kw):
        f = cls(**kw)
        f.start()
        self._fakes.append(f)
        return f

    def header_values(self, fake, name, path=None):
        """Every value of header name that fake received (on paths under path)."""
        out = []
        for req in fake.requests(path):
            out += [v for k, v in req["headers"] if k.lower() == name.lower()]
        return out


def main():
    global WFREG
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        WFREG = os.path.abspath(sys.argv.pop(1))
    if not WFREG:
        sys.exit("usage: %s path/to/wfreg [unittest args]" % sys.argv[0])
    unittest.main(verbosity=2)
