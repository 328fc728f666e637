using HomeUnit.Central;
using HomeUnit.TestSupport;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Session;
using HomeUnit.Agent.State;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.Tests.Session;

/// <summary>The session state machine on real drivers and real SQLite, judged from the hardware timeline.</summary>
public sealed class SessionMachineTests
{
    private static async Task RunLook(UnitUnderTest unit, SessionRequest request)
    {
        Assert.Equal(StartOutcome.Started, unit.Sessions.TryStart(request));
        await unit.Sessions.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Green_is_lit_before_capture_starts_and_red_only_after_capture_has_stopped()
    {
        using var unit = new UnitUnderTest();
        await RunLook(unit, await unit.RequestAsync());

        var timeline = unit.Timeline.Snapshot();
        var greenOn = TimelineAssert.IndexOf(timeline, Parts.Green, "on");
        var captureOn = TimelineAssert.IndexOf(timeline, Parts.Capture, "on");
        var captureOff = TimelineAssert.IndexOf(timeline, Parts.Capture, "off");
        var redOn = TimelineAssert.IndexOf(timeline, Parts.Red, "on", captureOn);
        Assert.True(greenOn >= 0 && captureOn > greenOn, "green must be lit before capture starts");
        Assert.True(timeline[captureOn].Nanoseconds > timeline[greenOn].Nanoseconds);
        Assert.True(captureOff > captureOn && redOn > captureOff, "red must come only after capture has stopped");
        Assert.True(timeline[redOn].Nanoseconds > timeline[captureOff].Nanoseconds);
        TimelineAssert.GreenWheneverCapturing(timeline);
        Assert.Equal("1", unit.Brightness(StatusLight.RedLabel));
        Assert.Equal("0", unit.Brightness(StatusLight.GreenLabel));
        Assert.True(unit.Receiver.Frames > 0, "the test pattern must have reached the receiver");
    }

    [Fact]
    public async Task Lens_is_up_with_pwm_disabled_whenever_idle()
    {
        using var unit = new UnitUnderTest();
        await RunLook(unit, await unit.RequestAsync(view: LensPosition.Room));

        var timeline = unit.Timeline.Snapshot();
        var servo = timeline.Where(e => e.Part == Parts.Servo).Select(e => e.State).ToList();
        Assert.Equal(["room pwm-on", "room pwm-off", "lens-up pwm-on", "lens-up pwm-off"], servo);
        // After capture stops the lens turns up before IR goes off and the light turns red.
        var captureOff = TimelineAssert.IndexOf(timeline, Parts.Capture, "off");
        Assert.True(TimelineAssert.IndexOf(timeline, Parts.Servo, "lens-up pwm-off") > captureOff);
        Assert.Equal("0", unit.Kernel.Files.Read("sys/class/pwm/pwmchip0/pwm0/enable"));
        Assert.Equal("600000", unit.Kernel.Files.Read("sys/class/pwm/pwmchip0/pwm0/duty_cycle"));
        Assert.Equal("0", unit.Brightness(IrLight.Label));
        Assert.Equal(SessionState.Idle, unit.Sessions.State);
    }

    [Fact]
    public async Task The_local_deadline_ends_a_look_without_any_message()
    {
        using var unit = new UnitUnderTest();
        Assert.Equal(StartOutcome.Started, unit.Sessions.TryStart(await unit.RequestAsync(TimeSpan.FromSeconds(1))));

        // Nobody sends stop: only the local timer can end it.
        await unit.Sessions.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30));

