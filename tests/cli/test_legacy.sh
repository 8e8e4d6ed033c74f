#!/usr/bin/env bash
# Rows adopted from an earlier system (or written by hand) are served as they are
# (DESIGN.md): whatever bytes they hold, every engine is listed, shown, exported and
# logged, and nothing they hold can forge a log line or drive the terminal.
. "$(dirname "$0")/lib.sh"
export SECRET_KEY="legacy-test-secret"
run migrate up
expect_code 0 "migrate up"

# ---- bytes that are not UTF-8 ----------------------------------------------------------
# 0xff is never valid UTF-8: jansson refuses such a string outright.
sql "INSERT INTO workflow_engines (name, engine_type, api_url, api_key_encrypted, config)
     VALUES ('latin1', 'n8n', CAST(X'687474703a2f2f682f636166e9' AS TEXT), NULL,
             CAST(X'7b22777322203a2022e9227d' AS TEXT)),
            (CAST(X'6261642dff' AS TEXT), 'n8n', 'http://bad.example', 'not-a-token', '{}')"

run engines list --json
expect_code 0 "list --json with non-UTF-8 rows"
expect_eq "$(json_len "$OUT")" "2" "list --json lists every engine"
case "$(json_get "$OUT" '$[1].api_url')" in http://h/caf*) ok ;; *) bad "the URL of a non-UTF-8 row is listed" ;; esac

run engines show latin1 --json
expect_code 0 "show --json of a non-UTF-8 row"
case "$(json_get "$OUT" '$.api_url')" in http://h/caf*) ok ;; *) bad "show --json prints the URL" ;; esac
expect_eq "$(json_has "$OUT" '$.config')" "1" "show --json prints the config"

run keys check --json
expect_eq "$(json_len "$OUT")" "2" "keys check --json lists every engine"

run engines export
expect_code 0 "export of non-UTF-8 rows"
case "$(json_get "$OUT" '$.engines[1].api_url')" in http://h/caf*) ok ;; *) bad "export keeps the URL" ;; esac

LOG_FORMAT=json LOG_LEVEL=info run check
expect_err '"msg":"Engine '"'"'bad-' "LOG_FORMAT=json keeps the line of a non-UTF-8 name"

# What is written stays ASCII: a raw non-ASCII URL must be percent-encoded.
run engines add caf --type n8n --url "$(printf 'http://h/caf\xc3\xa9')"
expect_code 2 "a URL with raw non-ASCII bytes is refused"
expect_err "percent-encode" "the refusal says how to write it"
run engines add caf --type n8n --url "http://h/caf%C3%A9"
expect_code 0 "a percent-encoded URL is fine"
run engines remove caf
sql "DELETE FROM workflow_engines"

# ---- bytes that would forge a log line or drive the terminal --------------------------------
ESC=$(printf '\033')
sql "INSERT INTO workflow_engines (name, engine_type, api_url, api_key_encrypted, config)
     VALUES ('evil' || char(10) || 'FORGED ERROR line' || char(27) || '[2J', 'n8n',
             'http://e.example/' || char(27) || '[31m', 'not-a-token', '{}')"
run engines list
expect_code 0 "list with control characters in a row"
expect_out 'evil\x0aFORGED ERROR line\x1b[2J' "the table shows the name escaped"
expect_out 'http://e.example/\x1b[31m' "the table shows the URL escaped"
if printf '%s' "$OUT$ERR" | grep -qF "$ESC"; then bad "no raw ESC reaches the terminal"; else ok; fi
run engines show "$(printf 'evil\nFORGED ERROR line\033[2J')"
expect_code 0 "show finds the engine by its exact name"
expect_out 'name:        evil\x0aFORGED ERROR line\x1b[2J' "show escapes the name"
if printf '%s' "$OUT$ERR" | grep -qF "$ESC"; then bad "show writes no raw ESC"; else ok; fi
LOG_LEVEL=info run check
expect_err "Engine 'evil\x0aFORGED ERROR line\x1b[2J': API key unreadable" "the log line escapes the name"
expect_eq "$(printf '%s\n' "$ERR" | grep -c '^FORGED')" "0" "no forged log line"
expect_out 'evil\x0aFORGED ERROR line\x1b[2J' "check's own line escapes the name"
expect_eq "$(printf '%s\n' "$OUT" | grep -c '^FORGED')" "0" "check's output keeps one line per check"
if printf '%s' "$OUT$ERR" | grep -qF "$ESC"; then bad "check writes no raw ESC"; else ok; fi
run keys check
if printf '%s' "$OUT$ERR" | grep -qF "$ESC"; then bad "keys check writes no raw ESC"; else ok; fi
sql "DELETE FROM workflow_engines"

