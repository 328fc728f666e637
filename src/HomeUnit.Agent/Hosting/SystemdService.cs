using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Hosting;

/// <summary>Tells systemd READY once every service has started, STOPPING on shutdown, and feeds the watchdog while the loops are healthy.</summary>
public sealed class SystemdService(SdNotify notify, LoopHeartbeats heartbeats, IHostApplicationLifetime lifetime, ILogger<SystemdService> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        lifetime.ApplicationStarted.Register(notify.Ready);
        lifetime.ApplicationStopping.Register(notify.Stopping);
        if (notify.WatchdogInterval is not { } interval)
        {
            return;
        }
        using var timer = new PeriodicTimer(interval);
        while (await timer.NextTickAsync(stoppingToken))
        {
            // Fed only while every loop is turning; a stuck one makes systemd restart us.
            var stale = heartbeats.Stale(interval * 2);
            if (stale.Count == 0)
            {
                notify.Watchdog();
            }
            else
            {
                log.LogError("not feeding the watchdog: stuck loop(s) {Loops}", string.Join(", ", stale));
            }
        }
    }
}
