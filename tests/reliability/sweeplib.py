"""sweeplib.py: what the secrets sweeps share (tests/reliability/test_secrets_sweep.py on
SQLite, tests/pg/test_secrets_sweep_pg.py with a PostgreSQL password): unique markers,
one search over everything wfreg writes, and the checks of a running wfreg process in
/proc.

Markers: every secret of a run starts with the run's tag ("mk" and 10 hex digits, 12
characters), so that one search for the tag finds any of them, or any piece of 12 or more
characters of one's start. What could carry a secret in another spelling is searched too:
the tag in base64 (a Basic header: 12 characters are exactly 16 of base64, whatever
follows), and secrets that are not markers themselves (the Fernet key derived from
SECRET_KEY, keys made by `wfreg keys generate`), whole, in URL-safe and standard base64.

Python's standard library only. Only 127.0.0.1 is contacted (and only by the tests).
"""

import base64
import ctypes
import hashlib
import os
import re
import secrets
import subprocess
import sys

PR_CAPBSET_DROP = 24
CAP_SYS_PTRACE = 19


class Markers:
    """The unique secrets of one run."""

    def __init__(self):
        self.tag = "mk" + secrets.token_hex(5)
        self.values = {}  # label -> value
        self.extra = {}  # label -> a secret that is not a marker (searched whole)

    def new(self, label):
        v = "%s-%s-%s" % (self.tag, label, secrets.token_hex(3))
        self.values[label] = v
        return v

    def add_secret(self, label, value):
        """A secret that does not start with the tag (a generated Fernet key)."""
        self.extra[label] = value
        std = value.replace("-", "+").replace("_", "/")
        if std != value:
            self.extra[label + " (standard base64)"] = std

    def add_secret_key(self, secret_key):
        """SECRET_KEY is a marker; the Fernet key derived from it is a secret too."""
        derived = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest()).decode()
        self.add_secret("Fernet key derived from %s" % self.which(secret_key.encode(), 0),
                        derived)
        return derived

    def forms(self):
        """(label, bytes) pairs to search for."""
        tag = self.tag.encode()
        out = [("marker tag", tag),
               ("marker tag in base64", base64.b64encode(tag)),
               ("marker tag in URL-safe base64", base64.urlsafe_b64encode(tag))]
        out += [(k, v.encode()) for k, v in self.extra.items()]
        seen, uniq = set(), []
        for label, b in out:
            if b not in seen:
                seen.add(b)
                uniq.append((label, b))
        return uniq

    def which(self, data, start):
        """The label of the marker value found at data[start:], for messages."""
        for label, v in self.values.items():
            if data[start:start + len(v)] == v.encode():
                return label
        return "?"


class Sweep:
    """Searches places for markers: counts places by kind, keeps every hit."""

    def __init__(self, markers):
        self.m = markers
        self.places = {}  # kind -> number of places searched
        self.bytes = 0
        self.hits = []  # (kind, where, form, excerpt)

    def search(self, kind, where, data):
        if data is None:
            data = b""
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        self.places[kind] = self.places.get(kind, 0) + 1
        self.bytes += len(data)
        for label, form in self.m.forms():
            for hit in re.finditer(re.escape(form), data):
                if label == "marker tag":
                    label = "marker " + self.m.which(data, hit.start())
                lo, hi = max(0, hit.start() - 60), min(len(data), hit.end() + 30)
                excerpt = data[lo:hi].replace(form, b"<" + label.encode() + b">")
                self.hits.append((kind, where, label, excerpt))

    def search_lines(self, kind, where, lines):
        for i, line in enumerate(lines):
            self.search(kind, "%s line %d" % (where, i + 1), line)

    def search_response(self, where, r):
        """A harness Response: status, every header, body."""
        head = "%s\n" % r.status + "".join("%s: %s\n" % kv for kv in r.header_list)
        self.search("HTTP response (status, headers, body)", where, head.encode() + r.body)

    def total(self):
        return sum(self.places.values())

    def report(self, title):
        lines = ["%s: %d places searched (%.1f MB), %d hits" % (
            title, self.total(), self.bytes / 1e6, len(self.hits))]
        for kind in sorted(self.places):
            lines.append("  %6d  %s" % (self.places[kind], kind))
        extra = [l for l in self.m.extra if not l.endswith("(standard base64)")]
        lines.append("  searched for: the marker tag (%d markers start with it), as it is and "
                     "in base64; %d secrets that are no markers, as they are and in standard "
                     "base64: %s" % (len(self.m.values), len(extra), ", ".join(extra)))
        for kind, where, label, excerpt in self.hits[:30]:
            lines.append("  HIT %s [%s] %s: %r" % (kind, where, label, excerpt))
        return "\n".join(lines)


# --- a running process ---------------------------------------------------------------------

def read_proc(pid, name):
    with open("/proc/%d/%s" % (pid, name), "rb") as f:
        return f.read()


