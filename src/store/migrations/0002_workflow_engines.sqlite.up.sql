-- 0002 workflow_engines (SQLite): the deployment checklist's table (Alembic revision
-- 453c1befe40) with the closest SQLite types: INTEGER PRIMARY KEY AUTOINCREMENT for
-- SERIAL (ids never reused), TEXT for JSONB, 0/1 for booleans, CURRENT_TIMESTAMP (UTC)
-- for now(). Same names, defaults and indexes. IF NOT EXISTS: a database made by the
-- earlier Python system is adopted in place. migrate.c's verify table must follow this.
CREATE TABLE IF NOT EXISTS workflow_engines (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name VARCHAR(255) NOT NULL UNIQUE,
  engine_type VARCHAR(50) NOT NULL,
  api_url VARCHAR(500) NOT NULL,
  api_key_encrypted TEXT,
  active BOOLEAN NOT NULL DEFAULT 1,
  config TEXT DEFAULT '{}',
  created_by INTEGER REFERENCES app_users(id),
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS ix_workflow_engines_id ON workflow_engines(id);
CREATE UNIQUE INDEX IF NOT EXISTS ix_workflow_engines_name ON workflow_engines(name);
CREATE INDEX IF NOT EXISTS ix_workflow_engines_engine_type ON workflow_engines(engine_type);
CREATE INDEX IF NOT EXISTS ix_workflow_engines_active ON workflow_engines(active);
