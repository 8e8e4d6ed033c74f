-- 0002 workflow_engines (PostgreSQL), reverted as the checklist's rollback does.
-- migrate down refuses this while engines are stored, unless --force.
DROP TABLE IF EXISTS workflow_engines CASCADE;
