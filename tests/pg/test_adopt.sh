#!/usr/bin/env bash
# Adoption on PostgreSQL: a database as the earlier Python system left it
# (tests/data/python-era.pg.sql: the checklist's DDL verbatim, its own app_users,
# alembic_version at 453c1befe40, keys encrypted by Python's cryptography) is taken over
# in place by `wfreg migrate up`: nothing dropped or rewritten, every engine served, every
# key readable with the same SECRET_KEY, alembic_version left as it is.
. "$(dirname "$0")/../cli/lib.sh"
is_pg || { echo "PostgreSQL only (WF_TEST_BACKEND=pg)"; exit 1; }
export SECRET_KEY="python-era-secret-key"

psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -f "$WF_TEST_DATA/python-era.pg.sql" >/dev/null
snapshot="SELECT string_agg(id || '|' || name || '|' || engine_type || '|' || api_url || '|'
  || coalesce(api_key_encrypted, '-') || '|' || active || '|' || coalesce(config::text, '-') || '|'
  || coalesce(created_by::text, '-') || '|' || created_at || '|' || updated_at, E'\n' ORDER BY id)
  FROM workflow_engines"
before=$(sql "$snapshot")
users_before=$(sql "SELECT string_agg(id || ' ' || username || ' ' || hashed_password || ' ' || is_active, ',' ORDER BY id) FROM app_users")

run migrate status
expect_code 0 "status on the Python system's database"
expect_out "current: none" "wfreg has applied nothing yet"
run engines list
expect_code 3 "engines before migrate up"
expect_err "migrate up" "it says to migrate"

run migrate up
expect_code 0 "migrate up adopts the database"
expect_out "Applied 4 migration(s)" "every migration applied"
expect_eq "$(sql "$snapshot")" "$before" "no engine dropped or rewritten"
expect_eq "$(sql "SELECT count(*) FROM workflow_engines")" "3" "three engines"
expect_eq "$(sql "SELECT string_agg(version_num, ',') FROM alembic_version")" "453c1befe40" "alembic_version untouched"
expect_eq "$(sql "SELECT string_agg(id || ' ' || username || ' ' || hashed_password || ' ' || is_active, ',' ORDER BY id) FROM app_users")" "$users_before" "the Python system's users and their columns kept"

run migrate verify
expect_code 0 "verify after adoption"
expect_out "ok   index ix_workflow_engines_name is UNIQUE" "the checklist's indexes verify"
run migrate up
expect_out "Nothing to apply" "a second up does nothing"

run engines list --json
expect_code 0 "engines list"
expect_eq "$(json_len "$OUT")" "3" "every engine served"
expect_eq "$(json_get "$OUT" '$[0].name')" "Prefect Cloud" "a legacy name is served as it is (byte order: capitals first)"
expect_eq "$(json_get "$OUT" '$[0].key_status')" "ok" "Prefect Cloud's key opens with the same SECRET_KEY"
expect_eq "$(json_get "$OUT" '$[0].config')" "{}" "a NULL config is {}"
expect_eq "$(json_get "$OUT" '$[1].name')" "n8n-prod" "n8n-prod"
expect_eq "$(json_get "$OUT" '$[1].key_status')" "ok" "n8n-prod's key opens"
expect_eq "$(json_get "$OUT" '$[1].config.timeout_ms')" "5000" "its config"
expect_eq "$(json_get "$OUT" '$[1].created_at')" "2024-11-05T08:00:00Z" "timestamps as ISO 8601 UTC"
expect_eq "$(json_get "$OUT" '$[1].created_by')" "1" "created_by kept"
expect_eq "$(json_get "$OUT" '$[2].key_status')" "none" "windmill-ops has no key"
expect_eq "$(json_get "$OUT" '$[2].active')" "0" "windmill-ops is inactive"
expect_none "n8n-api-key-0123456789" "no key in clear"
run engines show "Prefect Cloud"
expect_code 0 "a legacy name is found as it is"

run keys check
expect_code 0 "keys check with the Python system's SECRET_KEY"
expect_out "2 engine(s) with an API key, 0 unreadable" "both keys readable"
SECRET_KEY="another-secret" run keys check
expect_code 1 "keys check with another SECRET_KEY"

# The Python system's DATABASE_URL, as SQLAlchemy wrote it, works as it is.
SA_URL=$(printf '%s' "$DATABASE_URL" | sed 's|^postgresql://|postgresql+psycopg2://|')
DATABASE_URL="$SA_URL" run engines list
expect_code 0 "a postgresql+psycopg2:// URL works"
expect_out "n8n-prod" "and serves the engines"

# Its users are kept and cannot log in (no wfreg password); wfreg adds its own.
run users list --json
expect_code 0 "users list"
expect_out '"ops"' "the Python system's users are listed"
run_in "a-long-enough-password" users add admin --role admin --password-stdin
expect_code 0 "wfreg adds a user to the adopted table"
run_in "another-long-password" users passwd ops --password-stdin
expect_code 0 "an adopted user gets a wfreg password"
expect_eq "$(sql "SELECT hashed_password LIKE '\$2b\$%' FROM app_users WHERE username='ops'")" "t" "its old hash is left as it was"

# Changes on the adopted database: an engine renamed, one added, all with audit rows.
run engines update "Prefect Cloud" --name prefect-cloud
expect_code 0 "an adopted engine can be renamed"
run_in "k-0123456789" engines add added --type n8n --url http://127.0.0.1:9 --api-key-stdin
expect_code 0 "an engine can be added"
expect_eq "$(sql "SELECT count(*) FROM audit_log")" "2" "both are audited"
run check
expect_code 0 "check after adoption"

# Rollback as the checklist does it, refused while engines are registered.
run migrate down 0001
expect_code 2 "down to 0001 refuses to drop registered engines"
expect_eq "$(sql "SELECT count(*) FROM workflow_engines")" "4" "nothing dropped"
run migrate down 0001 --force
expect_code 0 "down to 0001 --force"
expect_eq "$(has_table workflow_engines)" "0" "workflow_engines dropped"
expect_eq "$(sql "SELECT string_agg(version_num, ',') FROM alembic_version")" "453c1befe40" "alembic_version still untouched"

finish
