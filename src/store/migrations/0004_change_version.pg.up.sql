-- 0004 change_version (PostgreSQL): how instances learn that another one (or the
-- command line, or psql by hand) changed the registry. wfreg_state holds one number,
-- bumped by a statement trigger in every transaction that writes workflow_engines,
-- app_users or api_tokens; the same trigger sends NOTIFY wfreg_changes (payload: the
-- table), which PostgreSQL delivers at commit, and only then. wf_store_data_version
-- reads the number (a poll, the safety net); a server LISTENs for the rest. In the
-- writer's transaction rather than in wfreg's code, so that every writer signals.
-- Equal payloads of one transaction are delivered once: a bulk import is one signal per
-- table. The SQLite script makes the same table, unused (see there).
CREATE TABLE IF NOT EXISTS wfreg_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version BIGINT NOT NULL DEFAULT 0
);
INSERT INTO wfreg_state (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;

CREATE OR REPLACE FUNCTION wfreg_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE wfreg_state SET version = version + 1 WHERE id = 1;
  PERFORM pg_notify('wfreg_changes', TG_TABLE_NAME);
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS wfreg_changed ON workflow_engines;
CREATE TRIGGER wfreg_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workflow_engines
  FOR EACH STATEMENT EXECUTE FUNCTION wfreg_changed();
DROP TRIGGER IF EXISTS wfreg_changed ON app_users;
CREATE TRIGGER wfreg_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON app_users
  FOR EACH STATEMENT EXECUTE FUNCTION wfreg_changed();
DROP TRIGGER IF EXISTS wfreg_changed ON api_tokens;
CREATE TRIGGER wfreg_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_tokens
  FOR EACH STATEMENT EXECUTE FUNCTION wfreg_changed();
