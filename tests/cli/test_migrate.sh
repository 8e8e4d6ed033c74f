#!/usr/bin/env bash
# The deployment steps: status, up, up --sql, verify, down (and its refusal), checksums.
. "$(dirname "$0")/lib.sh"
export SECRET_KEY="migrate-test-secret"

# Six instances starting at once on a new database all succeed and apply each migration
# once. SQLite: the switch to WAL locks, and the others must wait for it rather than fail
# with "database is locked". PostgreSQL: each migration runs under an advisory lock and
# is looked for again once it is held.
PAR_URL=$(other_db parallel)
pids=()
for i in 1 2 3 4 5 6; do
  DATABASE_URL="$PAR_URL" "$WFREG" migrate up >"$TMP/par.$i.out" 2>&1 &
  pids+=($!)
done
fails=0
for pid in "${pids[@]}"; do wait "$pid" || fails=$((fails + 1)); done
expect_eq "$fails" "0" "parallel first 'migrate up' all succeed"
if cat "$TMP"/par.*.out | grep -qiE "locked|error|duplicate"; then bad "no 'database is locked', no error"; else ok; fi
expect_eq "$(sql_on "$PAR_URL" "SELECT count(*) FROM wfreg_migrations")" "4" "each migration applied once"
expect_eq "$(sql_on "$PAR_URL" "SELECT count(DISTINCT version) FROM wfreg_migrations")" "4" "one row per version"
expect_eq "$(cat "$TMP"/par.*.out | grep -o 'Applied [0-9]*' | awk '{n += $2} END {print n}')" "4" "the instances applied four migrations between them"

run engines list
expect_code 3 "engines on an unmigrated database"
expect_err "wfreg migrate up" "an unmigrated database says what to run"

# Commands that only look create nothing: no file, no folder, no WAL switch.
# (SQLite: a file; PostgreSQL never creates a database.)
if ! is_pg; then
  for cmd in "migrate status" "migrate verify" "migrate up --sql"; do
    DATABASE_URL="sqlite:$TMP/none/sub/x.db" run $cmd
    expect_code 1 "$cmd without a database"
    expect_err "no database at $TMP/none/sub/x.db (run wfreg migrate up)" "$cmd says there is none"
  done
  DATABASE_URL="sqlite:$TMP/none/sub/x.db" run check
  expect_code 1 "check without a database"
  expect_out "no database at $TMP/none/sub/x.db (run wfreg migrate up)" "check says there is none"
  if [ -e "$TMP/none" ]; then bad "nothing was created"; else ok; fi
  # An existing database in rollback-journal mode stays in it.
  sqlite3 "$TMP/journal.db" "PRAGMA journal_mode=DELETE; CREATE TABLE t (x)" >/dev/null
  for cmd in "migrate status" "migrate verify" "migrate up --sql" "check"; do
    DATABASE_URL="sqlite:$TMP/journal.db" run $cmd
  done
  expect_eq "$(sqlite3 "$TMP/journal.db" "PRAGMA journal_mode")" "delete" "looking does not switch a database to WAL"
fi

run migrate status
expect_code 0 "status on a fresh database"
expect_out "pending" "fresh migrations are pending"
expect_out "current: none" "no current version"

run migrate up --sql
expect_code 0 "up --sql"
expect_out "BEGIN;" "up --sql opens a transaction"
expect_out "COMMIT;" "up --sql commits"
for ix in ix_workflow_engines_id ix_workflow_engines_name ix_workflow_engines_engine_type ix_workflow_engines_active \
  ix_api_tokens_user_id ix_audit_log_engine_id ix_audit_log_engine_name; do
  expect_out "$ix" "up --sql creates $ix"
done
expect_out "wfreg_migrations" "up --sql records the version"
expect_eq "$(has_table workflow_engines)" "0" "up --sql wrote nothing"
if is_pg; then
  expect_out "SELECT pg_advisory_xact_lock(" "up --sql takes the instances' lock"
  expect_out "CREATE TRIGGER wfreg_changed" "up --sql creates the change triggers"
fi

# The printed SQL, run by hand (sqlite3, psql), gives a database that verify accepts.
printf '%s\n' "$OUT" > "$TMP/up.sql"
HAND_URL=$(other_db byhand)
sql_file "$HAND_URL" "$TMP/up.sql"
DATABASE_URL="$HAND_URL" run migrate verify
expect_code 0 "the SQL of up --sql, applied by hand, verifies"

run migrate up
expect_code 0 "up"
expect_out "Applied 4 migration(s)" "up applies every migration"
run migrate up
expect_code 0 "a second up"
expect_out "Nothing to apply" "a second up applies nothing"

run migrate status --json
expect_code 0 "status --json"
expect_eq "$(json_get "$OUT" '$.at_head')" "1" "status --json says at head"

run migrate verify
expect_code 0 "verify at head"
expect_out "ix_workflow_engines_active" "verify names the indexes"
expect_out "ok   table api_tokens" "verify checks api_tokens"
expect_out "ok   index ix_audit_log_engine_name" "verify checks the audit indexes"
expect_out "head 0004" "verify knows the head"

