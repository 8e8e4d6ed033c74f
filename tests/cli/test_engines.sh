#!/usr/bin/env bash
# Registering, showing, changing and removing engines; validation messages; keys stored
# as Fernet tokens and never shown; environment engines merged and read-only.
. "$(dirname "$0")/lib.sh"
export SECRET_KEY="engines-test-secret"
MARK="KEYMARK-7f3a9c-secret"
run migrate up
expect_code 0 "migrate up"

run engines list
expect_code 0 "list on an empty registry"
expect_out "No engines registered." "an empty registry says so"

run_in "$MARK" engines add n8n-prod --type n8n --url https://n8n.example.test/ --api-key-stdin --config '{"timeout_ms":3000}'
expect_code 0 "add with a key from standard input"
expect_out "Added engine 'n8n-prod'" "add reports the engine"
expect_none "$MARK" "add never prints the key"

token=$(sql "SELECT api_key_encrypted FROM workflow_engines WHERE name='n8n-prod'")
case "$token" in gAAAAA*) ok ;; *) bad "the stored key is a Fernet token (got '${token:0:12}...')" ;; esac
if sql "SELECT * FROM workflow_engines" | grep -qF "$MARK"; then bad "the key is stored in clear"; else ok; fi
# The token opens with Python's derivation of SECRET_KEY: checked by keys check below.

run engines add prefect-local --type prefect --url http://127.0.0.1:4200/api --inactive
expect_code 0 "add without a key"
run engines add wm --type windmill --url http://[::1]:8000 --config '{"workspace":"ops","verify_tls":false}'
expect_code 0 "add a windmill engine with a workspace"

run engines list
expect_code 0 "list"
expect_out "n8n-prod" "list shows n8n-prod"
expect_out "prefect-local" "list shows prefect-local"
first=$(printf '%s\n' "$OUT" | sed -n 2p | awk '{print $1}')
expect_eq "$first" "n8n-prod" "list is ordered by name"

run engines list --json
expect_code 0 "list --json"
expect_eq "$(json_get "$OUT" '$[0].name')" "n8n-prod" "list --json first name"
expect_eq "$(json_get "$OUT" '$[0].has_api_key')" "1" "has_api_key true"
expect_eq "$(json_get "$OUT" '$[0].key_status')" "ok" "key_status ok"
expect_eq "$(json_get "$OUT" '$[0].source')" "database" "source database"
expect_eq "$(json_get "$OUT" '$[0].config.timeout_ms')" "3000" "config kept"
expect_eq "$(json_get "$OUT" '$[1].active')" "0" "inactive engine"
expect_eq "$(json_get "$OUT" '$[1].has_api_key')" "0" "no key"
for f in id name engine_type api_url active config has_api_key source created_by created_at updated_at; do
  expect_eq "$(json_has "$OUT" "\$[0].$f")" "1" "list --json has $f"
done
expect_none "$MARK" "list --json never prints the key"
expect_none "gAAAAA" "list --json never prints the token"
case "$(json_get "$OUT" '$[0].created_at')" in
  [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z) ok ;;
  *) bad "created_at is ISO 8601 UTC" ;;
esac

run engines list --type prefect --json
expect_eq "$(json_len "$OUT")" "1" "filter by type"
run engines list --inactive --json
expect_eq "$(json_get "$OUT" '$[0].name')" "prefect-local" "filter inactive"

run engines show n8n-prod
expect_code 0 "show"
expect_out "api_key:     set" "show says the key is set"
expect_none "$MARK" "show never prints the key"
run engines show nope
expect_code 1 "show of a missing engine"
expect_err "no engine named 'nope'" "show names the missing engine"

# Validation: every bad field at once, named, exit 2, nothing written.
run engines add Bad_Name --type ftp --url ftp://x --config '[1]'
expect_code 2 "invalid add"
expect_err "name" "the name problem is named"
expect_err "engine_type" "the type problem is named"
expect_err "api_url" "the URL problem is named"
expect_err "config" "the config problem is named"
expect_err "4 problems" "all problems at once"
run engines add x1 --type n8n --url https://user:pw@h.example/
expect_code 2 "credentials in the URL"
expect_err "api_url" "URL credentials named"
run engines add wm2 --type windmill --url http://h.example
expect_code 2 "windmill without a workspace"
expect_err "config.workspace" "the workspace is named"
run engines add n8n-prod --type n8n --url http://h.example
expect_code 2 "a taken name"
expect_err "already exists" "a taken name is explained"
expect_eq "$(sql "SELECT count(*) FROM workflow_engines")" "3" "nothing written by failed adds"

run engines add x2 --type n8n --url http://h.example --api-key="$MARK"
expect_code 2 "a key as an argument is refused"
expect_err "never taken from the command line" "the refusal says why"
run engines add x2 --type n8n --url http://h.example --api-key-stdin
expect_code 2 "an empty key on standard input"
run engines add x2 --type n8n --url http://h.example --api-key-prompt </dev/null
if [ "$CODE" -ne 0 ]; then ok; else bad "a prompt without a terminal fails"; fi
run_in "$(printf 'a\001b')" engines add x2 --type n8n --url http://h.example --api-key-stdin
expect_code 2 "a key with a control character"
expect_none "$(printf 'a\001b')" "the bad key is not echoed"

