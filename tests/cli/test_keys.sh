#!/usr/bin/env bash
# Keys: generate, check, a changed SECRET_KEY reported per engine (never a crash), and
# rotation through WFREG_FERNET_KEYS.
. "$(dirname "$0")/lib.sh"
MARK="ROTMARK-51c2e0"

run keys generate
expect_code 0 "keys generate"
k1=$OUT
run keys generate
k2=$OUT
expect_eq "${#k1}" "44" "a key is 44 characters"
if [ "$k1" != "$k2" ]; then ok; else bad "two generated keys differ"; fi
case "$k1" in *[!A-Za-z0-9_=-]*) bad "a key is URL-safe base64" ;; *) ok ;; esac

export SECRET_KEY="the-first-secret"
run migrate up
run_in "$MARK-a" engines add a1 --type n8n --url http://127.0.0.1:1 --api-key-stdin
run_in "$MARK-b" engines add b1 --type n8n --url http://127.0.0.1:2 --api-key-stdin
run engines add c1 --type prefect --url http://127.0.0.1:3
run keys check
expect_code 0 "keys check with the right key"
expect_out "2 engine(s) with an API key, 0 unreadable" "keys check counts"

# The key Python derives from SECRET_KEY: urlsafe_b64(sha256(SECRET_KEY)), by hand.
derived=$(printf '%s' "$SECRET_KEY" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_')
WFREG_FERNET_KEYS=$derived SECRET_KEY= run keys check
expect_code 0 "the stored tokens open with the derived Fernet key"

# A changed SECRET_KEY: every engine is still listed, the unreadable ones are named.
SECRET_KEY="a-changed-secret" run engines list --json
expect_code 0 "list still works with a changed SECRET_KEY"
expect_eq "$(json_get "$OUT" '$[0].key_status')" "unreadable" "a1 is unreadable"
expect_eq "$(json_get "$OUT" '$[2].key_status')" "none" "c1 has no key"
SECRET_KEY="a-changed-secret" run keys check
expect_code 1 "keys check fails with a changed SECRET_KEY"
expect_out "unreadable" "keys check says unreadable"
expect_err "2 API key(s) unreadable" "keys check counts the unreadable"
SECRET_KEY="a-changed-secret" run check
expect_code 1 "check fails with a changed SECRET_KEY"
expect_out "a1, b1" "check names the unreadable engines"
expect_err "Engine 'a1': API key unreadable with the configured keys" "the log names each unreadable engine"
SECRET_KEY="a-changed-secret" run_in "$MARK-c" engines add d1 --type n8n --url http://127.0.0.1:4 --api-key-stdin
expect_code 0 "a new engine can still be added under the new key"
SECRET_KEY="a-changed-secret" run engines remove d1

# Rotation: new key first, the old one (derived from SECRET_KEY) after it.
new=$k1
WFREG_FERNET_KEYS="bad-key" run keys check
expect_code 3 "a malformed WFREG_FERNET_KEYS"
expect_err "key 1" "the malformed key is named by position"
expect_none "bad-key" "the malformed key is not echoed"

before=$(sql "SELECT api_key_encrypted FROM workflow_engines WHERE name='a1'")
WFREG_FERNET_KEYS="$new,$derived" run keys rotate --dry-run
expect_code 0 "rotate --dry-run"
expect_out "2 would be re-encrypted" "dry run counts"
expect_eq "$(sql "SELECT api_key_encrypted FROM workflow_engines WHERE name='a1'")" "$before" "dry run writes nothing"
WFREG_FERNET_KEYS="$new,$derived" run keys rotate
expect_code 0 "rotate"
expect_out "2 re-encrypted" "rotate counts"
after=$(sql "SELECT api_key_encrypted FROM workflow_engines WHERE name='a1'")
if [ "$after" != "$before" ]; then ok; else bad "rotate changed the token"; fi
WFREG_FERNET_KEYS="$new" SECRET_KEY= run keys check
expect_code 0 "after rotation the new key alone opens every key"
SECRET_KEY="the-first-secret" run keys check
expect_code 1 "after rotation the old key alone no longer does"
WFREG_FERNET_KEYS="$new,$derived" run keys rotate
expect_out "2 already under the first key" "a second rotation has nothing to do"

# An unreadable token is left as it is and reported.
sql "UPDATE workflow_engines SET api_key_encrypted='gAAAAABnot-a-real-token' WHERE name='b1'"
WFREG_FERNET_KEYS="$new" run keys rotate
expect_code 1 "rotate reports an unreadable key"
expect_out "unreadable" "rotate names it"
expect_eq "$(sql "SELECT api_key_encrypted FROM workflow_engines WHERE name='b1'")" "gAAAAABnot-a-real-token" "an unreadable token is untouched"

SECRET_KEY= WFREG_FERNET_KEYS= run keys rotate
expect_code 3 "rotate without keys"
# Without a key, every refusal says the same thing, in the same words.
NOKEY="no encryption key configured: set SECRET_KEY or WFREG_FERNET_KEYS"
expect_err "$NOKEY" "rotate without keys says why"
SECRET_KEY= WFREG_FERNET_KEYS= run_in "k-0123456" engines add nokey --type n8n --url http://127.0.0.1:9 --api-key-stdin
expect_code 3 "add with a key but no keyring"
expect_err "api_key: cannot store an API key: $NOKEY" "add without keys says why"
run keys generate
printf '%s\n' "$OUT" > "$TMP/x.key"
DATABASE_URL=$(other_db wrap)
export DATABASE_URL
run migrate up
SECRET_KEY=wrap-secret run_in "k-0123456" engines add w1 --type n8n --url http://127.0.0.1:9 --api-key-stdin
SECRET_KEY=wrap-secret run engines export --with-keys --export-key-file "$TMP/x.key" -o "$TMP/wrapped.json"
expect_code 0 "an export with a wrapped key"
SECRET_KEY= WFREG_FERNET_KEYS= run engines import "$TMP/wrapped.json" --export-key-file "$TMP/x.key"
expect_code 2 "import of wrapped keys without a keyring"
expect_err "api_key: $NOKEY" "import without keys says why"

finish
