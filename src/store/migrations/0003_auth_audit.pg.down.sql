-- 0003 auth_audit (PostgreSQL), reverted: the tokens and the audit trail.
DROP TABLE IF EXISTS audit_log CASCADE;
DROP TABLE IF EXISTS api_tokens CASCADE;
