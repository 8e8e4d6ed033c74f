-- 0002 workflow_engines (SQLite), reverted as the checklist's rollback does: the table
-- goes, and its indexes with it. migrate down refuses this while engines are stored,
-- unless --force.
DROP TABLE IF EXISTS workflow_engines;
