#!/usr/bin/env bash
# cluster.sh: a private PostgreSQL for the tests, so that they need no server set up by
# hand. ctest runs `start` before the first PostgreSQL test (fixture "pg") and `stop`
# after the last; the tests read the URL from STATE/url, never from the environment of
# whoever started them.
#
#   tests/pg/cluster.sh start STATE   initdb into a new temporary folder, start the server
#                                     on a Unix socket in that folder only (no TCP), create
#                                     the role and database "wfreg"; writes STATE/url
#   tests/pg/cluster.sh stop STATE    stop the server and remove its folder
#   tests/pg/cluster.sh url STATE     print the URL (postgresql://wfreg:PW@/wfreg?host=DIR)
#
# initdb and the server refuse to run as root: as root (CI) they run as the `postgres`
# user that Debian's package creates, in a folder owned by it. The superuser `postgres`
# is trusted on the socket, which lives in a folder only its owner (and root) can enter;
# the role `wfreg` needs its password (scram-sha-256), so that tests of a wrong password
# mean something. Every wait is bounded. fsync is off: the data is thrown away.
set -euo pipefail

cmd=${1:-}
state=${2:-}
if [ -z "$cmd" ] || [ -z "$state" ]; then
  echo "usage: $0 start|stop|url STATE_DIR" >&2
  exit 2
fi

# The server's programs: Debian keeps them out of PATH, in /usr/lib/postgresql/N/bin.
find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  echo "cluster.sh: PostgreSQL's initdb is not installed (scripts/install-deps.sh installs it)" >&2
  return 1
}

# Runs a command as the cluster's owner, from inside the cluster's folder.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd "$dir" && runuser -u postgres -- "$@")
  else
    (cd "$dir" && "$@")
  fi
}

stop_cluster() {
  [ -f "$state/cluster" ] || return 0
  dir=$(cat "$state/cluster")
  if [ -d "$dir/data" ]; then
    bindir=$(find_bindir)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
  fi
  case "$dir" in
    */wfreg-pg.*) rm -rf "$dir" ;;
  esac
  rm -f "$state/cluster" "$state/url"
}

start_cluster() {
  stop_cluster # a cluster left by an interrupted run
  mkdir -p "$state"
  bindir=$(find_bindir)
  if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
      echo "cluster.sh: running as root needs the 'postgres' user (Debian's postgresql package)" >&2
      exit 1
    fi
    dir=$(mktemp -d /tmp/wfreg-pg.XXXXXX)
    chown postgres: "$dir"
  else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/wfreg-pg.XXXXXX")
  fi
  chmod 700 "$dir"
  echo "$dir" >"$state/cluster"

  local password
  password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  if ! as_owner "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C -A trust \
    --no-sync >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    exit 1
  fi
  cat >"$dir/data/pg_hba.conf" <<EOF
local all postgres trust
local all all scram-sha-256
EOF
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = 5432
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null; then
    tail -n 30 "$dir/server.log" >&2 || true
    exit 1
  fi
  as_owner "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -U postgres -d postgres \
    -c "CREATE ROLE wfreg LOGIN CREATEDB PASSWORD '$password'" \
    -c "CREATE DATABASE wfreg OWNER wfreg" >/dev/null
  echo "postgresql://wfreg:$password@/wfreg?host=$dir" >"$state/url"
  echo "PostgreSQL $("$bindir/pg_ctl" --version | grep -oE '[0-9]+(\.[0-9]+)+' | head -n1) on $dir"
}

case "$cmd" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  url) cat "$state/url" ;;
  *)
    echo "usage: $0 start|stop|url STATE_DIR" >&2
    exit 2
    ;;
esac
