-- 0004 change_version (SQLite): the table PostgreSQL's 0004 bumps on every change to
-- the registry, created here too so that both dialects have the same tables and the
-- same versions, but nothing writes it: SQLite's PRAGMA data_version already tells a
-- connection that another one committed, for free and across processes, without making
-- every writer update one row (see the PostgreSQL script for why it needs one).
CREATE TABLE IF NOT EXISTS wfreg_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version BIGINT NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO wfreg_state (id, version) VALUES (1, 0);
