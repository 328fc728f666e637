using System.Device.Gpio;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Session;
using HomeUnit.TestSupport;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Gpio;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.Tests.Session;

/// <summary>
/// The resident's privacy pause on the real session state machine, drivers, ffmpeg camera and SQLite,
/// with a clock the test moves for the pause's length; the light is judged from the hardware timeline
/// and the LED's kernel files.
/// </summary>
public sealed class PrivacyPauseTests : IDisposable
{
    private readonly UnitUnderTest unit = new();
    private readonly GrantRig rig = new();
    private readonly PrivacyPause pause;

    public PrivacyPauseTests()
    {
        pause = Pause(unit.Sessions);
    }

    public void Dispose()
    {
        unit.Dispose();
        rig.Dispose();
    }

    private PrivacyPause Pause(SessionMachine sessions) =>
        new(sessions, rig.Plans, unit.Audit, unit.Events, () => null, new LoopHeartbeats(), rig.Clock, NullLogger<PrivacyPause>.Instance);

    private Task PlanAsync(int? pauseMinutes = 60) =>
        rig.ApplyPlanAsync(GrantRig.Plan() with { PrivacyPause = pauseMinutes is { } m ? new PrivacyPauseRule(m) : null });

    private List<AuditRecord> Records(AuditType type) => unit.Audit.List().Where(r => r.Type == type).ToList();

