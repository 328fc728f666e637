-- The state database's schema as the agent created it before the schema was versioned (user_version 0):
-- captured with sqlite3 .schema from a unit's homeunit.db (without SQLite's own sqlite_sequence).
CREATE TABLE outbox (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                topic TEXT NOT NULL,
                id TEXT NOT NULL,
                payload TEXT NOT NULL);
CREATE TABLE outbox_dropped (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                count INTEGER NOT NULL);
CREATE TABLE audit (
                seq INTEGER PRIMARY KEY,
                type TEXT NOT NULL,
                grant_id TEXT,
                record TEXT NOT NULL);
CREATE INDEX audit_grant ON audit (grant_id);
CREATE TABLE event_seq (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
CREATE TABLE used_tokens (
                jti TEXT PRIMARY KEY,
                expires INTEGER NOT NULL);
CREATE INDEX used_tokens_expires ON used_tokens (expires);
CREATE TABLE careplan (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                version INTEGER NOT NULL,
                payload TEXT NOT NULL);
CREATE TABLE supervision (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                issuer TEXT NOT NULL,
                since INTEGER NOT NULL,
                until INTEGER);
