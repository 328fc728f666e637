using Microsoft.Extensions.Hosting;

namespace HomeUnit.Agent.Hosting;

/// <summary>Tells systemd READY once every service has started, STOPPING on shutdown, and feeds the watchdog.</summary>
public sealed class SystemdService(SdNotify notify, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        lifetime.ApplicationStarted.Register(notify.Ready);
        lifetime.ApplicationStopping.Register(notify.Stopping);
        if (SdNotify.WatchdogInterval is not { } interval)
        {
            return;
        }
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                notify.Watchdog();
            }
        }
        catch (OperationCanceledException)
        {
            // shutting down
        }
    }
}
