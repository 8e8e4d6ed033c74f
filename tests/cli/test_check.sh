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

WFREG_ENGINE_BROKEN='{"engine_type":"nope","api_url":"x","api_key":"CHKMARK-123"}' run check
expect_code 1 "an invalid environment engine fails check"
expect_none "CHKMARK-123" "the invalid engine's key is not shown"
expect_err "WFREG_ENGINE_BROKEN" "the invalid engine's variable is named"

finish
