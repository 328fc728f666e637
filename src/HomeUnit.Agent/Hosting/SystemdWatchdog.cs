using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Hosting;

/// <summary>
/// Feeds systemd's watchdog (<c>WATCHDOG=1</c> through the library's <see cref="ISystemdNotifier"/>)
/// only while every loop turns, so a stuck loop becomes a restart instead of a silent hang. READY,
/// STOPPING and the journald log format come from Microsoft.Extensions.Hosting.Systemd itself.
/// Does nothing when the agent is not a systemd service or systemd does not watch it.
/// </summary>
public sealed class SystemdWatchdog(ISystemdNotifier? notifier, TimeSpan? interval, LoopHeartbeats heartbeats, ILogger<SystemdWatchdog> log) : BackgroundService
{
    private static readonly ServiceState Fed = new("WATCHDOG=1");

    /// <summary>Half of systemd's <c>WatchdogSec</c> (<c>$WATCHDOG_USEC</c>), or null when systemd does not watch.</summary>
    public static TimeSpan? IntervalFromEnvironment() =>
        long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), out var usec) && usec > 0
            ? TimeSpan.FromMicroseconds(usec / 2.0)
            : null;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (notifier is not { IsEnabled: true } || interval is not { } period)
        {
            return;
        }
        using var timer = new PeriodicTimer(period);
        while (await timer.NextTickAsync(stoppingToken))
        {
            var stale = heartbeats.Stale(period * 2);
            if (stale.Count == 0)
            {
                notifier.Notify(Fed);
            }
            else
            {
                log.LogError("not feeding the watchdog: stuck loop(s) {Loops}", string.Join(", ", stale));
            }
        }
    }
}
