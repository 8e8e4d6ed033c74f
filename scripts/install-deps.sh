#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages that wfreg's build and tests need, only
# those missing. Runs as root (or through sudo when available). Safe to run again.
#   scripts/install-deps.sh           build and tests
#   scripts/install-deps.sh --bench   also what bench/run.sh uses (wrk, nginx-light, curl)
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libjansson-dev libsqlite3-dev libssl-dev libcmocka-dev libevent-dev libargon2-dev libpq-dev
  libcurl4-openssl-dev # the engines' HTTP client (src/engines/http.c)
  sqlite3 openssl cppcheck python3
  postgresql # the tests' private cluster (tests/pg/cluster.sh); psql and pg_dump with it
)
if [ "${1:-}" = "--bench" ]; then
  packages+=(wrk nginx-light curl)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

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
