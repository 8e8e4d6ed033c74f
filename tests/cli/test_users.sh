#!/usr/bin/env bash
# Users (add, list, passwd, disable, enable; names, roles, password rules; argon2id
# hashes, never shown), API tokens (printed once, stored only as SHA-256, listed without
# the token, revoked, filtered when expired or when their user is disabled), and the
# audit rows that engines add/update/remove and keys rotate leave behind.
. "$(dirname "$0")/lib.sh"
export SECRET_KEY="users-test-secret"
PW="PwMark-8c1e-correct-horse"
run migrate up
expect_code 0 "migrate up"

for sub in "users" "tokens" "users add" "users list" "users passwd" "users disable" \
  "users enable" "tokens create" "tokens list" "tokens revoke"; do
  # shellcheck disable=SC2086
  run $sub --help
  expect_code 0 "$sub --help"
  expect_out "Usage: wfreg ${sub%% *}" "$sub --help prints the usage"
done
run --help
expect_out "users add|list|passwd|disable|enable" "wfreg --help lists users"
expect_out "tokens create|list|revoke" "wfreg --help lists tokens"
run users
expect_code 2 "users without a subcommand"
run users frob
expect_code 2 "users: an unknown subcommand"

# ---- users ---------------------------------------------------------------------------

run users list
expect_code 0 "list with no users"
expect_out "users add NAME --role admin" "an empty list says how to add the first admin"

run_in "$PW" users add alice --role admin --password-stdin
expect_code 0 "add an admin with the password on standard input"
expect_out "Added user 'alice' (admin" "add reports the user"
expect_none "$PW" "add never prints the password"
hash=$(sql "SELECT password_hash FROM app_users WHERE username='alice'")
case "$hash" in '$argon2id$v=19$m=19456,t=2,p=1$'*) ok ;; *) bad "the stored hash is argon2id (got '${hash:0:16}...')" ;; esac
if dump | grep -qF "alice"; then ok; else bad "dump shows what the database holds"; fi
if dump | grep -qF "$PW"; then bad "the password is stored in clear"; else ok; fi
expect_eq "$(sql "SELECT role || ' ' || CASE WHEN active THEN 1 ELSE 0 END FROM app_users WHERE username='alice'")" "admin 1" "role and active stored"

printf '%s\n' "viewer-pass-1" | "$WFREG" users add bob --role viewer --password-stdin >/dev/null 2>&1
expect_eq "$?" "0" "a trailing newline on standard input is not part of the password"

run_in "$PW" users add alice --role viewer --password-stdin
expect_code 2 "a duplicate user"
expect_err "already exists" "a duplicate is named as such"
run_in "$PW" users add carol --role root --password-stdin
expect_code 2 "a bad role"
expect_err "admin or viewer" "a bad role says which are allowed"
run_in "$PW" users add carol --password-stdin
expect_code 2 "a missing role"
for name in Carol _carol .carol "car ol" "caröl" "$(printf 'z%.0s' $(seq 65))"; do
  run_in "$PW" users add "$name" --role viewer --password-stdin
  expect_code 2 "a bad username '${name:0:10}'"
  expect_err "username" "a bad username is named as the username"
done
run_in "$PW" users add "$(printf 'z%.0s' $(seq 64))" --role viewer --password-stdin
expect_code 0 "a 64-character username"
run_in "$PW" users add "ops.bot-1_x@example.org" --role viewer --password-stdin
expect_code 0 "a username with . - _ @"
run_in "short" users add carol --role viewer --password-stdin
expect_code 2 "a short password"
expect_err "password" "a short password is named"
expect_err "at least 8" "a short password says the rule"
run_in "" users add carol --role viewer --password-stdin
expect_code 2 "an empty password"
expect_err "password" "an empty password is named"
run_in "$(printf 'tab\tin-the-password')" users add carol --role viewer --password-stdin
expect_code 2 "a password with a control character"
run users add carol --role viewer
expect_code 2 "no terminal and no --password-stdin"
expect_err "--password-stdin" "without a terminal, says to use --password-stdin"
run users add carol --role viewer --password "$PW"
expect_code 2 "--password is refused"
expect_err "never taken from the command line" "the refusal says why"
expect_none "$PW" "the refusal does not repeat the password"
run users add carol --role viewer --password="$PW"
expect_code 2 "--password=X is refused"
expect_eq "$(sql "SELECT count(*) FROM app_users WHERE username='carol'")" "0" "no refused add wrote a user"

