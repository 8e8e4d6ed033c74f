-- 0004 change_version (PostgreSQL), reverted: the triggers, their function, the table.
DROP TRIGGER IF EXISTS wfreg_changed ON api_tokens;
DROP TRIGGER IF EXISTS wfreg_changed ON app_users;
DROP TRIGGER IF EXISTS wfreg_changed ON workflow_engines;
DROP FUNCTION IF EXISTS wfreg_changed();
DROP TABLE IF EXISTS wfreg_state;
