#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages that wfreg's build and tests need, only
# those missing, then the browser test's npm packages (tests/web, from its
# package-lock.json) when they are missing or older than the lock file. Runs as root (or
# through sudo when available, for apt only). Safe to run again.
#   scripts/install-deps.sh           build and tests
#   scripts/install-deps.sh --bench   also what bench/run.sh adds (nginx-light, curl)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
node_min=20 # playwright-core (tests/web) needs node 20 or newer

packages=(
  build-essential cmake pkg-config
  libjansson-dev libsqlite3-dev libssl-dev libcmocka-dev libevent-dev libargon2-dev libpq-dev
  libcurl4-openssl-dev # the engines' HTTP client (src/engines/http.c)
  sqlite3 openssl cppcheck python3
  postgresql # the tests' private cluster (tests/pg/cluster.sh); psql and pg_dump with it
  chromium   # the browser test (tests/web) drives /usr/bin/chromium
  clang libclang-rt-14-dev # the fuzz targets (tests/fuzz): libFuzzer, ASan, UBSan
  valgrind                 # the unit tests under memcheck (tests/memcheck.sh)
  wrk                      # the load test (tests/load) and bench/run.sh
)
if ! command -v node >/dev/null 2>&1; then
  packages+=(nodejs) # tests/web runs on node; Debian's own is too old (checked below)
fi
if [ "${1:-}" = "--bench" ]; then
  packages+=(nginx-light curl)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo="sudo"
    else
      echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser test's npm packages (playwright-core, pinned in tests/web/package-lock.json).
node_version="$(node --version 2>/dev/null || true)" # v20.20.2
node_major="${node_version#v}"
node_major="${node_major%%.*}"
if [ -z "$node_major" ] || [ "$node_major" -lt "$node_min" ]; then
  echo "install-deps: the browser test (tests/web) needs node $node_min or newer, found" \
       "${node_version:-no node}. Install Node.js $node_min+ (for instance the nodejs package" \
       "of NodeSource's Debian repository), then run this script again." >&2
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "install-deps: npm is missing (it comes with Node.js $node_min+); install it, then" \
       "run this script again." >&2
  exit 1
fi
web="$root/tests/web"
if [ ! -d "$web/node_modules" ] || [ "$web/package-lock.json" -nt "$web/node_modules" ]; then
  echo "Installing the browser test's npm packages (tests/web)"
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$web/node_modules"
fi