run users list
expect_code 0 "list"
expect_out "alice" "list shows alice"
expect_out "viewer" "list shows roles"
expect_none '$argon2' "list never shows a hash"
first=$(printf '%s\n' "$OUT" | sed -n 2p | awk '{print $1}')
expect_eq "$first" "alice" "list is ordered by username"
run users list --json
expect_code 0 "list --json"
expect_eq "$(json_get "$OUT" '$[0].username')" "alice" "list --json username"
expect_eq "$(json_get "$OUT" '$[0].role')" "admin" "list --json role"
expect_eq "$(json_get "$OUT" '$[0].active')" "1" "list --json active"
expect_eq "$(json_has "$OUT" '$[0].password_hash')" "0" "list --json has no password_hash"
expect_none '$argon2' "list --json never shows a hash"

run_in "another-pass-2" users passwd alice --password-stdin
expect_code 0 "passwd"
expect_out "Changed the password of 'alice'" "passwd reports"
hash2=$(sql "SELECT password_hash FROM app_users WHERE username='alice'")
if [ "$hash2" != "$hash" ]; then ok; else bad "passwd changed the hash"; fi
case "$hash2" in '$argon2id$'*) ok ;; *) bad "the new hash is argon2id" ;; esac
run_in "short" users passwd alice --password-stdin
expect_code 2 "passwd applies the password rules"
expect_eq "$(sql "SELECT password_hash FROM app_users WHERE username='alice'")" "$hash2" "a refused passwd keeps the hash"
run_in "another-pass-3" users passwd nobody --password-stdin
expect_code 1 "passwd of an unknown user"
run users passwd alice --password "$PW"
expect_code 2 "passwd refuses --password"

# A terminal, when there is one: the password is typed twice without echo.
if command -v script >/dev/null 2>&1; then
  (sleep 1.5; printf 'typed-pass-123\n'; sleep 1.5; printf 'typed-pass-123\n'; sleep 1) |
    timeout 30 script -qec "'$WFREG' users add typist --role viewer" /dev/null >"$TMP/tty" 2>&1
  CODE=$?
  OUT=$(cat "$TMP/tty")
  ERR=""
  expect_code 0 "add with the password typed twice at a prompt"
  expect_out "Repeat the password" "the prompt asks twice"
  expect_none "typed-pass-123" "the typed password is not echoed"
  (sleep 1.5; printf 'typed-pass-123\n'; sleep 1.5; printf 'typed-pass-456\n'; sleep 1) |
    timeout 30 script -qec "'$WFREG' users add typist2 --role viewer" /dev/null >"$TMP/tty" 2>&1
  CODE=$?
  OUT=$(cat "$TMP/tty")
  expect_code 2 "two different entries at the prompt"
  expect_out "differ" "the mismatch is named"
fi

# ---- tokens --------------------------------------------------------------------------

