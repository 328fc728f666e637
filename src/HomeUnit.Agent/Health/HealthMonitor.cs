using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Session;
using HomeUnit.Protocol;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Health;

/// <summary>
/// Reads every part twice a second (P7). Each change raises its event, updates the faults in the
/// retained status, and a fault that makes the camera, lens, light or audit untrustworthy ends a
/// running look at once (lens up, red).
/// </summary>
public sealed class HealthMonitor(
    HealthReadings checks,
    HealthState health,
    SessionMachine sessions,
    Events events,
    LoopHeartbeats heartbeats,
    ILogger<HealthMonitor> log) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    /// <summary>For each fault: the event raised when it appears, its severity, and the event when it clears.</summary>
    private static readonly Dictionary<UnitFault, (EventType Raised, Severity Severity, EventType Cleared)> EventsFor = new()
    {
        [UnitFault.PowerLost] = (EventType.PowerLost, Severity.Critical, EventType.PowerRestored),
        [UnitFault.Undervoltage] = (EventType.PowerUndervoltage, Severity.Warning, EventType.PowerUndervoltageCleared),
        [UnitFault.Camera] = (EventType.CameraFault, Severity.Critical, EventType.CameraRestored),
        [UnitFault.Servo] = (EventType.ServoFault, Severity.Critical, EventType.ServoRestored),
        [UnitFault.Light] = (EventType.LightFault, Severity.Critical, EventType.LightRestored),
        [UnitFault.Clock] = (EventType.ClockUnsynced, Severity.Critical, EventType.ClockSynced),
        [UnitFault.Storage] = (EventType.StorageFault, Severity.Critical, EventType.StorageRestored),
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            heartbeats.Beat(nameof(HealthMonitor));
            try
            {
                CheckOnce();
            }
            catch (Exception e)
            {
                // The monitor must outlive whatever a reading throws; the next tick reads again.
                log.LogError("health reading failed: {Error}", e.Message);
            }
        }
        while (await timer.NextTickAsync(stoppingToken));
    }

    /// <summary>One reading; public so the self-test and tests can take one now.</summary>
    public void CheckOnce()
    {
        foreach (var (fault, detail) in checks.ReadAll())
        {
            if (!health.Set(fault, detail))
            {
                continue;
            }
            var (raised, severity, cleared) = EventsFor[fault];
            Report(detail is null ? cleared : raised, detail is null ? Severity.Info : severity, detail);
            // The look ends without raising the fault again: this reading has reported it.
            if (detail is not null && Faults.EndsLook(fault) is { } ends && sessions.RequestStop(ends, detail: detail))
            {
                log.LogError("{Fault} fault during a look: ending it", fault.Code());
            }
        }
    }

    private void Report(EventType type, Severity severity, string? detail)
    {
        try
        {
            events.Raise(type, severity, detail is null ? null : new { detail });
        }
        catch (Exception e)
        {
            // Storage itself may be the fault; the retained status still carries it.
            log.LogError("event {Type} could not be stored: {Error}", type.Code(), e.Message);
        }
    }
}
