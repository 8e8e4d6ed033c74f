#!/usr/bin/env bash
# wfreg check: one line per check, exit status says all is well or not.
. "$(dirname "$0")/lib.sh"

run check
expect_code 1 "check on an unmigrated database"
expect_out "schema" "check reports the schema"
expect_out "migrate up" "check says what to run"
expect_out "warn" "check warns that no key is configured"

export SECRET_KEY="check-secret"
run migrate up
run check
expect_code 0 "check after migrate up"
expect_out "All checks passed." "check says all is well"
expect_out "1 key(s) from SECRET_KEY" "check says where the keys come from"

# The checklist's startup lines, with the real counts, and no warning for an environment
# engine that has both its URL and its key.
run engines add e1 --type n8n --url http://127.0.0.1:1
run engines add e2 --type prefect --url http://127.0.0.1:2 --inactive
N8N_API_URL=http://127.0.0.1:5678 N8N_API_KEY=CHKMARK-env LOG_LEVEL=info run check
expect_code 0 "check with an environment engine"
expect_err "Initializing workflow engine registry (multi-source)" "startup line 1"
expect_err "Loading workflow engines from environment variables" "startup line 2"
expect_err "Workflow registry initialized with 3 engines" "startup line 3 counts"
expect_err "Workflows : 2/3 engines enabled" "startup line 4 counts"
expect_none "disabled" "no 'N8N engine disabled' warning when URL and key are set"
expect_none "WARNING" "no warning at all"
expect_none "CHKMARK-env" "the environment key is never shown"

WFREG_ENGINE_BROKEN='{"engine_type":"nope","api_url":"x","api_key":"CHKMARK-123"}' run check
expect_code 1 "an invalid environment engine fails check"
expect_none "CHKMARK-123" "the invalid engine's key is not shown"
expect_err "WFREG_ENGINE_BROKEN" "the invalid engine's variable is named"

# A workspace that is not UTF-8 makes that one engine invalid, not every command fail.
export N8N_API_URL=http://127.0.0.1:5678
WINDMILL_API_URL=http://127.0.0.1:8000 WINDMILL_WORKSPACE=$'caf\xe9' run engines list
expect_code 0 "a non-UTF-8 WINDMILL_WORKSPACE does not break the command"
expect_out "n8n-default" "the other environment engines still load"
expect_err "WINDMILL_WORKSPACE" "the bad variable is named"
expect_none "out of memory" "no false 'out of memory'"
WINDMILL_API_URL=http://127.0.0.1:8000 WINDMILL_WORKSPACE=$'caf\xe9' run check
expect_code 1 "check counts it as an invalid environment engine"
expect_out "1 invalid" "check says one is invalid"
unset N8N_API_URL

# A password with a raw '/', '?' or '#' is still a password: never printed.
for pw in 'pa/ss0rd-CHK' 'pa?ss0rd-CHK' 'pa#ss/0rd-CHK'; do
  DATABASE_URL="postgresql://user:$pw@db.example/wfreg" LOG_LEVEL=debug run check
  expect_none "$pw" "check never prints the database password '$pw'"
  expect_out "user:***@db.example" "check shows the masked URL"
done

finish
