# lib.sh: what the command-line tests share. Each test script sources this with the
# built binary as $1, gets a fresh temporary folder with its own database, runs wfreg
# and checks exit codes, output and what is stored. Ends with "N passed, N failed".
set -u

WFREG=${1:?usage: test_x.sh path/to/wfreg}
WFREG=$(cd "$(dirname "$WFREG")" && pwd)/$(basename "$WFREG")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wfreg-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 1

# A clean environment: only what a test sets reaches wfreg.
unset DATABASE_URL SECRET_KEY WFREG_FERNET_KEYS LOG_LEVEL LOG_FORMAT WINDMILL_WORKSPACE
unset N8N_API_URL N8N_API_KEY PREFECT_API_URL PREFECT_API_KEY WINDMILL_API_URL WINDMILL_API_KEY
for v in $(env | sed -n 's/^\(WFREG_ENGINE_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export DATABASE_URL="sqlite:$TMP/wfreg.db"
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
# sql QUERY: one query on the test database
sql() { sqlite3 "$DB" "$1"; }
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
