#!/usr/bin/env bash
# Export and import: without keys, with keys wrapped under a separate export key, into
# a database with another SECRET_KEY; dry runs and bad files write nothing.
. "$(dirname "$0")/lib.sh"
MARK="EXPMARK-0d9b44"
export SECRET_KEY="source-secret"
run migrate up
run_in "$MARK-1" engines add n1 --type n8n --url http://127.0.0.1:1 --api-key-stdin --config '{"timeout_ms":2500}'
run engines add p1 --type prefect --url http://127.0.0.1:2 --inactive
export N8N_API_URL=http://127.0.0.1:5678 N8N_API_KEY="$MARK-env"

run engines export
expect_code 0 "export to standard output"
expect_eq "$(json_get "$OUT" '$.format')" "wfreg-engines" "the export's format"
expect_eq "$(json_len "$(json_get "$OUT" '$.engines')")" "2" "environment engines are not exported"
expect_none "api_key_wrapped" "no keys without --with-keys"
expect_none "$MARK" "no key in clear"
expect_none "gAAAAA" "not even the database's tokens"
expect_eq "$(json_get "$OUT" '$.engines[0].config.timeout_ms')" "2500" "config exported"

run engines export --with-keys
expect_code 2 "--with-keys needs an export key file"
run keys generate
printf '%s\n' "$OUT" > "$TMP/export.key"
printf 'not a key\n' > "$TMP/bad.key"
run engines export --with-keys --export-key-file "$TMP/bad.key"
expect_code 3 "a bad export key file"
run engines export --with-keys --export-key-file "$TMP/export.key" -o "$TMP/engines.json"
expect_code 0 "export --with-keys to a file"
expect_eq "$(stat -c %a "$TMP/engines.json")" "600" "the export file is private"
if grep -qF "$MARK" "$TMP/engines.json"; then bad "the export holds a key in clear"; else ok; fi
# The temporary file must not be at a name anyone can guess: symlinks planted at every
# "FILE.tmp.PID" the next processes could have (made by one ln, so as not to use up the
# PIDs) must not be written through. They dangle into $TMP/v: a file there means one was.
mkdir "$TMP/v"
next=$(sh -c 'echo $$')
ln -s $(seq -f "$TMP/v/planted.json.tmp.%g" "$next" $((next + 2000))) "$TMP/"
run engines export --with-keys --export-key-file "$TMP/export.key" -o "$TMP/planted.json"
expect_code 0 "export beside planted symlinks"
expect_eq "$(ls "$TMP/v" | wc -l)" "0" "no planted symlink is written through"
if [ -L "$TMP/planted.json" ]; then bad "the export is a file, not a symlink"; else ok; fi
expect_eq "$(stat -c %a "$TMP/planted.json")" "600" "the export beside symlinks is private"
rm -rf "$TMP"/planted.json* "$TMP/v"
wrapped=$(json_get "$(cat "$TMP/engines.json")" '$.engines[0].api_key_wrapped')
stored=$(sql "SELECT api_key_encrypted FROM workflow_engines WHERE name='n1'")
case "$wrapped" in gAAAAA*) ok ;; *) bad "the key is wrapped as a Fernet token" ;; esac
if [ "$wrapped" != "$stored" ]; then ok; else bad "the export does not reuse the database token"; fi
# The wrapped key does not open with the database's own key.
printf '%s' "$SECRET_KEY" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' > "$TMP/db.key"
run engines import "$TMP/engines.json" --export-key-file "$TMP/db.key" --dry-run
expect_code 2 "the database's key does not open an export"
expect_err "does not open" "the wrong export key is explained"

# Import into a new database under a different SECRET_KEY.
export DATABASE_URL="sqlite:$TMP/other.db" SECRET_KEY="target-secret"
unset N8N_API_URL N8N_API_KEY
run migrate up
run engines import "$TMP/engines.json"
expect_code 2 "import of wrapped keys needs the export key file"
expect_err "export-key-file" "the missing key file is named"
run engines import "$TMP/engines.json" --export-key-file "$TMP/export.key" --dry-run
expect_code 0 "import --dry-run"
expect_out "create" "the dry run plans creates"
expect_out "dry run" "the dry run says so"
expect_eq "$(sqlite3 "$TMP/other.db" "SELECT count(*) FROM workflow_engines")" "0" "the dry run writes nothing"
run engines import "$TMP/engines.json" --export-key-file "$TMP/export.key"
expect_code 0 "import"
expect_eq "$(sqlite3 "$TMP/other.db" "SELECT count(*) FROM workflow_engines")" "2" "import created both"
run keys check
expect_code 0 "the imported key opens under the target's key"
run engines show n1 --json
expect_eq "$(json_get "$OUT" '$.config.timeout_ms')" "2500" "config imported"
run engines show p1 --json
expect_eq "$(json_get "$OUT" '$.active')" "0" "active flag imported"
run engines import "$TMP/engines.json" --export-key-file "$TMP/export.key"
expect_code 0 "a second import"
expect_out "2 unchanged" "a second import changes nothing"

# Import updates by name and keeps a key when the file has none.
run engines export -o "$TMP/nokeys.json"
sed -i 's#http://127.0.0.1:2#http://127.0.0.1:22#' "$TMP/nokeys.json"
run engines import "$TMP/nokeys.json"
expect_code 0 "import an update"
expect_out "update    p1" "p1 is updated"
expect_eq "$(sqlite3 "$TMP/other.db" "SELECT api_url FROM workflow_engines WHERE name='p1'")" "http://127.0.0.1:22" "the update is stored"
expect_eq "$(sqlite3 "$TMP/other.db" "SELECT api_key_encrypted IS NOT NULL FROM workflow_engines WHERE name='n1'")" "1" "a key absent from the file is kept"