def core_limit(pid):
    """(soft, hard) of "Max core file size" in /proc/PID/limits, as written there."""
    for line in read_proc(pid, "limits").decode().splitlines():
        if line.startswith("Max core file size"):
            parts = line[len("Max core file size"):].split()
            return parts[0], parts[1]
    return None, None


_MEM_PROBE = r"""
import sys
caps = [l for l in open("/proc/self/status") if l.startswith("CapEff:")]
if caps and int(caps[0].split()[1], 16) & (1 << %d):
    print("unknown: the probe still holds CAP_SYS_PTRACE")
    sys.exit(0)
try:
    open("/proc/%%s/mem" %% sys.argv[1], "rb").close()
    print("readable")
except PermissionError:
    print("denied")
except OSError as e:
    print("unknown: %%s" %% e)
""" % CAP_SYS_PTRACE


def drop_ptrace():
    """For preexec_fn: CAP_SYS_PTRACE out of the bounding set before exec, so that a root
    process started so has it neither (a non-root one never has it; the call then fails,
    harmlessly)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0)
    except OSError:
        pass


def memory_probe(pid):
    """'readable', 'denied' or 'unknown: why': may a process of the same user, without
    CAP_SYS_PTRACE, open /proc/PID/mem? The kernel refuses it when PID is not dumpable
    (prctl PR_SET_DUMPABLE 0), and also when PID holds capabilities the probe lacks: start
    PID with drop_ptrace too, so that only dumpability decides."""
    p = subprocess.run([sys.executable, "-c", _MEM_PROBE, str(pid)], preexec_fn=drop_ptrace,
                       capture_output=True, text=True, timeout=30)
    return p.stdout.strip() or "unknown: " + p.stderr.strip()[-200:]


def dumpable_check(wfreg, env, cwd, timeout=10):
    """Starts `wfreg serve` (env: a migrated database and a key) and, as a control, a
    process that stays dumpable, both without CAP_SYS_PTRACE, and probes each one's
    memory. Returns (control, server): ('readable', 'denied') when wfreg made itself not
    dumpable, and the probe can tell."""
    control = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               preexec_fn=drop_ptrace)
    server = subprocess.Popen([wfreg, "serve", "--listen", "127.0.0.1:0", "--workers", "1"],
                              env=env, cwd=cwd, preexec_fn=drop_ptrace,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        lines = []
        for _ in range(200):  # bounded: the startup log is a few lines
            line = server.stderr.readline().decode(errors="replace")
            lines.append(line)
            if not line or "Listening on" in line:
                break
        if "Listening on" not in lines[-1]:
            raise AssertionError("serve did not start:\n" + "".join(lines))
        return memory_probe(control.pid), memory_probe(server.pid)
    finally:
        control.kill()
        control.wait(timeout)
        server.terminate()
        try:
            server.wait(timeout)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout)
        server.stderr.close()


def scan_memory(pid, needles, max_mapping=1 << 30):
    """Every readable and writable mapping of the process (heap, stacks, libraries' data;
    mappings over max_mapping, such as ASan's shadow, are left out) searched for each of
    needles (bytes). Returns ({needle: [(mapping, offset, excerpt)]}, bytes read). Needs
    the right to read /proc/PID/mem (root, or CAP_SYS_PTRACE for a process that is not
    dumpable): PermissionError otherwise."""
    hits, total = {}, 0
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read().splitlines()
    with open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            perms = parts[1]
            name = parts[5] if len(parts) > 5 else "[anon]"
            if not perms.startswith("rw") or name in ("[vvar]", "[vsyscall]", "[vdso]"):
                continue
            a, b = (int(x, 16) for x in parts[0].split("-"))
            if b - a > max_mapping:
                continue
            try:
                mem.seek(a)
                data = mem.read(b - a)
            except OSError:
                continue
            total += len(data)
            for n in needles:
                for m in re.finditer(re.escape(n), data):
                    lo, hi = max(0, m.start() - 48), min(len(data), m.end() + 16)
                    hits.setdefault(n, []).append((name, m.start(), data[lo:hi]))
    return hits, total


def process_checks(test, sweep, pid, what):
    """The /proc checks of a running wfreg: its command line holds no secret and no core
    file can be written (core size limit 0, soft and hard; dumpable_check does the rest). Its
    environment is read and reported, not counted: SECRET_KEY and the environment
    engines' keys are there because the test passed them by environment, which is how
    wfreg takes them. Returns a line for the report."""
    sweep.search("/proc/PID/cmdline", what, read_proc(pid, "cmdline"))
    soft, hard = core_limit(pid)
    test.assertEqual((soft, hard), ("0", "0"), "%s: Max core file size in /proc/%d/limits"
                     % (what, pid))
    try:
        env = read_proc(pid, "environ")
        in_env = sorted({sweep.m.which(env, m.start())
                         for m in re.finditer(re.escape(sweep.m.tag.encode()), env)})
        env_note = "environ (not counted, passed by environment): %s" % (
            ", ".join(in_env) or "no marker")
    except PermissionError:
        env_note = "environ unreadable to this test"
    return "%s (pid %d): core size limit %s/%s, %s" % (what, pid, soft, hard, env_note)
