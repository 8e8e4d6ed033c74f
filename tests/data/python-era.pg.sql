-- python-era.pg.sql: a PostgreSQL database as the earlier Python system (FastAPI,
-- SQLAlchemy, Alembic, cryptography's Fernet) left it, for the adoption tests
-- (tests/cli/test_pg_adopt.sh): `wfreg migrate up` must take it over in place.
--
-- - app_users as that system had it, conservatively: only id, username, hashed_password
--   (a bcrypt hash wfreg cannot verify), is_active and created_at; none of wfreg's
--   password_hash, role, active or updated_at.
-- - workflow_engines: the deployment checklist's DDL from DESIGN.md, verbatim.
-- - alembic_version at the checklist's revision 453c1befe40.
-- - Engines whose api_key_encrypted are Fernet tokens made by Python's `cryptography`
--   under SECRET_KEY=python-era-secret-key, generated once with:
--     python3 -c 'import base64, hashlib; from cryptography.fernet import Fernet;
--       f = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"python-era-secret-key").digest()));
--       print(f.encrypt(b"n8n-api-key-0123456789").decode());
--       print(f.encrypt(b"pnu_prefect-key-abcdef").decode())'

CREATE TABLE app_users (
  id SERIAL PRIMARY KEY,
  username VARCHAR(50) NOT NULL UNIQUE,
  hashed_password VARCHAR(255) NOT NULL,
  is_active BOOLEAN NOT NULL DEFAULT true,
  created_at TIMESTAMP NOT NULL DEFAULT now()
);
INSERT INTO app_users (username, hashed_password, created_at) VALUES
  ('ops', '$2b$12$KIXQJ7mKa3e5r0yqBq3mVu0bq3k8Zt0aG3y0Ykz3jQ1r6n1xY2b5e', '2024-11-03 09:15:00'),
  ('dev', '$2b$12$9aQz1Yk8m7pR0s2T4v6X8uA1b3C5d7E9f1G3h5J7k9L1m3N5p7Q9s', '2024-11-04 10:20:30');

CREATE TABLE alembic_version (
  version_num VARCHAR(32) NOT NULL,
  CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

-- The checklist's DDL, verbatim.
CREATE TABLE workflow_engines (
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
CREATE INDEX ix_workflow_engines_id ON workflow_engines(id);
CREATE UNIQUE INDEX ix_workflow_engines_name ON workflow_engines(name);
CREATE INDEX ix_workflow_engines_engine_type ON workflow_engines(engine_type);
CREATE INDEX ix_workflow_engines_active ON workflow_engines(active);
INSERT INTO alembic_version (version_num) VALUES ('453c1befe40');

INSERT INTO workflow_engines (name, engine_type, api_url, api_key_encrypted, active, config,
                              created_by, created_at, updated_at) VALUES
  ('n8n-prod', 'n8n', 'https://n8n.example.com',
   'gAAAAABrBxfT4La6dYo7cNuHJm7HDhBJ2ioByRL5S7LZVoHCgda6TUobfnFoc6i_AXD0QxlXPDvSZTROCXwXRCPeQ73vQsNItoNlpBRE2DA4U8TCBN3fjd4=',
   true, '{"timeout_ms": 5000}', 1, '2024-11-05 08:00:00.123456', '2024-11-06 12:30:45.654321'),
  ('Prefect Cloud', 'prefect', 'https://api.prefect.cloud/api/accounts/a/workspaces/w',
   'gAAAAABrBxfT93LYRwI7itaaqFSLWk4NHEi-B2EQjOq4e7qK9Q1qaNZWHJbBotFuHSnMGEZtUb-GR_2yUgvgg6wY5GCouAUSSOw4hQRdgdCYeURNu9SMjaM=',
   true, NULL, 2, '2024-11-07 14:00:00', '2024-11-07 14:00:00'),
  ('windmill-ops', 'windmill', 'http://windmill.internal:8000', NULL,
   false, '{"workspace": "ops"}', NULL, '2024-11-08 16:45:00', '2024-11-08 16:45:00');