# Without a key configured, a key is refused and nothing is stored.
SECRET_KEY= run_in "$MARK" engines add x3 --type n8n --url http://h.example --api-key-stdin
expect_code 3 "no SECRET_KEY: refuses to store a key"
expect_err "SECRET_KEY" "the refusal names SECRET_KEY"
expect_eq "$(sql "SELECT count(*) FROM workflow_engines WHERE name='x3'")" "0" "nothing stored without a key"

# Updates.
old_updated=$(sql "SELECT updated_at FROM workflow_engines WHERE name='prefect-local'")
sleep 1
run engines update prefect-local --url http://127.0.0.1:4201/api --active
expect_code 0 "update url and activate"
expect_eq "$(sql "SELECT api_url || ' ' || CASE WHEN active THEN 1 ELSE 0 END FROM workflow_engines WHERE name='prefect-local'")" "http://127.0.0.1:4201/api 1" "update stored"
new_updated=$(sql "SELECT updated_at FROM workflow_engines WHERE name='prefect-local'")
if [ "$new_updated" != "$old_updated" ]; then ok; else bad "updated_at moves on update"; fi
run engines update prefect-local
expect_code 2 "an update with nothing to change"
run engines update prefect-local --url notaurl
expect_code 2 "an invalid update"
expect_eq "$(sql "SELECT api_url FROM workflow_engines WHERE name='prefect-local'")" "http://127.0.0.1:4201/api" "an invalid update writes nothing"
run engines update nope --active
expect_code 1 "update of a missing engine"
run engines update wm --type n8n
expect_code 0 "changing a windmill engine's type keeps its config"
run engines update prefect-local --type windmill
expect_code 2 "changing to windmill needs a workspace"

run engines update n8n-prod --remove-api-key
expect_code 0 "remove the key"
expect_eq "$(sql "SELECT count(*) FROM workflow_engines WHERE name='n8n-prod' AND api_key_encrypted IS NULL")" "1" "the key is gone"
run_in "$MARK-2" engines update n8n-prod --api-key-stdin
expect_code 0 "set a new key"
run engines update n8n-prod --name n8n-main
expect_code 0 "rename"
run engines show n8n-main --json
expect_eq "$(json_get "$OUT" '$.has_api_key')" "1" "the renamed engine keeps its key"
run engines update n8n-main --name prefect-local
expect_code 2 "rename onto a taken name"

# A row that an older system wrote, with a name today's rules refuse, is still served.
sql "INSERT INTO workflow_engines (name, engine_type, api_url, config) VALUES ('Legacy Engine', 'n8n', 'http://legacy.example', NULL)"
run engines list --json
expect_code 0 "a legacy row does not break the list"
expect_out "Legacy Engine" "a legacy row is listed"
run engines update "Legacy Engine" --name legacy-engine
expect_code 0 "a legacy row can be renamed"

# Environment engines: merged, marked, read-only; a database engine shadows one.
export N8N_API_URL=http://127.0.0.1:5678 N8N_API_KEY="$MARK-env"
export WFREG_ENGINE_PREFECT_CLOUD='{"engine_type":"prefect","api_url":"https://api.prefect.cloud/api/accounts/a/workspaces/w","api_key":"pnu_'"$MARK"'"}'
run engines list --json
expect_code 0 "list with environment engines"
expect_none "$MARK" "environment keys are never printed"
expect_none "warn" "no warning for environment engines that have a URL and a key"
run engines show n8n-default --json
expect_eq "$(json_get "$OUT" '$.source')" "environment" "n8n-default comes from the environment"
expect_eq "$(json_get "$OUT" '$.has_api_key')" "1" "n8n-default has its key"
run engines show prefect-cloud --json
expect_eq "$(json_get "$OUT" '$.engine_type')" "prefect" "WFREG_ENGINE_<NAME> gives an engine"
run engines update n8n-default --inactive
expect_code 2 "an environment engine is read-only"
expect_err "read-only" "read-only is explained"
run engines remove n8n-default
expect_code 2 "an environment engine cannot be removed"
run engines add n8n-default --type n8n --url http://127.0.0.1:9999
expect_code 0 "a database engine may shadow an environment engine"
run engines show n8n-default
expect_out "shadows the environment engine" "show says it shadows"
expect_out "127.0.0.1:9999" "the database engine wins"
run engines list --source environment --json
expect_eq "$(json_len "$OUT")" "1" "the shadowed engine is not listed twice"
unset N8N_API_URL N8N_API_KEY WFREG_ENGINE_PREFECT_CLOUD

N8N_API_URL=http://127.0.0.1:5678 run engines list
expect_err "N8N_API_KEY" "a URL without a key warns and names the variable"

run engines remove n8n-main
expect_code 0 "remove"
expect_out "Removed engine 'n8n-main'" "remove reports"
run engines remove n8n-main
expect_code 1 "remove twice"
expect_eq "$(sql "SELECT count(*) FROM workflow_engines WHERE name='n8n-main'")" "0" "removed from the table"

finish