        var ended = unit.Audit.List().Single(r => r.Type == AuditType.SessionEnded);
        Assert.Equal(EndReason.Completed.Code(), ended.Reason);
        // Timers may fire a few milliseconds early against the wall clock; what matters is that the timer ended it.
        Assert.InRange(ended.DurationMs!.Value, 900, 20_000);
        var timeline = unit.Timeline.Snapshot();
        var streaming = timeline[TimelineAssert.IndexOf(timeline, Parts.Capture, "off")].Nanoseconds - timeline[TimelineAssert.IndexOf(timeline, Parts.Capture, "on")].Nanoseconds;
        Assert.True(streaming >= 900_000_000, $"capture ran {streaming} ns, far less than the 1 s granted");
    }

    [Fact]
    public async Task A_look_never_streams_past_its_grants_end_even_when_its_streaming_time_is_longer()
    {
        using var unit = new UnitUnderTest();
        var request = await unit.RequestAsync(TimeSpan.FromSeconds(60)) with { EndBy = DateTimeOffset.UtcNow.AddSeconds(2) };

        Assert.Equal(StartOutcome.Started, unit.Sessions.TryStart(request));
        await unit.Sessions.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30));

        var ended = unit.Audit.List().Single(r => r.Type == AuditType.SessionEnded);
        Assert.Equal(EndReason.Completed.Code(), ended.Reason);
        Assert.True(DateTimeOffset.Parse(ended.EndedAt!) < request.EndBy!.Value.AddSeconds(1), $"ended at {ended.EndedAt}, grant ended at {request.EndBy}");
    }

    [Fact]
    public async Task The_timeline_shows_the_look_ending_at_exp_not_at_maxSeconds()
    {
        using var unit = new UnitUnderTest();
        // exp 3 s away as the unit's clock reads it, maxSeconds 5: the local clock ends it at exp.
        var request = await unit.RequestAsync(TimeSpan.FromSeconds(5));
        var expMonotonic = HardwareTimeline.Now() + 3_000_000_000L;
        request = request with { EndBy = DateTimeOffset.UtcNow.AddSeconds(3) };

        Assert.Equal(StartOutcome.Started, unit.Sessions.TryStart(request));
        await unit.Sessions.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30));

        var timeline = unit.Timeline.Snapshot();
        var stopping = timeline[TimelineAssert.IndexOf(timeline, SessionMachine.TimelinePart, "stopping")];
        var captureOn = timeline[TimelineAssert.IndexOf(timeline, Parts.Capture, "on")];
        // The deadline timer fired at exp, not at capture start + 5 s (which lies after exp).
        Assert.True(captureOn.Nanoseconds + 5_000_000_000L > expMonotonic, "the look would have run past exp on maxSeconds alone");
        Assert.True(stopping.Nanoseconds >= expMonotonic - 50_000_000L, "the look ended before exp");
        Assert.True(stopping.Nanoseconds < captureOn.Nanoseconds + 5_000_000_000L, "the look ran its maxSeconds, past exp");
        TimelineAssert.GreenWheneverCapturing(timeline);
        Assert.Equal(EndReason.Completed.Code(), unit.Audit.List().Single(r => r.Type == AuditType.SessionEnded).Reason);
    }

    [Fact]
    public async Task A_look_whose_started_record_cannot_be_written_still_stops_capture_and_leaves_the_safe_state()
    {
        using var unit = new UnitUnderTest();
        Assert.Equal(StartOutcome.Started, unit.Sessions.TryStart(await unit.RequestAsync(TimeSpan.FromSeconds(60))));
        using (var connection = unit.Database.Open())
        {
            StateDatabase.Execute(connection, "DROP TABLE audit"); // storage fails between accepted and started
        }

        await unit.Sessions.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30));

        var timeline = unit.Timeline.Snapshot();
        TimelineAssert.GreenWheneverCapturing(timeline);
        Assert.Equal("off", timeline.Last(e => e.Part == Parts.Capture).State);
        Assert.Equal("lens-up pwm-off", timeline.Last(e => e.Part == Parts.Servo).State);
        Assert.Equal("1", unit.Brightness(StatusLight.RedLabel));
        Assert.Equal(SessionState.Idle, unit.Sessions.State);
    }

    [Fact]
    public async Task A_second_look_while_one_runs_is_refused_as_busy()
    {
        using var unit = new UnitUnderTest();
        var first = await unit.RequestAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(StartOutcome.Started, unit.Sessions.TryStart(first));

        Assert.Equal(StartOutcome.Busy, unit.Sessions.TryStart(UnitUnderTest.Request()));

        Assert.Equal(first, unit.Sessions.Current);
        Assert.Single(unit.Audit.List(), r => r.Type == AuditType.SessionAccepted);
        await unit.Sessions.StopAsync(EndReason.Stopped);
    }

    [Fact]
    public async Task A_stop_request_ends_the_look_and_is_recorded_as_stopped()
    {
        using var unit = new UnitUnderTest();
        var request = await unit.RequestAsync(TimeSpan.FromSeconds(60));
        unit.Sessions.TryStart(request);
        await Eventually.True(() => unit.Sessions.State == SessionState.Live, "the look to go live");

        Assert.False(unit.Sessions.RequestStop(EndReason.Stopped, "another-grant"));
        Assert.True(unit.Sessions.RequestStop(EndReason.Stopped, request.GrantId));
        await unit.Sessions.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30));

        var records = unit.Audit.List();
        Assert.Equal([AuditType.SessionAccepted, AuditType.SessionStarted, AuditType.SessionEnded], records.Select(r => r.Type));
        Assert.All(records, r => Assert.Equal(request.GrantId, r.Grant));
        Assert.All(records, r => Assert.Equal("operator-7", r.Operator));
        Assert.Equal(EndReason.Stopped.Code(), records[^1].Reason);
        Assert.NotNull(records[^1].StartedAt);
        Assert.NotNull(records[^1].EndedAt);
        Assert.Null(AuditChain.Verify(records));
        Assert.DoesNotContain(records, r => System.Text.Json.JsonSerializer.Serialize(r).Contains(request.Stream.Passphrase));
    }

    [Fact]
    public async Task Camera_that_cannot_start_aborts_the_look_and_leaves_the_safe_state()
    {
        using var unit = new UnitUnderTest(_ => new BrokenCamera(failOnStart: true));
        await RunLook(unit, UnitUnderTest.Request());

        var aborted = unit.Audit.List().Single(r => r.Type == AuditType.SessionAborted);
        Assert.Equal(EndReason.CameraFault.Code(), aborted.Reason);
        Assert.False(string.IsNullOrEmpty(aborted.Detail));
        Assert.DoesNotContain(unit.Audit.List(), r => r.Type == AuditType.SessionStarted);
        Assert.Equal("1", unit.Brightness(StatusLight.RedLabel));
        Assert.Equal("0", unit.Brightness(IrLight.Label));
        Assert.Equal("lens-up pwm-off", unit.Timeline.Snapshot().Last(e => e.Part == Parts.Servo).State);
    }

    [Fact]
    public async Task Capture_that_fails_during_a_look_ends_it_as_a_camera_fault()
    {
        using var unit = new UnitUnderTest(t => new BrokenCamera(failOnStart: false, t));
        await RunLook(unit, UnitUnderTest.Request(length: TimeSpan.FromSeconds(60)));

        var aborted = unit.Audit.List().Single(r => r.Type == AuditType.SessionAborted);
        Assert.Equal((EndReason.CameraFault.Code(), "receiver went away"), (aborted.Reason, aborted.Detail));
        Assert.Single(unit.Outbox.Peek(100), item => item.Topic == Topics.Event && item.Payload.Contains("\"camera.fault\""));
        TimelineAssert.GreenWheneverCapturing(unit.Timeline.Snapshot());
        Assert.Equal("1", unit.Brightness(StatusLight.RedLabel));
    }

    [Theory]
    [InlineData(false, "no SRT receiver answered")]
    [InlineData(true, "refused the passphrase")]
    public async Task A_look_whose_receiver_is_missing_or_refuses_it_ends_as_a_camera_fault_with_the_lens_up(bool wrongPassphrase, string reason)
    {
        using var unit = new UnitUnderTest();
        await using var stranger = wrongPassphrase ? await SrtReceiver.StartAsync("another-passphrase-entirely") : null;
        var request = UnitUnderTest.Request(stranger?.Url ?? $"srt://127.0.0.1:{SrtReceiver.FreeUdpPort()}", TimeSpan.FromSeconds(60));

        await RunLook(unit, request);

        var aborted = unit.Audit.List().Single(r => r.Type == AuditType.SessionAborted);
        Assert.Equal(EndReason.CameraFault.Code(), aborted.Reason);
        Assert.Contains(reason, aborted.Detail);
        Assert.DoesNotContain(UnitUnderTest.Passphrase, aborted.Detail);
        Assert.Equal("lens-up pwm-off", unit.Timeline.Snapshot().Last(e => e.Part == Parts.Servo).State);
        Assert.Equal("1", unit.Brightness(StatusLight.RedLabel));
        TimelineAssert.GreenWheneverCapturing(unit.Timeline.Snapshot());
    }

    [Fact]
    public void No_durable_audit_record_means_no_look()
    {
        using var unit = new UnitUnderTest();
        using (var connection = unit.Database.Open())
        {
            StateDatabase.Execute(connection, "DROP TABLE audit");
        }

        Assert.Equal(StartOutcome.AuditUnavailable, unit.Sessions.TryStart(UnitUnderTest.Request()));

        Assert.Equal(SessionState.Idle, unit.Sessions.State);
        Assert.Empty(unit.Timeline.Snapshot());
        Assert.Equal("0", unit.Brightness(StatusLight.GreenLabel));
    }

    [Fact]
    public async Task Pan_is_honoured_only_during_the_live_look_of_the_same_grant()
    {
        using var unit = new UnitUnderTest();
        var request = await unit.RequestAsync(TimeSpan.FromSeconds(60));
        Assert.False(unit.Sessions.RequestPan(request.GrantId, LensPosition.Room));
        unit.Sessions.TryStart(request);
        await Eventually.True(() => unit.Sessions.State == SessionState.Live, "the look to go live");

        Assert.False(unit.Sessions.RequestPan("someone-else", LensPosition.Room));
        Assert.False(unit.Sessions.RequestPan(request.GrantId, LensPosition.LensUp));
        Assert.True(unit.Sessions.RequestPan(request.GrantId, LensPosition.Room));
        await Eventually.True(() => unit.Timeline.Snapshot().Any(e => e.State == "room pwm-off"), "the lens to turn to the room");
        await unit.Sessions.StopAsync(EndReason.Stopped);

        Assert.Equal("lens-up pwm-off", unit.Timeline.Snapshot().Last(e => e.Part == Parts.Servo).State);
    }

    [Fact]
    public async Task A_look_interrupted_by_a_crash_is_recorded_as_aborted_and_the_hardware_made_safe_on_the_next_start()
    {
        using var unit = new UnitUnderTest();
        // What a crash leaves: an accepted record with no end, and the light still green.
        var request = UnitUnderTest.Request();
        unit.Audit.Append(new AuditRecord { Type = AuditType.SessionAccepted, Grant = request.GrantId, Operator = request.Operator });
        unit.Hardware.Light.ShowCameraOn();
        unit.Hardware.Ir.Set(true);

        var safety = new SafetyService(unit.Hardware, unit.Sessions, unit.Audit, unit.Events, NullLogger<SafetyService>.Instance);
        await safety.StartAsync(CancellationToken.None);

        var records = unit.Audit.List();
        var aborted = records.Single(r => r.Type == AuditType.SessionAborted);
        Assert.Equal(request.GrantId, aborted.Grant);
        Assert.Equal(EndReason.AgentDied.Code(), aborted.Reason);
        Assert.Equal(AuditType.AgentStarted, records[^1].Type);
        Assert.Empty(unit.Audit.OpenSessions());
        Assert.Equal("1", unit.Brightness(StatusLight.RedLabel));
        Assert.Equal("0", unit.Brightness(StatusLight.GreenLabel));
        Assert.Equal("0", unit.Brightness(IrLight.Label));
        Assert.Equal("0", unit.Kernel.Files.Read("sys/class/pwm/pwmchip0/pwm0/enable"));
        Assert.Equal("600000", unit.Kernel.Files.Read("sys/class/pwm/pwmchip0/pwm0/duty_cycle"));
    }

    /// <summary>A camera that fails, to drive the fault paths (the real camera's own failures are tested with ffmpeg).</summary>
    private sealed class BrokenCamera(bool failOnStart, HardwareTimeline? timeline = null) : ICamera
    {
        public Task<ICapture> StartAsync(StreamTarget target, CancellationToken cancellationToken)
        {
            if (failOnStart)
            {
                throw new HardwareFault("no video device");
            }
            timeline!.Record(Parts.Capture, "on");
            return Task.FromResult<ICapture>(new FailingCapture(timeline));
        }

        public Task<string?> CheckAsync(CancellationToken cancellationToken) => Task.FromResult<string?>("broken");

        private sealed class FailingCapture(HardwareTimeline timeline) : ICapture
        {
            public int ProcessId => 0;

            public Task<string> Failed { get; } = Task.Delay(300).ContinueWith(_ => "receiver went away");

            public Task StopAsync()
            {
                timeline.Record(Parts.Capture, "off");
                return Task.CompletedTask;
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
