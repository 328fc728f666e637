using System.Globalization;
using HomeUnit.Agent.State;
using HomeUnit.Protocol;

namespace HomeUnit.Agent.Ledger;

/// <summary>
/// The spans in which the unit was offline, faulted, paused by the resident or not running, kept in the
/// state database so a missed check can say why even after a restart. The ledger notes the conditions
/// it sees on every turn and marks itself alive once a minute; after a restart the time since the last
/// mark is a span of <see cref="Condition.AgentDown"/>, and spans left open then are closed at that mark.
/// </summary>
public sealed class ConditionLog(StateDatabase database)
{
    /// <summary>Spans older than this are dropped: the ledger looks back at most a week.</summary>
    public static readonly TimeSpan Keep = TimeSpan.FromDays(9);

    private static readonly TimeSpan AliveEvery = TimeSpan.FromMinutes(1);

    private readonly object gate = new();
    private readonly Dictionary<Condition, long> open = [];
    private DateTimeOffset lastAlive = DateTimeOffset.MinValue;
    private DateTimeOffset? watchedFrom;

    /// <summary>After a start: closes what the last run left open at its last alive mark and records the gap as the agent not running.</summary>
    public void Recover(DateTimeOffset now)
    {
        lock (gate)
        {
            database.Write(t =>
            {
                if (t.Scalar("SELECT value FROM ledger_meta WHERE key = 'alive'") is string alive)
                {
                    t.Execute("UPDATE ledger_conditions SET until = $at WHERE until IS NULL", ("$at", alive));
                    if (Parse(alive) < now)
                    {
                        t.Execute("INSERT INTO ledger_conditions (name, since, until) VALUES ($n, $s, $u)",
                            ("$n", Condition.AgentDown.Name), ("$s", alive), ("$u", Wire.Time(now)));
                    }
                }
                t.Execute("DELETE FROM ledger_conditions WHERE until IS NOT NULL AND until < $old", ("$old", Wire.Time(now - Keep)));
            });
            open.Clear();
            lastAlive = DateTimeOffset.MinValue;
        }
        MarkAlive(now);
    }

    /// <summary>Opens a span for each condition that began and closes the span of each that ended.</summary>
    public void Observe(IReadOnlySet<Condition> current, DateTimeOffset now)
    {
        lock (gate)
        {
            if (!current.SetEquals(open.Keys))
            {
                var ended = open.Keys.Where(k => !current.Contains(k)).ToList();
                var began = database.Write(t =>
                {
                    foreach (var condition in ended)
                    {
                        t.Execute("UPDATE ledger_conditions SET until = $at WHERE id = $id", ("$at", Wire.Time(now)), ("$id", open[condition]));
                    }
                    return current.Where(c => !open.ContainsKey(c)).Select(c => (Condition: c, Id: (long)t.Scalar(
                        "INSERT INTO ledger_conditions (name, since) VALUES ($n, $s) RETURNING id", ("$n", c.Name), ("$s", Wire.Time(now)))!)).ToList();
                });
                // Only once committed: a failed write leaves the spans as they were, to be tried again next turn.
                ended.ForEach(c => open.Remove(c));
                began.ForEach(b => open[b.Condition] = b.Id);
            }
        }
        MarkAlive(now);
    }

    /// <summary>The spans that overlap <paramref name="from"/>..<paramref name="to"/> (a name this release does not know is left out).</summary>
    public IReadOnlyList<ConditionSpan> During(DateTimeOffset from, DateTimeOffset to) => database.Read(connection =>
    {
        using var command = StateDatabase.Command(connection,
            "SELECT name, since, until FROM ledger_conditions WHERE since < $to AND (until IS NULL OR until > $from) ORDER BY id",
            ("$from", Wire.Time(from)), ("$to", Wire.Time(to)));
        using var reader = command.ExecuteReader();
        var spans = new List<ConditionSpan>();
        while (reader.Read())
        {
            if (Condition.FromName(reader.GetString(0)) is { } condition)
            {
                spans.Add(new ConditionSpan(condition, Parse(reader.GetString(1)), reader.IsDBNull(2) ? null : Parse(reader.GetString(2))));
            }
        }
        return spans;
    });

    /// <summary>The instant from which the ledger has watched this unit's checks (set the first time it is asked).</summary>
    public DateTimeOffset WatchedFrom(DateTimeOffset now)
    {
        lock (gate)
        {
            watchedFrom ??= Parse(database.Write(t =>
            {
                if (t.Scalar("SELECT value FROM ledger_meta WHERE key = 'watched_from'") is string stored)
                {
                    return stored;
                }
                t.Execute("INSERT INTO ledger_meta (key, value) VALUES ('watched_from', $v)", ("$v", Wire.Time(now)));
                return Wire.Time(now);
            }));
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
            database.Write(t => t.Execute(
                "INSERT INTO ledger_meta (key, value) VALUES ('alive', $v) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                ("$v", Wire.Time(now))));
            lastAlive = now;
        }
    }

    private static DateTimeOffset Parse(string at) => DateTimeOffset.Parse(at, CultureInfo.InvariantCulture);
}
