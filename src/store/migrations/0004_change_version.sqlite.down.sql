-- 0004 change_version (SQLite), reverted.
DROP TABLE IF EXISTS wfreg_state;