run tokens create --user alice --label deploy
expect_code 0 "tokens create"
token=$OUT
lines=$(printf '%s\n' "$OUT" | wc -l)
expect_eq "$lines" "1" "create prints one line on standard output"
if printf '%s' "$token" | grep -qE '^wfr_[A-Za-z0-9_-]{43}$'; then ok; else bad "the token is wfr_ + 43 URL-safe characters"; fi
expect_err "not be shown again" "create says the token will not be shown again"
if printf '%s' "$ERR" | grep -qF "$token"; then bad "the token is on standard error"; else ok; fi
want=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
expect_eq "$(sql "SELECT token_hash FROM api_tokens WHERE id=1")" "$want" "the stored hash is the SHA-256 of the token"
if dump | grep -qF "${token#wfr_}"; then bad "the token is stored in clear"; else ok; fi
expect_eq "$(sql "SELECT kind || ' ' || label || ' ' || CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END || ' ' || CASE WHEN revoked_at IS NULL THEN 1 ELSE 0 END FROM api_tokens WHERE id=1")" "api deploy 1 1" "kind, label, no expiry, live"

run tokens create --user bob --label ci --expires-days 30
expect_code 0 "create with an expiry"
if is_pg; then
  days=$(sql "SELECT round(extract(epoch FROM expires_at - (now() AT TIME ZONE 'UTC')) / 86400) FROM api_tokens WHERE id=2")
else
  days=$(sql "SELECT CAST(julianday(expires_at) - julianday('now') + 0.5 AS INTEGER) FROM api_tokens WHERE id=2")
fi
expect_eq "$days" "30" "expires in 30 days"
token2=$OUT
run tokens create --user bob --label x --expires-days 0
expect_code 2 "--expires-days 0"
run tokens create --user bob --label x --expires-days soon
expect_code 2 "--expires-days that is not a number"
run tokens create --user bob
expect_code 2 "create without a label"
run tokens create --label x
expect_code 2 "create without a user"
run tokens create --user nobody --label x
expect_code 1 "create for an unknown user"

run tokens list
expect_code 0 "tokens list"
expect_out "deploy" "list shows the label"
expect_out "alice" "list shows the user"
expect_none "$token" "list never shows a token"
expect_none "$want" "list never shows a hash"
run tokens list --json
expect_code 0 "tokens list --json"
expect_eq "$(json_len "$OUT")" "2" "two usable tokens"
expect_eq "$(json_get "$OUT" '$[0].user')" "alice" "list --json user"
expect_eq "$(json_get "$OUT" '$[0].label')" "deploy" "list --json label"
expect_eq "$(json_get "$OUT" '$[0].kind')" "api" "list --json kind"
expect_eq "$(json_get "$OUT" '$[0].revoked')" "0" "list --json revoked"
for f in id user kind label created_at expires_at revoked; do
  expect_eq "$(json_has "$OUT" "\$[0].$f")" "1" "list --json has $f"
done
expect_eq "$(json_has "$OUT" '$[0].token_hash')" "0" "list --json has no token_hash"
expect_none "$token" "list --json never shows a token"
expect_none "$want" "list --json never shows a hash"

run users disable bob
expect_code 0 "disable"
expect_out "Disabled user 'bob'" "disable reports"
expect_eq "$(sql "SELECT CASE WHEN active THEN 1 ELSE 0 END FROM app_users WHERE username='bob'")" "0" "disable stored"
run tokens list --json
expect_eq "$(json_len "$OUT")" "1" "a disabled user's tokens are not listed as usable"
run tokens list --all --json
expect_eq "$(json_len "$OUT")" "2" "--all lists them"
run tokens create --user bob --label again
expect_code 2 "no new token for a disabled user"
run users disable bob
expect_code 0 "disable twice"
expect_out "already disabled" "disable twice says so"
run users enable bob
expect_code 0 "enable"
expect_eq "$(sql "SELECT CASE WHEN active THEN 1 ELSE 0 END FROM app_users WHERE username='bob'")" "1" "enable stored"
run users disable nobody
expect_code 1 "disable an unknown user"

sql "UPDATE api_tokens SET expires_at = '2001-01-01 00:00:00' WHERE id = 2"
run tokens list --json
expect_eq "$(json_len "$OUT")" "1" "an expired token is not listed as usable"

