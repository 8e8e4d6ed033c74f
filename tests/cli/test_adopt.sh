#!/usr/bin/env bash
# Adoption on SQLite, the mirror of tests/pg/test_adopt.sh: a file as the earlier Python
# system left it (the checklist's table in SQLite's types, alembic_version at
# 453c1befe40, keys encrypted by Python's cryptography under SECRET_KEY, the same tokens
# as tests/data/python-era.pg.sql) is taken over in place by `wfreg migrate up`.
# Its app_users already has wfreg's columns here: SQLite cannot add a column only when
# it is missing, and 0001's SQLite script, applied in the field, cannot change.
. "$(dirname "$0")/lib.sh"
if is_pg; then echo "SQLite only (tests/pg/test_adopt.sh is the PostgreSQL one)"; exit 1; fi
export SECRET_KEY="python-era-secret-key"
T1='gAAAAABrBxfT4La6dYo7cNuHJm7HDhBJ2ioByRL5S7LZVoHCgda6TUobfnFoc6i_AXD0QxlXPDvSZTROCXwXRCPeQ73vQsNItoNlpBRE2DA4U8TCBN3fjd4='
T2='gAAAAABrBxfT93LYRwI7itaaqFSLWk4NHEi-B2EQjOq4e7qK9Q1qaNZWHJbBotFuHSnMGEZtUb-GR_2yUgvgg6wY5GCouAUSSOw4hQRdgdCYeURNu9SMjaM='
sql "CREATE TABLE app_users (id INTEGER PRIMARY KEY AUTOINCREMENT,
       username VARCHAR(255) NOT NULL UNIQUE, password_hash TEXT NOT NULL,
       role VARCHAR(20) NOT NULL DEFAULT 'viewer', active BOOLEAN NOT NULL DEFAULT 1,
       created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
       updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
     CREATE TABLE workflow_engines (id INTEGER PRIMARY KEY AUTOINCREMENT,
       name VARCHAR(255) NOT NULL UNIQUE, engine_type VARCHAR(50) NOT NULL,
       api_url VARCHAR(500) NOT NULL, api_key_encrypted TEXT,
       active BOOLEAN NOT NULL DEFAULT 1, config JSON DEFAULT '{}',
       created_by INTEGER REFERENCES app_users(id),
       created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
       updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
     CREATE INDEX ix_workflow_engines_id ON workflow_engines(id);
     CREATE UNIQUE INDEX ix_workflow_engines_name ON workflow_engines(name);
     CREATE INDEX ix_workflow_engines_engine_type ON workflow_engines(engine_type);
     CREATE INDEX ix_workflow_engines_active ON workflow_engines(active);
     CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
     INSERT INTO alembic_version VALUES ('453c1befe40');
     INSERT INTO app_users (username, password_hash, role) VALUES ('ops', '', 'admin');
     INSERT INTO workflow_engines (name, engine_type, api_url, api_key_encrypted, active,
       config, created_by, created_at, updated_at) VALUES
       ('n8n-prod', 'n8n', 'https://n8n.example.com', '$T1', 1, '{\"timeout_ms\": 5000}', 1,
        '2024-11-05 08:00:00.123456', '2024-11-06 12:30:45.654321'),
       ('Prefect Cloud', 'prefect', 'https://api.prefect.cloud/api/accounts/a/workspaces/w',
        '$T2', 1, NULL, 1, '2024-11-07 14:00:00', '2024-11-07 14:00:00');"
before=$(sql "SELECT group_concat(id || '|' || name || '|' || api_key_encrypted || '|' || ifnull(config, '-') || '|' || created_at, ';') FROM workflow_engines")

run migrate up
expect_code 0 "migrate up adopts the file"
expect_eq "$(sql "SELECT group_concat(id || '|' || name || '|' || api_key_encrypted || '|' || ifnull(config, '-') || '|' || created_at, ';') FROM workflow_engines")" "$before" "nothing rewritten"
expect_eq "$(sql "SELECT group_concat(version_num) FROM alembic_version")" "453c1befe40" "alembic_version untouched"
run migrate verify
expect_code 0 "verify after adoption"
run engines list --json
expect_eq "$(json_len "$OUT")" "2" "both engines served"
expect_eq "$(json_get "$OUT" '$[0].name')" "Prefect Cloud" "a legacy name as it is"
expect_eq "$(json_get "$OUT" '$[0].key_status')" "ok" "a key Python encrypted opens"
expect_eq "$(json_get "$OUT" '$[1].key_status')" "ok" "and the other"
expect_eq "$(json_get "$OUT" '$[1].created_at')" "2024-11-05T08:00:00Z" "timestamps as ISO 8601 UTC"
run keys check
expect_code 0 "keys check with the Python system's SECRET_KEY"
expect_out "2 engine(s) with an API key, 0 unreadable" "both keys readable"

finish