# A bad file: every problem reported, nothing written.
cat > "$TMP/bad.json" <<'JSON'
{"format": "wfreg-engines", "version": 1, "engines": [
  {"name": "ok-one", "engine_type": "n8n", "api_url": "http://127.0.0.1:7"},
  {"name": "Bad Name", "engine_type": "n8n", "api_url": "http://127.0.0.1:8"},
  {"name": "bad-url", "engine_type": "n8n", "api_url": "gopher://x"},
  {"name": "bad-type", "engine_type": "airflow", "api_url": "http://127.0.0.1:9", "active": "yes"}
]}
JSON
run engines import "$TMP/bad.json"
expect_code 2 "an invalid import"
expect_err "engines[1] (Bad Name)" "the bad name is reported"
expect_err "engines[2] (bad-url)" "the bad URL is reported"
expect_err "engines[3] (bad-type)" "the bad type is reported"
expect_err "nothing was written" "the import says nothing was written"
expect_eq "$(sqlite3 "$TMP/other.db" "SELECT count(*) FROM workflow_engines WHERE name='ok-one'")" "0" "a bad import writes nothing"
printf '{"format":"x"}' > "$TMP/notours.json"
run engines import "$TMP/notours.json"
expect_code 2 "a file that is not an export"
printf '{"format":"wfreg-engines","version":1,"engines":[],"engines":[]}' > "$TMP/dup.json"
run engines import "$TMP/dup.json"
expect_code 2 "duplicate JSON keys are refused"
run engines import "$TMP/missing.json"
expect_code 1 "a missing file"

# Unknown members are refused, not ignored; a key in clear above all.
cat > "$TMP/clear.json" <<'JSON'
{"format": "wfreg-engines", "version": 1, "engines": [
  {"name": "clear-key", "engine_type": "n8n", "api_url": "http://127.0.0.1:7", "api_key": "EXPMARK-clear"},
  {"name": "typo", "engine_type": "n8n", "api_url": "http://127.0.0.1:8", "actve": false}
]}
JSON
run engines import "$TMP/clear.json"
expect_code 2 "an API key in clear is refused"
expect_err "engines[0] (clear-key): api_key: a key in clear is never imported" "the clear key is explained"
expect_err "export --with-keys" "the message says how keys travel"
expect_err "engines[1] (typo): unknown member \"actve\"" "an unknown member is named"
expect_none "EXPMARK-clear" "the clear key is never echoed"
expect_eq "$(sqlite3 "$TMP/other.db" "SELECT count(*) FROM workflow_engines WHERE name IN ('clear-key','typo')")" "0" "nothing written"
printf '{"format":"wfreg-engines","version":1,"engines":[{"name":"nullcfg","engine_type":"n8n","api_url":"http://127.0.0.1:9","config":null}]}' > "$TMP/nullcfg.json"
run engines import "$TMP/nullcfg.json"
expect_code 0 "\"config\": null is accepted"
expect_eq "$(sqlite3 "$TMP/other.db" "SELECT config FROM workflow_engines WHERE name='nullcfg'")" "{}" "null config means {}"

# A wrapped key does not expire, like a stored one: no TTL, no limit on a future date (an
# exporting host whose clock ran ahead). The token is made by hand: Fernet is version
# 0x80, timestamp, IV, AES-128-CBC, HMAC-SHA256 under the export key.
hex() { od -An -v -tx1 | tr -d ' \n'; }
unhex() { printf "$(sed 's/../\\x&/g')"; }
fernet_at() { # KEYFILE TIMESTAMP PLAINTEXT
  local key sign enc iv body mac
  key=$(tr -d '\n' < "$1" | tr '_-' '/+' | base64 -d | hex)
  sign=${key:0:32} enc=${key:32:32} iv=000102030405060708090a0b0c0d0e0f
  body=80$(printf '%016x' "$2")$iv$(printf '%s' "$3" | openssl enc -aes-128-cbc -K "$enc" -iv "$iv" | hex)
  mac=$(printf '%s' "$body" | unhex | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$sign" -binary | hex)
  printf '%s' "$body$mac" | unhex | base64 -w0 | tr '+/' '-_'
}
future=$(fernet_at "$TMP/export.key" $(( $(date +%s) + 3600 )) "EXPMARK-future")
old=$(fernet_at "$TMP/export.key" 1000000000 "EXPMARK-old")
printf '{"format":"wfreg-engines","version":1,"engines":[{"name":"future","engine_type":"n8n","api_url":"http://127.0.0.1:10","api_key_wrapped":"%s"},{"name":"old","engine_type":"n8n","api_url":"http://127.0.0.1:11","api_key_wrapped":"%s"}]}' "$future" "$old" > "$TMP/times.json"
run engines import "$TMP/times.json" --export-key-file "$TMP/export.key"
expect_code 0 "wrapped keys open whatever their date"
run keys check --json
expect_eq "$(sqlite3 :memory: "SELECT count(*) FROM json_each('$OUT') WHERE json_extract(value, '\$.key_status') = 'ok'")" "3" "the imported keys are stored and readable (n1, future, old)"

# A file that is not JSON: the position is reported, never the file's text.
printf '{"format": "wfreg-engines", "engines": [{"api_key": "EXPMARK-quoted\001"}]}' > "$TMP/broken.json"
run engines import "$TMP/broken.json"
expect_code 2 "a file that is not JSON"
expect_err "line 1, column" "the position is reported"
expect_none "EXPMARK-quoted" "the file's text is not quoted"

finish
