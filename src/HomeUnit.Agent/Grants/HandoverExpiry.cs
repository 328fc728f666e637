using HomeUnit.Agent.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Grants;

/// <summary>
/// Ends a handover when its end time passes, with its record and event, even when no token arrives.
/// (The central in charge is already the primary from that instant: <see cref="Supervision.Current"/>.)
/// </summary>
public sealed class HandoverExpiry(Supervision supervision, LoopHeartbeats heartbeats, ILogger<HandoverExpiry> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        do
        {
            heartbeats.Beat(nameof(HandoverExpiry));
            try
            {
                supervision.EndIfExpired();
            }
            catch (Exception e)
            {
                // Storage fault: health reports it; the record is written on a later tick.
                log.LogError("the end of a handover could not be recorded: {Error}", e.Message);
            }
        }
        while (await timer.NextTickAsync(stoppingToken));
    }
}