run tokens revoke 1
expect_code 0 "revoke"
expect_out "Revoked token 1" "revoke reports"
expect_eq "$(sql "SELECT count(*) FROM api_tokens WHERE id=1 AND revoked_at IS NOT NULL")" "1" "revoke stored"
run tokens revoke 1
expect_code 1 "revoke twice"
run tokens revoke 99
expect_code 1 "revoke an unknown id"
run tokens revoke abc
expect_code 2 "revoke a non-number"
run tokens list
expect_out "No usable tokens." "nothing usable is left"
run tokens list --all --json
expect_eq "$(json_get "$OUT" '$[0].revoked')" "1" "--all shows the revoked token"
expect_none "$token" "--all never shows a token"
expect_none "$token2" "--all never shows a token"

# Changing a password signs the user's login sessions out (not its API tokens).
sql "INSERT INTO api_tokens (user_id, kind, label, token_hash) VALUES ((SELECT id FROM app_users WHERE username='bob'), 'session', 'login', '$(printf 'x%.0s' $(seq 64))')"
run_in "bobs-new-pass-1" users passwd bob --password-stdin
expect_code 0 "passwd with a live session"
expect_out "1 login session(s) signed out" "passwd signs sessions out"
expect_eq "$(sql "SELECT count(*) FROM api_tokens WHERE kind='session' AND revoked_at IS NOT NULL")" "1" "the session is revoked"

# ---- the audit trail of engine changes ------------------------------------------------

run_in "engine-key-123" engines add audited --type n8n --url http://127.0.0.1:5678 --api-key-stdin
expect_code 0 "engines add"
run engines update audited --url http://127.0.0.1:5679 --inactive
expect_code 0 "engines update"
run engines update audited --url http://127.0.0.1:5679
expect_code 0 "an update that changes nothing"
run engines update audited --name audited-2
expect_code 0 "engines update --name"
run engines remove audited-2
expect_code 0 "engines remove"
row="actor || ' ' || action || ' ' || engine_name || ' ' || fields || ' ' || CASE WHEN actor_id IS NULL THEN 1 ELSE 0 END || ' ' || CASE WHEN engine_id = 1 THEN 1 ELSE 0 END"
if is_pg; then
  audit=$(sql "SELECT string_agg($row, '|' ORDER BY id) FROM audit_log")
else
  audit=$(sql "SELECT group_concat($row, '|') FROM (SELECT * FROM audit_log ORDER BY id)")
fi
expect_eq "$audit" 'cli create audited ["name","engine_type","api_url","active","config","api_key"] 1 1|cli update audited ["api_url","active"] 1 1|cli update audited-2 ["name"] 1 1|cli delete audited-2 [] 1 1' "every change has its audit row, a no-op none"
if sql "SELECT * FROM audit_log" | grep -qF "engine-key-123"; then bad "an API key in the audit log"; else ok; fi
if sql "SELECT fields FROM audit_log" | grep -qF "127.0.0.1"; then bad "a value in the audit fields"; else ok; fi
run engines update audited-2 --url http://127.0.0.1:1
expect_code 1 "updating a removed engine"
expect_eq "$(sql "SELECT count(*) FROM audit_log")" "4" "a failed write leaves no audit row"

# Key rotation is audited per engine it re-encrypts.
OLD=$("$WFREG" keys generate)
NEW=$("$WFREG" keys generate)
WFREG_FERNET_KEYS=$OLD run_in "rotated-key-1" engines add rot --type n8n --url http://127.0.0.1:5678 --api-key-stdin
expect_code 0 "add an engine under the old key"
WFREG_FERNET_KEYS=$NEW,$OLD run keys rotate
expect_code 0 "keys rotate"
expect_eq "$(sql "SELECT actor || ' ' || action || ' ' || engine_name || ' ' || fields FROM audit_log WHERE action='key_rotate'")" 'cli key_rotate rot ["api_key"]' "rotation writes a key_rotate row"

finish
