using System.Globalization;
using System.Threading.Channels;
using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Hosting;
using HomeUnit.Drivers.Gpio;
using HomeUnit.Protocol;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Session;

/// <summary>
/// The resident's privacy pause. A press of the unit's button starts a pause of the care plan's
/// <c>privacyPause.maxMinutes</c>: the session state machine ends a running look at once and refuses
/// every look until the pause is over; the light shows the pause pattern. The pause ends by itself at
/// its <c>until</c> or at the next press. Each start (<c>privacy.paused</c>, with <c>until</c>) and end
/// (<c>privacy.resumed</c>, reason <c>press</c> or <c>expired</c>) is an audit record sent together with an
/// event. Without <c>privacyPause</c> in the care plan a press only gives a short flicker on the light.
/// The audit chain is the pause's memory: after a restart a pause still running goes on until its end.
/// </summary>
public sealed class PrivacyPause(
    SessionMachine sessions,
    CarePlanStore plans,
    AuditLog audit,
    Events events,
    Func<PrivacyButton?> button,
    LoopHeartbeats heartbeats,
    TimeProvider clock,
    ILogger<PrivacyPause> log) : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    private readonly Channel<bool> presses = Channel.CreateBounded<bool>(new BoundedChannelOptions(8) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly object gate = new();
    private DateTimeOffset? until;

    /// <summary>When the running pause ends by itself; null when the camera is not paused.</summary>
    public DateTimeOffset? Until
    {
        get { lock (gate) return until; }
    }

    /// <summary>Hands a press over from the button's thread to the pause's loop.</summary>
    public void OnPressed() => presses.Writer.TryWrite(true);

    private PrivacyButton? opened;

    /// <summary>
    /// Before the services after it start (the central's messages among them): a pause left running is
    /// in force again before any grant is handled, and the button is read from the start.
    /// </summary>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        Restore();
        opened = OpenButton();
        return base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        opened?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            heartbeats.Beat(nameof(PrivacyPause));
            using (var wake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
            {
                wake.CancelAfter(Tick);
                try
                {
                    await presses.Reader.WaitToReadAsync(wake.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // a second without a press: time to see whether the pause is over
                }
            }
            while (presses.Reader.TryRead(out _))
            {
                Press();
            }
            Expire();
        }
    }

    private PrivacyButton? OpenButton()
    {
        try
        {
            var opened = button();
            if (opened is not null)
            {
                opened.Pressed += OnPressed;
            }
            return opened;
        }
        catch (Exception e)
        {
            // The unit still does its job without the button; the centre hears that the resident cannot pause.
            log.LogError("privacy button unavailable: {Error}", e.Message);
            Report(EventType.ButtonFault, Severity.Warning, new { detail = e.Message });
            return null;
        }
    }

    /// <summary>A press: ends a running pause, else starts one if the care plan allows it, else flickers the light.</summary>
    public void Press()
    {
        lock (gate)
        {
            var now = clock.GetUtcNow();
            if (until is not null)
            {
                End(PauseEndReason.Press);
                return;
            }
            if (plans.Current is not { PrivacyPause: { } length } plan || !plan.InForceAt(now))
            {
                log.LogInformation("privacy button pressed: the care plan allows no pause");
                sessions.ShowPressRefused();
                return;
            }
            // The camera goes off first: that is what the resident asked for, with or without a record of it.
            until = now + length;
            sessions.Pause();
            Append(new AuditRecord { Type = AuditType.PrivacyPaused, Until = Wire.Time(until.Value) }, EventType.PrivacyPaused, Severity.Warning,
                new { until = Wire.Time(until.Value), minutes = (int)length.TotalMinutes });
        }
    }

    /// <summary>Ends the pause once its time is up.</summary>
    public void Expire()
    {
        lock (gate)
        {
            if (until is { } end && clock.GetUtcNow() >= end)
            {
                End(PauseEndReason.Expired);
            }
        }
    }

    /// <summary>After a start: a pause the audit chain shows still running goes on; one that ran out meanwhile is ended.</summary>
    public void Restore()
    {
        lock (gate)
        {
            var last = audit.OfTypes(AuditType.PrivacyPaused, AuditType.PrivacyResumed).LastOrDefault();
            if (last is not { Type: AuditType.PrivacyPaused, Until: { } stored })
            {
                return;
            }
            until = DateTimeOffset.Parse(stored, CultureInfo.InvariantCulture);
            sessions.Pause();
            log.LogWarning("privacy pause goes on after the restart until {Until}", stored);
        }
        Expire();
    }

    private void End(PauseEndReason why)
    {
        until = null;
        sessions.Resume();
        Append(new AuditRecord { Type = AuditType.PrivacyResumed, Reason = why.Code() }, EventType.PrivacyResumed, Severity.Info, new { reason = why.Code() });
    }

    private void Append(AuditRecord record, EventType type, Severity severity, object data)
    {
        try
        {
            audit.Append(record, new AuditLog.AlongEvent(events, type, severity, data));
        }
        catch (Exception e)
        {
            log.LogError("{Type} could not be recorded: {Error}", record.Type.Code(), e.Message);
        }
    }

    private void Report(EventType type, Severity severity, object data)
    {
        try
        {
            events.Raise(type, severity, data);
        }
        catch (Exception e)
        {
            log.LogError("event {Type} could not be stored: {Error}", type.Code(), e.Message);
        }
    }
}
