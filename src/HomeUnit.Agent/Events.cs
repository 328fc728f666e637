using System.Text.Json;
using HomeUnit.Agent.State;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent;

/// <summary>Raises events to the central: each gets a uuid and a device-wide sequence number and goes through the outbox.</summary>
public sealed class Events
{
    private readonly StateDatabase database;
    private readonly TimeProvider clock;
    private readonly ILogger<Events> log;
    private readonly object gate = new();

    public Events(StateDatabase database, TimeProvider clock, ILogger<Events> log)
    {
        this.database = database;
        this.clock = clock;
        this.log = log;
    }

    /// <summary>Raised after each event is stored (for the live view and tests).</summary>
    public event Action<DeviceEvent>? Raised;

    public DeviceEvent Raise(EventType type, Severity severity, object? data = null)
    {
        var deviceEvent = database.Write(t => Stage(t, type, severity, data));
        Announce(deviceEvent);
        return deviceEvent;
    }

    /// <summary>Numbers the event and puts it in the outbox inside the caller's transaction (so it commits with an audit record); call <see cref="Announce"/> after the commit.</summary>
    internal DeviceEvent Stage(StateTransaction transaction, EventType type, Severity severity, object? data)
    {
        lock (gate)
        {
            var seq = (long)transaction.Scalar("""
                INSERT INTO event_seq (id, seq) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET seq = seq + 1;
                SELECT seq FROM event_seq WHERE id = 1;
                """)!;
            var deviceEvent = new DeviceEvent(Guid.NewGuid().ToString(), seq, Wire.Time(clock.GetUtcNow()), type, severity, data);
            transaction.Enqueue(Topics.Event, deviceEvent.Id, JsonSerializer.Serialize(deviceEvent, Wire.Json));
            return deviceEvent;
        }
    }

    /// <summary>Logs the committed event and tells the live view and tests.</summary>
    internal void Announce(DeviceEvent deviceEvent)
    {
        var level = deviceEvent.Severity switch { Severity.Critical => LogLevel.Error, Severity.Warning => LogLevel.Warning, _ => LogLevel.Information };
        log.Log(level, "event {Type} ({Severity}) {Data}", deviceEvent.Type.Code(), deviceEvent.Severity.Code(),
            deviceEvent.Data is null ? "" : JsonSerializer.Serialize(deviceEvent.Data, Wire.Json));
        Raised?.Invoke(deviceEvent);
    }
}
