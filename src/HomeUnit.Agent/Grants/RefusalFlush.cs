using HomeUnit.Agent.Hosting;
using Microsoft.Extensions.Hosting;

namespace HomeUnit.Agent.Grants;

/// <summary>Writes the refusal summaries of minutes that have ended, even when the flood has stopped.</summary>
public sealed class RefusalFlush(RefusalAudit refusals, LoopHeartbeats heartbeats) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(10));
        do
        {
            heartbeats.Beat(nameof(RefusalFlush));
            try
            {
                refusals.Flush();
            }
            catch (Exception)
            {
                // Storage fault: health reports it; the counts wait for the next flush.
            }
        }
        while (await timer.NextTickAsync(stoppingToken));
    }
}
