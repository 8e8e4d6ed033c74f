-- 0003 auth_audit (SQLite): API and session tokens, and the audit trail of engine changes.
-- Tokens are stored only as the SHA-256 hex of the token; deleting a user deletes its
-- tokens. The audit log has no foreign key to workflow_engines: the history of an engine
-- outlives its deletion (engine_id stays, engine_name says what it was called then).
-- Timestamps as CURRENT_TIMESTAMP writes them (UTC). migrate.c's verify table must follow.
CREATE TABLE IF NOT EXISTS api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES app_users(id) ON DELETE CASCADE,
  kind VARCHAR(10) NOT NULL CHECK (kind IN ('session', 'api')),
  label VARCHAR(255),
  token_hash CHAR(64) NOT NULL UNIQUE,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  expires_at TIMESTAMP NULL,
  revoked_at TIMESTAMP NULL
);
CREATE INDEX IF NOT EXISTS ix_api_tokens_user_id ON api_tokens(user_id);

CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  actor_id INTEGER NULL REFERENCES app_users(id) ON DELETE SET NULL,
  actor VARCHAR(255) NOT NULL,
  action VARCHAR(32) NOT NULL,
  engine_id INTEGER NULL,
  engine_name VARCHAR(255) NOT NULL,
  fields TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS ix_audit_log_engine_id ON audit_log(engine_id);
CREATE INDEX IF NOT EXISTS ix_audit_log_engine_name ON audit_log(engine_name);
