namespace HomeUnit.Agent.State;

/// <summary>One step of the schema: what it does, and the SQL that does it.</summary>
public sealed record Migration(string What, string Sql);

/// <summary>
/// Every table of the state database, in one place. The file stores its schema version
/// (<c>PRAGMA user_version</c>); <see cref="Migrations"/>[n] takes a file at version n to n + 1, and
/// <see cref="StateDatabase"/> applies the missing ones in order, in one transaction, at start.
/// Append only: a released migration never changes, or a unit in the field would not get it.
/// </summary>
public static class Schema
{
    public static readonly IReadOnlyList<Migration> Migrations =
    [
        // 1: the tables of the first release. It stored no version (user_version 0) and created its
        // tables IF NOT EXISTS, so its files are adopted as they are, every row kept.
        new("the first release's tables: audit, outbox, event sequence, used tokens, care plan, central in charge", """
            CREATE TABLE IF NOT EXISTS outbox (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                topic TEXT NOT NULL,
                id TEXT NOT NULL,
                payload TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS outbox_dropped (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                count INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS audit (
                seq INTEGER PRIMARY KEY,
                type TEXT NOT NULL,
                grant_id TEXT,
                record TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS audit_grant ON audit (grant_id);
            CREATE TABLE IF NOT EXISTS event_seq (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS used_tokens (
                jti TEXT PRIMARY KEY,
                expires INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS used_tokens_expires ON used_tokens (expires);
            CREATE TABLE IF NOT EXISTS careplan (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                version INTEGER NOT NULL,
                payload TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS supervision (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                issuer TEXT NOT NULL,
                since INTEGER NOT NULL,
                until INTEGER);
            """),
        // 2: crash markers and follow-up history are found by record type, not by a scan of the whole log.
        new("an index of audit records by type", "CREATE INDEX audit_type ON audit (type, seq);"),
        // 3: the night ledger's record of the unit's conditions (faults, offline, paused) and its alive mark.
        // IF NOT EXISTS: units that ran the ledger before the schema was versioned already have them.
        new("the night ledger's conditions", """
            CREATE TABLE IF NOT EXISTS ledger_conditions (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                since TEXT NOT NULL,
                until TEXT);
            CREATE TABLE IF NOT EXISTS ledger_meta (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL);
            """),
    ];

    /// <summary>The schema version this release writes.</summary>
    public static int Version => Migrations.Count;
}

/// <summary>The state database cannot be used by this release (a newer schema); nothing in it was changed.</summary>
public sealed class StateSchemaException(string message) : Exception(message);
