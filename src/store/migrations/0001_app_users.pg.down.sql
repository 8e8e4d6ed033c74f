-- 0001 app_users (PostgreSQL), reverted: the table, its index and what references it.
DROP TABLE IF EXISTS app_users CASCADE;
