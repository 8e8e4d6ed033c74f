-- 0003 auth_audit (SQLite), reverted: the tokens and the audit trail, with their indexes.
DROP TABLE IF EXISTS audit_log;
DROP TABLE IF EXISTS api_tokens;
