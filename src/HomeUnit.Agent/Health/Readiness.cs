using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Hosting;
using HomeUnit.Protocol;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Health;

/// <summary>
/// A few minutes before each scheduled check of the care plan, runs the self-test and publishes a
/// <c>readiness</c> event; <c>ready: false</c> (critical) tells the centre to send staff for that check.
/// </summary>
public sealed class Readiness(
    SelfTest selfTest,
    CarePlanStore plans,
    Events events,
    LoopHeartbeats heartbeats,
    TimeProvider clock,
    TimeSpan lead,
    ILogger<Readiness> log) : BackgroundService
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(5);
    private readonly HashSet<(DateOnly Night, string Check)> reported = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Poll, clock);
        do
        {
            heartbeats.Beat(nameof(Readiness));
            await RunDueAsync(stoppingToken);
        }
        while (await timer.NextTickAsync(stoppingToken));
    }

    /// <summary>Reports readiness for every planned check due within the lead time that has not had one.</summary>
    public async Task RunDueAsync(CancellationToken cancellationToken)
    {
        if (plans.Current is not { } plan)
        {
            return;
        }
        var now = clock.GetUtcNow();
        foreach (var (night, check, at) in UpcomingChecks(plan, now, lead))
        {
            if (reported.Add((night, check.Id)))
            {
                await ReportAsync(new { check = check.Id, night = night.ToString("yyyy-MM-dd"), at = Wire.Time(at) }, cancellationToken);
            }
        }
        reported.RemoveWhere(r => r.Night < WallClock.NightOf(now, plan.Zone).AddDays(-1));
    }

    /// <summary>Checks of unpaused nights that happen within (now, now + lead].</summary>
    public static IEnumerable<(DateOnly Night, PlannedCheck Check, DateTimeOffset At)> UpcomingChecks(CarePlan plan, DateTimeOffset now, TimeSpan lead)
    {
        var tonight = WallClock.NightOf(now, plan.Zone);
        foreach (var night in new[] { tonight, tonight.AddDays(1) })
        {
            if (plan.PausedNights.Contains(night))
            {
                continue;
            }
            foreach (var check in plan.Checks)
            {
                var at = WallClock.CheckInstant(night, check.At, plan.Zone);
                if (at > now && at <= now + lead && plan.InForceAt(at))
                {
                    yield return (night, check, at);
                }
            }
        }
    }

    /// <summary>Runs the self-test now and publishes the readiness event; for a <c>selftest</c> command too.</summary>
    public async Task<SelfTestResult?> ReportAsync(object? check, CancellationToken cancellationToken)
    {
        try
        {
            var result = await selfTest.RunAsync(cancellationToken);
            events.Raise(EventType.Readiness, result.Ready ? Severity.Info : Severity.Critical,
                new { ready = result.Ready, parts = result.Parts, check });
            return result;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogError("readiness could not be reported: {Error}", e.Message);
            return null;
        }
    }
}
