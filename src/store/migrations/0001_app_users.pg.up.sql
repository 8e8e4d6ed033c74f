-- 0001 app_users (PostgreSQL): the users who log in to wfreg. workflow_engines.created_by
-- points here. IF NOT EXISTS: a database made by the earlier Python system is adopted.
CREATE TABLE IF NOT EXISTS app_users (
  id SERIAL PRIMARY KEY,
  username VARCHAR(255) NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  role VARCHAR(20) NOT NULL DEFAULT 'viewer' CHECK (role IN ('admin', 'viewer')),
  active BOOLEAN NOT NULL DEFAULT true,
  created_at TIMESTAMP NOT NULL DEFAULT now(),
  updated_at TIMESTAMP NOT NULL DEFAULT now()
);
-- Adoption: the Python system's app_users has an id and maybe a username, but none of
-- what wfreg's login needs. The missing columns are added; its users keep their rows
-- and get no password (an empty hash never matches: they log in once an admin runs
-- `wfreg users passwd`), the role viewer and active. Where wfreg's own table exists,
-- every line below does nothing.
ALTER TABLE app_users ADD COLUMN IF NOT EXISTS username VARCHAR(255);
ALTER TABLE app_users ADD COLUMN IF NOT EXISTS password_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE app_users ADD COLUMN IF NOT EXISTS role VARCHAR(20) NOT NULL DEFAULT 'viewer'
  CHECK (role IN ('admin', 'viewer'));
ALTER TABLE app_users ADD COLUMN IF NOT EXISTS active BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE app_users ADD COLUMN IF NOT EXISTS created_at TIMESTAMP NOT NULL DEFAULT now();
ALTER TABLE app_users ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP NOT NULL DEFAULT now();
-- A column of the earlier system that is required and has no default (its
-- hashed_password) would refuse every user wfreg adds: it becomes optional. Its values
-- stay as they are; nothing else of that table changes.
DO $$
DECLARE
  col name;
BEGIN
  FOR col IN
    SELECT a.attname FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = 'app_users'::regclass AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
      AND a.attname NOT IN ('id', 'username', 'password_hash', 'role', 'active',
                            'created_at', 'updated_at')
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = a.attrelid
                      AND i.indisprimary AND a.attnum = ANY (i.indkey))
  LOOP
    EXECUTE format('ALTER TABLE app_users ALTER COLUMN %I DROP NOT NULL', col);
  END LOOP;
END
$$;
CREATE UNIQUE INDEX IF NOT EXISTS ix_app_users_username ON app_users(username);
