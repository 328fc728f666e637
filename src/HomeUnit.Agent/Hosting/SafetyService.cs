using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Session;
using HomeUnit.Drivers;
using HomeUnit.Protocol;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Hosting;

/// <summary>
/// Runs first and stops last. On start: the hardware goes to the safe state (lens up, IR off, red)
/// before anything else, then a look left open by a crash is recorded as aborted. On stop: any look
/// ends and the hardware is made safe again.
/// </summary>
public sealed class SafetyService(
    UnitHardware hardware,
    SessionMachine sessions,
    AuditLog audit,
    Events events,
    ILogger<SafetyService> log) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await DriveSafeStateAsync();
        try
        {
            foreach (var open in audit.OpenSessions())
            {
                var started = audit.StartedRecord(open.Grant!);
                var aborted = audit.Append(open with
                {
                    Type = AuditType.SessionAborted,
                    At = "",
                    StartedAt = started?.StartedAt,
                    Reason = EndReason.AgentDied.Code(),
                });
                log.LogWarning("the look for grant {Grant} was interrupted by a crash; recorded as aborted", aborted.Grant);
                events.Raise(EventType.SessionAborted, Severity.Warning, new { grant = aborted.Grant, reason = aborted.Reason });
            }
            audit.Append(new AuditRecord { Type = AuditType.AgentStarted });
            events.Raise(EventType.AgentStarted, Severity.Info, new { version = AgentVersion.Text });
        }
        catch (Exception e)
        {
            // Storage is broken: looks will be refused (no durable audit, no camera); health reports it.
            log.LogError("audit log unavailable at start: {Error}", e.Message);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            events.Raise(EventType.AgentStopping, Severity.Info);
        }
        catch (Exception e)
        {
            log.LogError("agent.stopping could not be stored: {Error}", e.Message);
        }
        await sessions.StopAsync(EndReason.AgentStopping);
        await DriveSafeStateAsync();
    }

    private async Task DriveSafeStateAsync()
    {
        foreach (var fault in await hardware.DriveSafeStateAsync())
        {
            log.LogError("safe state incomplete: {Fault}", fault);
        }
    }
}

/// <summary>The agent's version as published in status and events.</summary>
public static class AgentVersion
{
    public static string Text { get; } =
        typeof(AgentVersion).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