    [Fact]
    public async Task A_press_ends_a_running_look_at_once_and_no_look_starts_until_the_pause_ends_by_itself()
    {
        await PlanAsync();
        var look = await unit.RequestAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(StartOutcome.Started, unit.Sessions.TryStart(look));
        await Eventually.True(() => unit.Sessions.State == SessionState.Live, "the look to be live", TimeSpan.FromSeconds(30));

        pause.Press();
        await unit.Sessions.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10));

        var ended = Assert.Single(Records(AuditType.SessionEnded));
        Assert.Equal((look.GrantId, EndReason.PrivacyPaused.Code()), (ended.Grant, ended.Reason));
        Assert.True(ended.DurationMs < 30_000);
        var paused = Assert.Single(Records(AuditType.PrivacyPaused));
        Assert.Equal(Wire.Time(rig.Clock.GetUtcNow().AddMinutes(60)), paused.Until);
        Assert.Equal(StartOutcome.Paused, unit.Sessions.TryStart(UnitUnderTest.Request()));
        await Eventually.True(() => unit.Brightness(StatusLight.RedLabel) == "0", "red's dark beat");
        await Eventually.True(() => unit.Brightness(StatusLight.RedLabel) == "1", "red lit again after the beat");
        Assert.Equal("0", unit.Brightness(StatusLight.GreenLabel));
        var timeline = unit.Timeline.Snapshot();
        TimelineAssert.GreenWheneverCapturing(timeline);
        var captureOff = TimelineAssert.IndexOf(timeline, Parts.Capture, "off");
        Assert.True(TimelineAssert.IndexOf(timeline, Parts.Red, "blink paused") > captureOff, "the pause pattern only after capture stopped");
        Assert.Equal(-1, TimelineAssert.IndexOf(timeline, Parts.Green, "on", captureOff));

        rig.Clock.Advance(TimeSpan.FromMinutes(59));
        pause.Expire();
        Assert.NotNull(pause.Until);
        rig.Clock.Advance(TimeSpan.FromMinutes(1));
        pause.Expire();

        Assert.Null(pause.Until);
        Assert.Equal(PauseEndReason.Expired.Code(), Assert.Single(Records(AuditType.PrivacyResumed)).Reason);
        Assert.Equal("1", unit.Brightness(StatusLight.RedLabel));
        Assert.Equal("on", unit.Timeline.Snapshot().Last(e => e.Part == Parts.Red).State);
        Assert.Equal(StartOutcome.Started, unit.Sessions.TryStart(UnitUnderTest.Request()));
    }

    [Fact]
    public async Task A_second_press_ends_the_pause_and_each_start_and_end_is_audited_with_its_event()
    {
        await PlanAsync();
        var raised = new List<DeviceEvent>();
        unit.Events.Raised += e => { lock (raised) raised.Add(e); };

        pause.Press();
        rig.Clock.Advance(TimeSpan.FromMinutes(5));
        pause.Press();

        Assert.Null(pause.Until);
        Assert.Equal([AuditType.PrivacyPaused, AuditType.PrivacyResumed],
            unit.Audit.List().Where(r => r.Type is AuditType.PrivacyPaused or AuditType.PrivacyResumed).Select(r => r.Type));
        Assert.Equal(PauseEndReason.Press.Code(), Records(AuditType.PrivacyResumed)[0].Reason);
        lock (raised)
        {
            Assert.Equal([EventType.PrivacyPaused, EventType.PrivacyResumed], raised.Select(e => e.Type));
        }
        Assert.Equal("1", unit.Brightness(StatusLight.RedLabel));
        Assert.Equal(StartOutcome.Started, unit.Sessions.TryStart(UnitUnderTest.Request()));
    }

    [Fact]
    public async Task Without_privacyPause_in_the_care_plan_a_press_only_flickers_the_light()
    {
        await PlanAsync(pauseMinutes: null);

        pause.Press();

        Assert.Null(pause.Until);
        Assert.Empty(Records(AuditType.PrivacyPaused));
        Assert.StartsWith("blink refused", unit.Timeline.Snapshot().Last(e => e.Part == Parts.Red).State);
        await Eventually.True(() => unit.Timeline.Snapshot().Last(e => e.Part == Parts.Red).State == "on", "steady red after the flicker");
        Assert.Equal("1", unit.Brightness(StatusLight.RedLabel));
        TimelineAssert.GreenWheneverCapturing(unit.Timeline.Snapshot());
        Assert.Equal(StartOutcome.Started, unit.Sessions.TryStart(UnitUnderTest.Request()));
    }

    [Fact]
    public async Task A_pause_goes_on_after_a_restart_and_one_that_ran_out_meanwhile_is_ended()
    {
        await PlanAsync(pauseMinutes: 30);
        pause.Press();

        var restarted = new SessionMachine(unit.Hardware, unit.Audit, unit.Events, TimeProvider.System, NullLogger<SessionMachine>.Instance);
        Pause(restarted).Restore();
        Assert.Equal(StartOutcome.Paused, restarted.TryStart(UnitUnderTest.Request()));

        rig.Clock.Advance(TimeSpan.FromMinutes(31));
        var later = new SessionMachine(unit.Hardware, unit.Audit, unit.Events, TimeProvider.System, NullLogger<SessionMachine>.Instance);
        var again = Pause(later);
        again.Restore();

        Assert.Null(again.Until);
        Assert.Equal(PauseEndReason.Expired.Code(), Assert.Single(Records(AuditType.PrivacyResumed)).Reason);
        Assert.Equal(StartOutcome.Started, later.TryStart(UnitUnderTest.Request()));
        await later.StopAsync(EndReason.AgentStopping);
    }

    [Fact]
    public async Task Every_grant_in_the_pause_is_refused_privacy_paused_whatever_else_it_breaks()
    {
        await PlanAsync();
        rig.Pause.Press();

        var planned = await rig.Authorizer.AuthorizeAsync(rig.Grant(SessionKinds.Scheduled, "c1")); // 22:30: inside c1's window
        var unplanned = await rig.Authorizer.AuthorizeAsync(rig.Grant(SessionKinds.FollowUp, "c1")); // no scheduled look to follow

        Assert.Equal((RefusalReason.PrivacyPaused, RefusalReason.PrivacyPaused), (planned.Reason, unplanned.Reason));
        rig.Pause.Press();
        Assert.True((await rig.Authorizer.AuthorizeAsync(rig.Grant(SessionKinds.Scheduled, "c1"))).Accepted);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(480, true)]
    [InlineData(481, false)]
    public void A_care_plan_pause_length_outside_1_to_480_minutes_makes_the_plan_malformed(int minutes, bool valid)
    {
        var plan = CarePlan.From(GrantRig.Plan() with { PrivacyPause = new PrivacyPauseRule(minutes) });

        Assert.Equal(valid, plan is not null);
        Assert.Equal(valid ? TimeSpan.FromMinutes(minutes) : null, plan?.PrivacyPause);
    }

    [Fact]
    public void A_button_line_outside_the_chip_is_refused_by_the_configuration_check()
    {
        var options = new AgentOptions { Hardware = new HardwareOptions { Root = unit.Kernel.Files.Root, ButtonPin = 99 } };

        Assert.Contains(options.ValidateHardware(), p => p.StartsWith("Hardware:ButtonChip/ButtonPin", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_simulated_button_is_read_through_System_Device_Gpio_and_each_press_counts_once()
    {
        var presses = 0;
        using var button = new PrivacyButton(
            new GpioController(new SimulatedGpioDriver(unit.Kernel.Files, new Dictionary<int, string> { [27] = SimulatedKernel.PrivacyButtonFile })),
            27, unit.Timeline);
        button.Pressed += () => Interlocked.Increment(ref presses);

        for (var n = 1; n <= 2; n++)
        {
            unit.Kernel.SetPrivacyButton(true);
            await Eventually.True(() => Volatile.Read(ref presses) == n, $"press {n}");
            unit.Kernel.SetPrivacyButton(false);
            // Released for longer than the debounce time, or the next press would count as contact bounce.
            await Eventually.True(() => unit.Timeline.Snapshot().Where(e => e.Part == Parts.Button && e.State == "released").ToList() is { } released
                && released.Count == n && HardwareTimeline.Now() - released[^1].Nanoseconds > 2 * PrivacyButton.Debounce.TotalNanoseconds, $"release {n}");
        }

        Assert.Equal(2, presses);
        Assert.Equal(["pressed", "released", "pressed", "released"], unit.Timeline.Snapshot().Where(e => e.Part == Parts.Button).Select(e => e.State));
    }
}
