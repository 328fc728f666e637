using System.Security.Cryptography;
using System.Text.Json;
using HomeUnit.Agent;
using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.State;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.Tests.State;

/// <summary>A unit's state survives an upgrade of the schema, and a newer schema is never touched.</summary>
public sealed class StateDatabaseTests
{
    private const string DeviceId = "hu-upgrade-1";
    private static readonly DateTimeOffset Night = new(2026, 11, 22, 21, 30, 0, TimeSpan.Zero);

    private static readonly string[] Tables = ["audit", "outbox", "outbox_dropped", "event_seq", "used_tokens", "careplan", "supervision"];

    [Fact]
    public void Database_of_the_previous_release_migrates_and_keeps_every_record()
    {
        using var directory = new TempDirectory();
        var state = directory.Combine("state");
        var file = PreviousRelease(state);
        var before = Tables.ToDictionary(t => t, t => Rows(file, t));
        Assert.Equal(0, UserVersion(file));

        var database = new StateDatabase(state);

        Assert.Equal(Schema.Version, database.StoredVersion());
        foreach (var table in Tables)
        {
            Assert.Equal(before[table], Rows(file, table));
        }
        var audit = new AuditLog(database, DeviceId, new ManualClock(Night.AddHours(1)));
        var records = audit.List();
        Assert.Equal(4, records.Count);
        Assert.Null(AuditChain.Verify(records));
        Assert.Equal("camera-fault: receiver went away", records[2].Reason); // an old prose reason stays as it was hashed
        Assert.Equal("grant-open", Assert.Single(audit.OpenSessions()).Grant);
        Assert.Equal(5, new Outbox(database).Peek(100).Count);
        Assert.True(new ReplayCache(database).Contains("grant-old"));
        Assert.Equal(7, CarePlanStoreOn(database, audit, directory).Current!.Version);

        // The chain, the event sequence and the outbox go on from where the old release left them.
        var next = audit.Append(new AuditRecord { Type = AuditType.AgentStarted });
        Assert.Equal(5, next.Seq);
        Assert.Null(AuditChain.Verify(audit.List()));
        Assert.Equal(13, new Events(database, TimeProvider.System, NullLogger<Events>.Instance).Raise(EventType.AgentStarted, Severity.Info).Seq);
        Assert.Equal(7, new Outbox(database).Count());

        // Opening again changes nothing more.
        var migrated = Tables.ToDictionary(t => t, t => Rows(file, t));
        new StateDatabase(state);
        Assert.All(Tables, t => Assert.Equal(migrated[t], Rows(file, t)));
    }

    [Fact]
    public void Database_from_a_newer_schema_is_refused_naming_the_versions_and_is_left_unchanged()
    {
        using var directory = new TempDirectory();
        var state = directory.Combine("state");
        var database = new StateDatabase(state);
        new AuditLog(database, DeviceId, TimeProvider.System).Append(new AuditRecord { Type = AuditType.AgentStarted });
        var newer = Schema.Version + 1;
        using (var connection = Connect(database.Path))
        {
            Sql(connection, $"CREATE TABLE night_ledger (night TEXT); PRAGMA user_version = {newer}; PRAGMA wal_checkpoint(TRUNCATE);");
        }
        var bytes = SHA256.HashData(File.ReadAllBytes(database.Path));

        var refused = Assert.Throws<StateSchemaException>(() => new StateDatabase(state));

        Assert.Contains($"schema version {newer}", refused.Message);
        Assert.Contains($"version {Schema.Version} of this release", refused.Message);
        Assert.Contains(database.Path, refused.Message);
        Assert.Equal(bytes, SHA256.HashData(File.ReadAllBytes(database.Path)));
        Assert.Equal(newer, UserVersion(database.Path));
    }

    [Fact]
    public void A_new_database_gets_every_table_and_the_current_version()
    {
        using var directory = new TempDirectory();
        var database = new StateDatabase(directory.Combine("state"));

        Assert.Equal(Schema.Version, database.StoredVersion());
        using var connection = Connect(database.Path);
        foreach (var table in Tables)
        {
            Assert.Equal(0L, Scalar(connection, $"SELECT count(*) FROM {table}"));
        }
        Assert.Equal("wal", Scalar(connection, "PRAGMA journal_mode"));
    }

