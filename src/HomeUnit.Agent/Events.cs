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
        DeviceEvent deviceEvent;
        lock (gate)
        {
            deviceEvent = database.Write(t =>
            {
                var seq = (long)t.Scalar("""
                    INSERT INTO event_seq (id, seq) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET seq = seq + 1;
                    SELECT seq FROM event_seq WHERE id = 1;
                    """)!;
                var raised = new DeviceEvent(Guid.NewGuid().ToString(), seq, Wire.Time(clock.GetUtcNow()), type, severity, data);
                t.Enqueue(Topics.Event, raised.Id, JsonSerializer.Serialize(raised, Wire.Json));
                return raised;
            });
        }
        var level = severity switch { Severity.Critical => LogLevel.Error, Severity.Warning => LogLevel.Warning, _ => LogLevel.Information };
        log.Log(level, "event {Type} ({Severity}) {Data}", type.Code(), severity.Code(), data is null ? "" : JsonSerializer.Serialize(data, Wire.Json));
        Raised?.Invoke(deviceEvent);
        return deviceEvent;
    }
}
