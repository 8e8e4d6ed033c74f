-- 0002 workflow_engines (PostgreSQL): the deployment checklist's DDL (Alembic revision
-- 453c1befe40), with IF NOT EXISTS so that a database made by the earlier Python system
-- is adopted in place. migrate.c's verify table must follow this.
CREATE TABLE IF NOT EXISTS workflow_engines (
  id SERIAL PRIMARY KEY,
  name VARCHAR(255) NOT NULL UNIQUE,
  engine_type VARCHAR(50) NOT NULL,
  api_url VARCHAR(500) NOT NULL,
  api_key_encrypted TEXT,
  active BOOLEAN NOT NULL DEFAULT true,
  config JSONB DEFAULT '{}',
  created_by INTEGER REFERENCES app_users(id),
  created_at TIMESTAMP NOT NULL DEFAULT now(),
  updated_at TIMESTAMP NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ix_workflow_engines_id ON workflow_engines(id);
CREATE UNIQUE INDEX IF NOT EXISTS ix_workflow_engines_name ON workflow_engines(name);
CREATE INDEX IF NOT EXISTS ix_workflow_engines_engine_type ON workflow_engines(engine_type);
CREATE INDEX IF NOT EXISTS ix_workflow_engines_active ON workflow_engines(active);