    /// <summary>
    /// A state file as the first release left it: its schema (the captured fixture) and rows written the
    /// way it wrote them — a hash-chained audit log with a look left open, their outbox entries, an event,
    /// used tokens, a care plan, a count of dropped records.
    /// </summary>
    private static string PreviousRelease(string state)
    {
        Directory.CreateDirectory(state);
        var file = Path.Combine(state, StateDatabase.FileName);
        using var connection = Connect(file);
        Sql(connection, "PRAGMA journal_mode=WAL;");
        Sql(connection, File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "State", "unversioned-schema.sql")));
        var previous = AuditChain.Genesis;
        AuditRecord[] drafts =
        [
            new() { Type = AuditType.CarePlanApplied, Version = 7 },
            new() { Type = AuditType.SessionAccepted, Grant = "grant-old", Operator = "operator-7", Kind = "scheduled", View = "bed", Check = "c1" },
            new() { Type = AuditType.SessionAborted, Grant = "grant-old", Operator = "operator-7", Kind = "scheduled", View = "bed", Check = "c1", DurationMs = 0, Reason = "camera-fault: receiver went away" },
            new() { Type = AuditType.SessionAccepted, Grant = "grant-open", Operator = "operator-7", Kind = "scheduled", View = "bed", Check = "c2" },
        ];
        for (var i = 0; i < drafts.Length; i++)
        {
            var record = AuditChain.Seal(drafts[i] with { Device = DeviceId, At = Wire.Time(Night.AddMinutes(i)) }, i + 1, previous);
            previous = record.Hash!;
            var json = JsonSerializer.Serialize(record, Wire.Json);
            Sql(connection, "INSERT INTO audit (seq, type, grant_id, record) VALUES ($seq, $type, $grant, $record)",
                ("$seq", record.Seq), ("$type", record.Type.Code()), ("$grant", record.Grant), ("$record", json));
            Sql(connection, "INSERT INTO outbox (topic, id, payload) VALUES ('audit', $id, $payload)", ("$id", record.Hash), ("$payload", json));
        }
        Sql(connection, """
            INSERT INTO event_seq (id, seq) VALUES (1, 12);
            INSERT INTO outbox (topic, id, payload) VALUES ('event', 'e-12', '{"id":"e-12","seq":12,"type":"agent.started","severity":"info"}');
            INSERT INTO outbox_dropped (id, count) VALUES (1, 3);
            INSERT INTO used_tokens (jti, expires) VALUES ('grant-old', 1795383000), ('command-1', 1795383060);
            INSERT INTO supervision (id, issuer, since, until) VALUES (1, 'homeunit-central', 1795380000000, NULL);
            """);
        var plan = GrantRig.Plan(version: 7) with { Aud = DeviceId };
        Sql(connection, "INSERT INTO careplan (id, version, payload) VALUES (1, 7, $payload)", ("$payload", JsonSerializer.Serialize(plan, TokenJson.Options)));
        return file;
    }

    private static CarePlanStore CarePlanStoreOn(StateDatabase database, AuditLog audit, TempDirectory directory)
    {
        var keys = Directory.CreateDirectory(directory.Combine("keys")).FullName;
        var policy = new TrustPolicy(DeviceId, TrustPolicy.DefaultClockSkew, TrustPolicy.DefaultMaxSession);
        var clock = new ManualClock(Night);
        var trusted = TrustedKeys.Load(keys);
        var supervision = new Supervision(database, trusted, audit, new Events(database, clock, NullLogger<Events>.Instance), clock, NullLogger<Supervision>.Instance);
        return new CarePlanStore(database, new SignedTokenReader(trusted, policy), supervision, audit,
            new RefusalAudit(audit, clock, NullLogger<RefusalAudit>.Instance), NullLogger<CarePlanStore>.Instance);
    }

    private static SqliteConnection Connect(string file)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    private static void Sql(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = StateDatabase.Command(connection, sql, parameters);
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static int UserVersion(string file)
    {
        using var connection = Connect(file);
        return Convert.ToInt32(Scalar(connection, "PRAGMA user_version"));
    }

    /// <summary>Every row of a table, in its key's order, as text.</summary>
    private static List<string> Rows(string file, string table)
    {
        using var connection = Connect(file);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT * FROM {table} ORDER BY 1";
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            rows.Add(string.Join('|', Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "null" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        }
        return rows;
    }
}
