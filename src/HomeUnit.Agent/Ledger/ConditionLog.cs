using System.Globalization;
using HomeUnit.Agent.State;
using HomeUnit.Protocol;

namespace HomeUnit.Agent.Ledger;

/// <summary>
/// The spans in which the unit was offline, faulted, paused by the resident or not running, kept in the
/// state database so a missed check can say why even after a restart. The ledger notes the conditions
/// it sees on every turn and marks itself alive once a minute; after a restart the time since the last
/// mark is a span of <see cref="Conditions.AgentDown"/>, and spans left open then are closed at that mark.
/// </summary>
public sealed class ConditionLog
{
    /// <summary>Spans older than this are dropped: the ledger looks back at most a week.</summary>
    public static readonly TimeSpan Keep = TimeSpan.FromDays(9);

    private static readonly TimeSpan AliveEvery = TimeSpan.FromMinutes(1);

    private readonly StateDatabase database;
    private readonly object gate = new();
    private readonly Dictionary<string, long> open = new(StringComparer.Ordinal);
    private DateTimeOffset lastAlive = DateTimeOffset.MinValue;
    private DateTimeOffset? watchedFrom;

    public ConditionLog(StateDatabase database)
    {
        this.database = database;
    }

    /// <summary>After a start: closes what the last run left open at its last alive mark and records the gap as the agent not running.</summary>
    public void Recover(DateTimeOffset now)
    {
        lock (gate)
        {
            using var connection = database.Open();
            using var transaction = connection.BeginTransaction();
            if (Meta(connection, transaction, "alive") is { } alive)
            {
                Run(connection, transaction, "UPDATE ledger_conditions SET until = $at WHERE until IS NULL", ("$at", alive));
                if (Parse(alive) < now)
                {
                    Run(connection, transaction, "INSERT INTO ledger_conditions (name, since, until) VALUES ($n, $s, $u)",
                        ("$n", Conditions.AgentDown), ("$s", alive), ("$u", Wire.Time(now)));
                }
            }
            Run(connection, transaction, "DELETE FROM ledger_conditions WHERE until IS NOT NULL AND until < $old", ("$old", Wire.Time(now - Keep)));
            transaction.Commit();
            open.Clear();
            lastAlive = DateTimeOffset.MinValue;
        }
        MarkAlive(now);
    }

    /// <summary>Opens a span for each condition that began and closes the span of each that ended.</summary>
    public void Observe(IReadOnlySet<string> current, DateTimeOffset now)
    {
        lock (gate)
        {
            if (current.SetEquals(open.Keys))
            {
                MarkAlive(now);
                return;
            }
            using var connection = database.Open();
            using var transaction = connection.BeginTransaction();
            foreach (var ended in open.Keys.Where(k => !current.Contains(k)).ToList())
            {
                Run(connection, transaction, "UPDATE ledger_conditions SET until = $at WHERE id = $id", ("$at", Wire.Time(now)), ("$id", open[ended].ToString(CultureInfo.InvariantCulture)));
                open.Remove(ended);
            }
            foreach (var began in current.Where(c => !open.ContainsKey(c)))
            {
                using var insert = connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = "INSERT INTO ledger_conditions (name, since) VALUES ($n, $s) RETURNING id";
                insert.Parameters.AddWithValue("$n", began);
                insert.Parameters.AddWithValue("$s", Wire.Time(now));
                open[began] = (long)insert.ExecuteScalar()!;
            }
            transaction.Commit();
        }
        MarkAlive(now);
    }

    /// <summary>The spans that overlap <paramref name="from"/>..<paramref name="to"/>.</summary>
    public IReadOnlyList<ConditionSpan> During(DateTimeOffset from, DateTimeOffset to)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name, since, until FROM ledger_conditions WHERE since < $to AND (until IS NULL OR until > $from) ORDER BY id";
        command.Parameters.AddWithValue("$from", Wire.Time(from));
        command.Parameters.AddWithValue("$to", Wire.Time(to));
        using var reader = command.ExecuteReader();
        var spans = new List<ConditionSpan>();
        while (reader.Read())
        {
            spans.Add(new ConditionSpan(reader.GetString(0), Parse(reader.GetString(1)), reader.IsDBNull(2) ? null : Parse(reader.GetString(2))));
        }
        return spans;
    }

    /// <summary>The instant from which the ledger has watched this unit's checks (set the first time it is asked).</summary>
    public DateTimeOffset WatchedFrom(DateTimeOffset now)
    {
        lock (gate)
        {
            if (watchedFrom is { } known)
            {
                return known;
            }
            using var connection = database.Open();
            using var transaction = connection.BeginTransaction();
            if (Meta(connection, transaction, "watched_from") is not { } stored)
            {
                stored = Wire.Time(now);
                Run(connection, transaction, "INSERT INTO ledger_meta (key, value) VALUES ('watched_from', $v)", ("$v", stored));
                transaction.Commit();
            }
            watchedFrom = Parse(stored);
            return watchedFrom.Value;
        }
    }

    private void MarkAlive(DateTimeOffset now)
    {
        lock (gate)
        {
            if (now - lastAlive < AliveEvery)
            {
                return;
            }
            using var connection = database.Open();
            Run(connection, null, "INSERT INTO ledger_meta (key, value) VALUES ('alive', $v) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                ("$v", Wire.Time(now)));
            lastAlive = now;
        }
    }

    private static string? Meta(Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction transaction, string key)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT value FROM ledger_meta WHERE key = $k";
        command.Parameters.AddWithValue("$k", key);
        return command.ExecuteScalar() as string;
    }

    private static void Run(Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction? transaction, string sql, params (string Name, string Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        command.ExecuteNonQuery();
    }

    private static DateTimeOffset Parse(string at) => DateTimeOffset.Parse(at, CultureInfo.InvariantCulture);
}
