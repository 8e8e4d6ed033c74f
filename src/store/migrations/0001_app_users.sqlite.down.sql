-- 0001 app_users (SQLite), reverted: the table and its index.
DROP INDEX IF EXISTS ix_app_users_username;
DROP TABLE IF EXISTS app_users;
