using System.Text.Json;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.State;
using HomeUnit.Protocol;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent;

/// <summary>Raises events to the central: each gets a uuid and a device-wide sequence number and goes through the outbox.</summary>
public sealed class Events
{
    private readonly StateDatabase database;
    private readonly Outbox outbox;
    private readonly TimeProvider clock;
    private readonly ILogger<Events> log;
    private readonly object gate = new();

    public Events(StateDatabase database, Outbox outbox, TimeProvider clock, ILogger<Events> log)
    {
        this.database = database;
        this.outbox = outbox;
        this.clock = clock;
        this.log = log;
        using var connection = database.Open();
        StateDatabase.Execute(connection, "CREATE TABLE IF NOT EXISTS event_seq (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);");
    }

    /// <summary>Raised after each event is stored (for the live view and tests).</summary>
    public event Action<DeviceEvent>? Raised;

    public DeviceEvent Raise(string type, string severity, object? data = null)
    {
        DeviceEvent deviceEvent;
        lock (gate)
        {
            using var connection = database.Open();
            using var transaction = connection.BeginTransaction();
            deviceEvent = Stage(connection, transaction, type, severity, data);
            transaction.Commit();
            outbox.Committed();
        }
        Announce(deviceEvent);
        return deviceEvent;
    }

    /// <summary>Numbers the event and puts it in the outbox inside the caller's transaction (so it commits with an audit record); call <see cref="Announce"/> after the commit.</summary>
    internal DeviceEvent Stage(SqliteConnection connection, SqliteTransaction transaction, string type, string severity, object? data)
    {
        lock (gate)
        {
            using var next = connection.CreateCommand();
            next.Transaction = transaction;
            next.CommandText = """
                INSERT INTO event_seq (id, seq) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET seq = seq + 1;
                SELECT seq FROM event_seq WHERE id = 1;
                """;
            var seq = (long)next.ExecuteScalar()!;
            var deviceEvent = new DeviceEvent(Guid.NewGuid().ToString(), seq, Wire.Time(clock.GetUtcNow()), type, severity, data);
            outbox.Enqueue(Topics.Event, deviceEvent.Id, JsonSerializer.Serialize(deviceEvent, Wire.Json), transaction);
            return deviceEvent;
        }
    }

    internal void Announce(DeviceEvent deviceEvent)
    {
        var level = deviceEvent.Severity switch { Severity.Critical => LogLevel.Error, Severity.Warning => LogLevel.Warning, _ => LogLevel.Information };
        log.Log(level, "event {Type} ({Severity}) {Data}", deviceEvent.Type, deviceEvent.Severity,
            deviceEvent.Data is null ? "" : JsonSerializer.Serialize(deviceEvent.Data, Wire.Json));
        Raised?.Invoke(deviceEvent);
    }
}
