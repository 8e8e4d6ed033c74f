#!/usr/bin/env bash
# bench/run.sh: wfreg serve against nginx serving the identical response bytes, with wrk.
#
#   bench/run.sh [build/wfreg]              on SQLite (a file in a temporary folder)
#   BACKEND=pg bench/run.sh [build/wfreg]   on a private PostgreSQL (tests/pg/cluster.sh)
#   (needs wrk, nginx-light, curl; `scripts/install-deps.sh --bench` installs them)
#
# For each read case the same bytes are first fetched from wfreg and written to files
# that nginx serves as static content, so both servers send the same responses; the
# ratio wfreg/nginx of requests per second is the figure to quote (this machine is
# shared and small: absolute numbers move, ratios in one run much less). Every wrk run
# is bounded (-d). Only 127.0.0.1 is used.
set -euo pipefail
WFREG=$(realpath "${1:-build/wfreg}")
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
cd "$(dirname "$0")/.."
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wfreg-bench.XXXXXX")
BACKEND=${BACKEND:-sqlite}
cleanup() {
  [ -n "${WF_PID:-}" ] && kill "$WF_PID" 2>/dev/null || true
  [ "$BACKEND" = pg ] && bash tests/pg/cluster.sh stop "$TMP/pg" >/dev/null 2>&1 || true
  [ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${KEEP_TMP:-}" ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# db_url NAME: a new, empty database on the chosen backend.
if [ "$BACKEND" = pg ]; then
  bash tests/pg/cluster.sh start "$TMP/pg" >/dev/null
  PG_URL=$(cat "$TMP/pg/url")
  db_url() {
    psql "$PG_URL" -X -q -c "CREATE DATABASE $1" >/dev/null
    printf '%s' "$PG_URL" | sed "s|@/wfreg?|@/$1?|"
  }
else
  db_url() { printf 'sqlite:%s/%s.db' "$TMP" "$1"; }
fi
DATABASE_URL=$(db_url bench)
export DATABASE_URL SECRET_KEY="bench-secret" LOG_LEVEL=${LOG_LEVEL:-info}
echo "backend: $BACKEND"
"$WFREG" migrate up >/dev/null
printf 'bench-password' | "$WFREG" users add bench --role admin --password-stdin >/dev/null

# 100 engines, in one import (one transaction).
python3 - "$TMP/engines.json" 100 <<'PY'
import json, sys
n = int(sys.argv[2])
engines = [{"name": "engine-%03d" % i, "engine_type": ["n8n", "prefect", "windmill"][i % 3],
            "api_url": "http://127.0.0.1:%d/api" % (5000 + i), "active": i % 5 != 0,
            "config": {"workspace": "ws"} if i % 3 == 2 else {"timeout_ms": 3000}}
           for i in range(n)]
json.dump({"format": "wfreg-engines", "version": 1, "engines": engines}, open(sys.argv[1], "w"))
PY
"$WFREG" engines import "$TMP/engines.json" >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WF_PORT=$(free_port)
"$WFREG" serve --listen "127.0.0.1:$WF_PORT" --workers "$WORKERS" 2>"$TMP/serve.log" >/dev/null &
WF_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$WF_PORT/healthz" >/dev/null && break; sleep 0.1; done
WF="http://127.0.0.1:$WF_PORT"
TOKEN=$(curl -sf -X POST -H 'Content-Type: application/json' \
  -d '{"username":"bench","password":"bench-password"}' "$WF/api/v1/auth/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
export WFREG_TOKEN=$TOKEN

# The same bytes, for nginx.
mkdir -p "$TMP/www"
chmod 755 "$TMP" "$TMP/www" # nginx workers may run as another user
curl -sf "$WF/healthz" > "$TMP/www/healthz.json"
curl -sf -H "Authorization: Bearer $TOKEN" "$WF/api/v1/engines/engine-042" > "$TMP/www/engine.json"
curl -sf -H "Authorization: Bearer $TOKEN" "$WF/api/v1/engines?limit=50" > "$TMP/www/list.json"
chmod 644 "$TMP"/www/*.json
NG_PORT=$(free_port)
cat > "$TMP/nginx.conf" <<NGINX
worker_processes $WORKERS;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log $TMP/nginx-access.log;
  keepalive_requests 1000000;
  default_type application/json;
  server {
    listen 127.0.0.1:$NG_PORT;
    location = /healthz { alias $TMP/www/healthz.json; }
    location = /api/v1/engines/engine-042 { alias $TMP/www/engine.json; }
    location = /api/v1/engines { alias $TMP/www/list.json; }
  }
}
NGINX
nginx -c "$TMP/nginx.conf" -p "$TMP"
NG="http://127.0.0.1:$NG_PORT"
for _ in $(seq 1 50); do curl -sf "$NG/healthz" >/dev/null && break; sleep 0.1; done
cmp <(curl -sf "$NG/api/v1/engines?limit=50") "$TMP/www/list.json"

# wrk's summary -> "rps p50 p99 errors"
measure() {
  local url=$1
  shift
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "$url" > "$TMP/wrk.out" 2>&1
  python3 - "$TMP/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def dur(s):
    v, u = re.match(r"([\d.]+)(us|ms|s)", s).groups()
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
if not re.search(r"Requests/sec:", t) or not re.search(r"99%\s+\S+", t):
    sys.stderr.write("wrk said:\n" + t)
    sys.exit(1)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = dur(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
p99 = dur(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
errs = 0
m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
errs += int(m.group(1)) if m else 0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
errs += sum(int(x) for x in m.groups()) if m else 0
print("%.0f %.2f %.2f %d" % (rps, p50, p99, errs))
PY
}

printf '%-28s %10s %8s %8s %7s | %10s %8s %8s | %6s\n' case "wfreg r/s" "p50 ms" "p99 ms" errors "nginx r/s" "p50 ms" "p99 ms" ratio
for case in "GET /healthz|/healthz" "GET /api/v1/engines/{name}|/api/v1/engines/engine-042" \
            "GET /api/v1/engines?limit=50|/api/v1/engines?limit=50"; do
  label=${case%%|*}
  path=${case#*|}
  read -r w_rps w_p50 w_p99 w_err < <(measure "$WF$path" -H "Authorization: Bearer $TOKEN")
  read -r n_rps n_p50 n_p99 n_err < <(measure "$NG$path" -H "Authorization: Bearer $TOKEN")
  ratio=$(python3 -c "print('%.2f' % ($w_rps / $n_rps))")
  printf '%-28s %10s %8s %8s %7s | %10s %8s %8s | %6s\n' "$label" "$w_rps" "$w_p50" "$w_p99" \
    "$w_err" "$n_rps" "$n_p50" "$n_p99" "$ratio"
done
read -r c_rps c_p50 c_p99 c_err < <(measure "$WF/api/v1/engines" -s bench/crud.lua)
printf '%-28s %10s %8s %8s %7s | (no nginx equivalent)\n' "POST+DELETE engines mix" "$c_rps" \
  "$c_p50" "$c_p99" "$c_err"
# Creates last: they grow the registry, and each write rebuilds the whole snapshot.
read -r c_rps c_p50 c_p99 c_err < <(measure "$WF/api/v1/engines" -s bench/create.lua)
printf '%-28s %10s %8s %8s %7s | (no nginx equivalent)\n' "POST engines (creates)" "$c_rps" \
  "$c_p50" "$c_p99" "$c_err"
echo "wfreg peak RSS with 100 engines, after the runs above: $(awk '/VmHWM/ {print $2, $3}' /proc/$WF_PID/status)"
kill "$WF_PID"
wait "$WF_PID" 2>/dev/null || true
WF_PID=

# Peak memory with 10,000 engines: every page of the list read once (so every engine's
# JSON is made and cached), then the high-water mark of the resident set.
DATABASE_URL=$(db_url big)
export DATABASE_URL
"$WFREG" migrate up >/dev/null
printf 'bench-password' | "$WFREG" users add bench --role admin --password-stdin >/dev/null
python3 - "$TMP/big.json" 10000 <<'PY'
import json, sys
n = int(sys.argv[2])
engines = [{"name": "engine-%05d" % i, "engine_type": "n8n",
            "api_url": "https://n8n-%05d.example.com/api" % i, "config": {"timeout_ms": 3000}}
           for i in range(n)]
json.dump({"format": "wfreg-engines", "version": 1, "engines": engines}, open(sys.argv[1], "w"))
PY
"$WFREG" engines import "$TMP/big.json" >/dev/null
for i in $(seq 0 99); do printf 'key-%d' "$i" | "$WFREG" engines update "engine-$(printf %05d "$i")" --api-key-stdin >/dev/null; done
"$WFREG" serve --listen "127.0.0.1:$WF_PORT" --workers "$WORKERS" 2>/dev/null >/dev/null &
WF_PID=$!
for _ in $(seq 1 100); do curl -sf "$WF/healthz" >/dev/null && break; sleep 0.1; done
TOKEN=$(curl -sf -X POST -H 'Content-Type: application/json' \
  -d '{"username":"bench","password":"bench-password"}' "$WF/api/v1/auth/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
for offset in $(seq 0 500 9500); do
  curl -sf -H "Authorization: Bearer $TOKEN" "$WF/api/v1/engines?limit=500&offset=$offset" >/dev/null
done
echo "wfreg peak RSS with 10,000 engines: $(awk '/VmHWM/ {print $2, $3}' /proc/$WF_PID/status) (target: under 64 MiB)"