# The table as the checklist creates it: columns, types, defaults, foreign key.
if is_pg; then
  cols=$(sql "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'workflow_engines'")
  expect_eq "$(sql "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'workflow_engines'")" \
    "id integer, name character varying, engine_type character varying, api_url character varying, api_key_encrypted text, active boolean, config jsonb, created_by integer, created_at timestamp without time zone, updated_at timestamp without time zone" "the checklist's types"
  expect_eq "$(sql "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'workflow_engines'::regclass AND contype = 'f'")" "FOREIGN KEY (created_by) REFERENCES app_users(id)" "created_by references app_users(id)"
  expect_eq "$(sql "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_workflow_engines_name'")" "CREATE UNIQUE INDEX ix_workflow_engines_name ON public.workflow_engines USING btree (name)" "the name index is unique"
  expect_eq "$(sql "SELECT column_default FROM information_schema.columns WHERE table_name = 'workflow_engines' AND column_name = 'config'")" "'{}'::jsonb" "config defaults to {}"
else
  cols=$(sql "SELECT group_concat(name, ',') FROM pragma_table_info('workflow_engines')")
  expect_eq "$(sql "SELECT \"table\" || '.' || \"to\" FROM pragma_foreign_key_list('workflow_engines')")" "app_users.id" "created_by references app_users(id)"
  expect_eq "$(sql "SELECT \"unique\" FROM pragma_index_list('workflow_engines') WHERE name='ix_workflow_engines_name'")" "1" "the name index is unique"
fi
expect_eq "$cols" "id,name,engine_type,api_url,api_key_encrypted,active,config,created_by,created_at,updated_at" "the checklist's columns, in order"

sql "DROP INDEX ix_workflow_engines_active"
run migrate verify
expect_code 1 "verify catches a missing index"
expect_out "ix_workflow_engines_active" "verify names the missing index"
sql "CREATE INDEX ix_workflow_engines_active ON workflow_engines(active)"
# The name index by its name, but made by hand without UNIQUE.
sql "DROP INDEX ix_workflow_engines_name; CREATE INDEX ix_workflow_engines_name ON workflow_engines(name)"
run migrate verify
expect_code 1 "verify catches a name index that is not unique"
expect_out "FAIL index ix_workflow_engines_name is not UNIQUE" "verify says the index is not unique"
sql "DROP INDEX ix_workflow_engines_name; CREATE UNIQUE INDEX ix_workflow_engines_name ON workflow_engines(name)"
run migrate verify
expect_code 0 "verify accepts the unique index again"
expect_out "ok   index ix_workflow_engines_name is UNIQUE" "verify says it checked uniqueness"
expect_out "ok   index ix_app_users_username is UNIQUE" "the username index is checked too"

run_in "k-123456" engines add one --type n8n --url http://127.0.0.1:5678 --api-key-stdin
expect_code 0 "add an engine"
run migrate down
expect_code 0 "down reverts the newest migration (the change counter) without a guard"
expect_eq "$(has_table wfreg_state)" "0" "down dropped wfreg_state"
run migrate down
expect_code 0 "down reverts tokens and audit without a guard"
expect_eq "$(has_table audit_log)" "0" "down dropped audit_log"
run migrate down
expect_code 2 "down refuses to drop registered engines"
expect_err "--force" "down says how to force"
expect_eq "$(sql "SELECT count(*) FROM workflow_engines")" "1" "the refused down dropped nothing"

sql "UPDATE wfreg_migrations SET checksum='0000' WHERE version='0002'"
run migrate up
expect_code 3 "up refuses an edited migration"
expect_err "0002" "the edited migration is named"
run migrate status
expect_out "CHECKSUM MISMATCH" "status shows the mismatch"
run migrate verify
expect_code 1 "verify fails on a checksum mismatch"
sql "UPDATE wfreg_migrations SET checksum=(SELECT checksum FROM wfreg_migrations WHERE version='0001') WHERE version='0002'"

run migrate down --force
expect_code 0 "down --force"
expect_eq "$(has_table workflow_engines)" "0" "down dropped the table"
run migrate status
expect_out "current: 0001" "down went back one version"
run migrate down 0000
expect_code 0 "down to the base"
run migrate up 0001
expect_code 0 "up to a target"
run migrate status --json
expect_eq "$(json_get "$OUT" '$.current')" "0001" "up stopped at the target"
run migrate up 9999
expect_code 1 "up to an unknown revision"

# At head by version, but an applied script was edited: every command says so, none
# says "up to date" or "at 0004, not at 0004".
DATABASE_URL=$(other_db edited)
export DATABASE_URL
run migrate up
sql "UPDATE wfreg_migrations SET checksum='0000' WHERE version='0002'"
run migrate status
expect_code 0 "status with a checksum mismatch"
expect_none "up to date" "status does not say up to date"
expect_out "checksum mismatch: migration 0002 (workflow_engines)" "status says why it is not at head"
run migrate status --json
expect_eq "$(json_get "$OUT" '$.at_head')" "0" "status --json: not at head"
expect_eq "$(json_get "$OUT" '$.checksum_mismatch')" "0002 (workflow_engines)" "status --json names the mismatch"
run engines list
expect_code 3 "engines list with a checksum mismatch"
expect_err "migration 0002 (workflow_engines) was applied with a different script (checksum mismatch" "engines list says checksum mismatch"
expect_none "not at 0004" "no 'at 0004, not at 0004'"
run check
expect_code 1 "check with a checksum mismatch"
expect_out "checksum mismatch: migration 0002 (workflow_engines)" "check says checksum mismatch"
expect_none "head is 0004: run" "check does not send to migrate up"

finish
