# lib.sh: what the command-line tests share. Each test script sources this with the
# built binary as $1, gets a fresh temporary folder with its own database, runs wfreg
# and checks exit codes, output and what is stored. Ends with "N passed, N failed".
#
# Two backends: SQLite by default (a file in the folder), PostgreSQL when ctest says
# WF_TEST_BACKEND=pg (a database of its own on the cluster of tests/pg/cluster.sh, whose
# URL is in the file WF_TEST_PG_URL_FILE, dropped at the end). `sql` runs a query with
# sqlite3 or psql accordingly; `is_pg`, `other_db` and `has_table` help a test that
# must say something different on each.
set -u

WFREG=${1:?usage: test_x.sh path/to/wfreg}
WFREG=$(cd "$(dirname "$WFREG")" && pwd)/$(basename "$WFREG")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wfreg-cli.XXXXXX")
# On PostgreSQL, every database this script made (wfreg_cli_PID, wfreg_cli_PID_NAME) goes.
cleanup() {
  local db
  if is_pg; then
    for db in $(psql "$PG_ADMIN_URL" -X -A -t -c \
      "SELECT datname FROM pg_database WHERE datname LIKE 'wfreg\_cli\_$$%'" 2>/dev/null); do
      psql "$PG_ADMIN_URL" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    done
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
cd "$TMP" || exit 1

# A clean environment: only what a test sets reaches wfreg.
unset DATABASE_URL SECRET_KEY WFREG_FERNET_KEYS LOG_LEVEL LOG_FORMAT WINDMILL_WORKSPACE
unset N8N_API_URL N8N_API_KEY PREFECT_API_URL PREFECT_API_KEY WINDMILL_API_URL WINDMILL_API_KEY
for v in $(env | sed -n 's/^\(WFREG_ENGINE_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
is_pg() { [ "${WF_TEST_BACKEND:-}" = "pg" ]; }

# other_db NAME: the URL of a new, empty database for this test (a file on SQLite).
other_db() {
  if is_pg; then
    local db="wfreg_cli_$$_$1"
    psql "$PG_ADMIN_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null || exit 1
    printf '%s' "$PG_ADMIN_URL" | sed "s|@/wfreg?|@/$db?|"
  else
    printf 'sqlite:%s/%s.db' "$TMP" "$1"
  fi
}

if is_pg; then
  PG_ADMIN_URL=$(cat "${WF_TEST_PG_URL_FILE:?WF_TEST_PG_URL_FILE: the file tests/pg/cluster.sh writes}")
  DATABASE_URL=$(printf '%s' "$PG_ADMIN_URL" | sed "s|@/wfreg?|@/wfreg_cli_$$?|")
  psql "$PG_ADMIN_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE wfreg_cli_$$" >/dev/null || exit 1
  export DATABASE_URL
else
  export DATABASE_URL="sqlite:$TMP/wfreg.db"
fi
DB="$TMP/wfreg.db"

PASSED=0
FAILED=0
OUT=""
ERR=""
CODE=0

# run ARGS...: runs wfreg; stdin is /dev/null unless the caller redirects.
run() {
  "$WFREG" "$@" >"$TMP/out" 2>"$TMP/err"
  CODE=$?
  OUT=$(cat "$TMP/out")
  ERR=$(cat "$TMP/err")
}

# run_in TEXT ARGS...: runs wfreg with TEXT on standard input.
run_in() {
  local input=$1
  shift
  printf '%s' "$input" | "$WFREG" "$@" >"$TMP/out" 2>"$TMP/err"
  CODE=$?
  OUT=$(cat "$TMP/out")
  ERR=$(cat "$TMP/err")
}

ok() { PASSED=$((PASSED + 1)); }
bad() {
  FAILED=$((FAILED + 1))
  echo "FAIL: $*"
  echo "  exit: $CODE"
  echo "  stdout: $(printf '%s' "$OUT" | head -c 2000)"
  echo "  stderr: $(printf '%s' "$ERR" | head -c 2000)"
}

# expect_code N DESCRIPTION
expect_code() { if [ "$CODE" -eq "$1" ]; then ok; else bad "$2 (expected exit $1)"; fi; }
# expect_out TEXT DESCRIPTION: stdout contains TEXT
expect_out() { if printf '%s' "$OUT" | grep -qF -- "$1"; then ok; else bad "$2 (stdout lacks '$1')"; fi; }
expect_err() { if printf '%s' "$ERR" | grep -qF -- "$1"; then ok; else bad "$2 (stderr lacks '$1')"; fi; }
# expect_none TEXT DESCRIPTION: neither stdout nor stderr contains TEXT
expect_none() {
  if printf '%s\n%s' "$OUT" "$ERR" | grep -qF -- "$1"; then bad "$2 (output contains '$1')"; else ok; fi
}
# expect_eq ACTUAL EXPECTED DESCRIPTION
expect_eq() { if [ "$1" = "$2" ]; then ok; else bad "$3 (got '$1', expected '$2')"; fi; }
# sql QUERY: one query (or several, separated by ;) on the test database
sql() { sql_on "$DATABASE_URL" "$1"; }
# sql_on URL QUERY: the same on another database (from other_db)
sql_on() {
  case "$1" in
    sqlite:*) sqlite3 "${1#sqlite:}" "$2" ;;
    *) psql "$1" -X -q -A -t -v ON_ERROR_STOP=1 -c "$2" ;;
  esac
}
# sql_file URL FILE: runs a script of SQL (what `migrate up --sql` prints) as a DBA would
sql_file() {
  case "$1" in
    sqlite:*) sqlite3 "${1#sqlite:}" <"$2" ;;
    *) psql "$1" -X -q -v ON_ERROR_STOP=1 -f "$2" >/dev/null ;;
  esac
}
# dump: everything the test database holds, as text (to look for what must not be there)
dump() {
  if is_pg; then pg_dump --no-owner "$DATABASE_URL"; else sqlite3 "$DB" .dump; fi
}
# has_table NAME [URL]: 1 when the table exists, else 0
has_table() {
  local url=${2:-$DATABASE_URL}
  case "$url" in
    sqlite:*) sql_on "$url" "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='$1'" ;;
    *) sql_on "$url" "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = '$1'" ;;
  esac
}
# jq-free JSON checks through python3 would add a dependency; sqlite3's json functions
# read our JSON instead: json_get JSON PATH
sqlquote() { printf '%s' "$1" | sed "s/'/''/g"; }
json_get() { sqlite3 :memory: "SELECT json_extract('$(sqlquote "$1")', '$2');"; }
# json_has JSON PATH: 1 when PATH exists (even if null)
json_has() { sqlite3 :memory: "SELECT json_type('$(sqlquote "$1")', '$2') IS NOT NULL;"; }
# json_len JSON: length of a top-level array
json_len() { sqlite3 :memory: "SELECT json_array_length('$(sqlquote "$1")');"; }

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
  exit $?
}