# ---- timestamps in any form ---------------------------------------------------------------
# ISO 8601 when they are times a four-digit year can hold; else the stored value as text
# (and no undefined behaviour converting 1e308 or an infinity to time_t).
sql "INSERT INTO workflow_engines (name, engine_type, api_url, created_at, updated_at) VALUES
       ('julian', 'n8n', 'http://j.example', 2461000.5, 1767225600),
       ('huge', 'n8n', 'http://h.example', 1e308, -1e308),
       ('far', 'n8n', 'http://f.example', 1e16, 99999999999999),
       ('inf', 'n8n', 'http://i.example', 9e999, -9e999)"
for n in julian huge far inf; do
  run engines show "$n" --json
  expect_code 0 "show $n"
  got="$(json_get "$OUT" '$.created_at')|$(json_get "$OUT" '$.updated_at')"
  case $n in
    julian) want="2025-11-21T00:00:00Z|2026-01-01T00:00:00Z" ;;
    *) want="$(sql "SELECT created_at || '|' || updated_at FROM workflow_engines WHERE name='$n'")" ;;
  esac
  expect_eq "$got" "$want" "timestamps of '$n'"
done
sql "DELETE FROM workflow_engines"

# ---- export, then import, of an adopted database ---------------------------------------
# Stored values that break today's rules are kept as they are; an import validates only
# what it changes.
sql "INSERT INTO workflow_engines (name, engine_type, api_url, config) VALUES
       ('Legacy Engine', 'airflow', 'http://legacy.example', '7'),
       ('old-spaced', 'n8n', 'http://spaced.example', '{ \"a\" :  1 }')"
run engines export -o "$TMP/adopted.json"
expect_code 0 "export of an adopted database"
run engines import "$TMP/adopted.json"
expect_code 0 "the export imports back"
expect_out "2 unchanged" "nothing changes"
sed -i 's#http://legacy.example#http://legacy-2.example#' "$TMP/adopted.json"
run engines import "$TMP/adopted.json"
expect_code 0 "an import that changes only the URL of a legacy engine"
expect_out "update    Legacy Engine" "the legacy engine is updated"
expect_eq "$(sql "SELECT name || '|' || engine_type || '|' || api_url || '|' || config FROM workflow_engines WHERE id = (SELECT min(id) FROM workflow_engines WHERE api_url LIKE '%legacy-2%')")" "Legacy Engine|airflow|http://legacy-2.example|7" "only the URL changed"
sed -i 's#http://legacy-2.example#not a url#' "$TMP/adopted.json"
run engines import "$TMP/adopted.json"
expect_code 2 "a change is still validated"
expect_err "api_url" "the bad change is named"
sql "DELETE FROM workflow_engines"

# ---- rows that share a name ---------------------------------------------------------------
# A legacy table without NOT NULL or UNIQUE on name, adopted, whose name index was later
# made by hand without UNIQUE: a NULL name (read as "") beside a real "", and two "twin".
LEGACY="$TMP/legacy.db"
sqlite3 "$LEGACY" "CREATE TABLE workflow_engines (id INTEGER PRIMARY KEY AUTOINCREMENT,
  name VARCHAR(255), engine_type VARCHAR(50) NOT NULL, api_url VARCHAR(500) NOT NULL,
  api_key_encrypted TEXT, active BOOLEAN NOT NULL DEFAULT 1, config TEXT DEFAULT '{}',
  created_by INTEGER, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
DATABASE_URL="sqlite:$LEGACY" run migrate up
expect_code 0 "a legacy table is adopted"
sqlite3 "$LEGACY" "DROP INDEX ix_workflow_engines_name;
  CREATE INDEX ix_workflow_engines_name ON workflow_engines(name);
  INSERT INTO workflow_engines (name, engine_type, api_url) VALUES
    ('twin', 'n8n', 'http://twin-1.example'), (NULL, 'n8n', 'http://null.example'),
    ('', 'n8n', 'http://empty.example'), ('twin', 'prefect', 'http://twin-2.example')"
DATABASE_URL="sqlite:$LEGACY" run engines list --json
expect_code 0 "list with rows that share a name"
expect_eq "$(json_len "$OUT")" "4" "every row is listed"
expect_eq "$(json_get "$OUT" '$[2].api_url')" "http://twin-1.example" "shared names in id order (first)"
expect_eq "$(json_get "$OUT" '$[3].api_url')" "http://twin-2.example" "shared names in id order (second)"
expect_eq "$(printf '%s\n' "$ERR" | grep -c "Engine name 'twin' is held by 2 database rows")" "1" "a shared name is logged once, at warning"
expect_err "Engine name '' is held by 2 database rows" "the empty name is logged too"
DATABASE_URL="sqlite:$LEGACY" run engines show twin --json
expect_eq "$(json_get "$OUT" '$.api_url')" "http://twin-1.example" "a lookup by name finds the first"

finish
