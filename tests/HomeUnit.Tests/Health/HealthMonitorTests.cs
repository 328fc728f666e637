using HomeUnit.TestSupport;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Session;
using HomeUnit.Drivers;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;

namespace HomeUnit.Tests.Health;

/// <summary>P7 on the simulated tree: each fault gives its event, the right readiness, and never leaves the camera on.</summary>
public sealed class HealthMonitorTests
{
    public enum Breakage { MainsOff, Undervoltage, VideoDeviceRemoved, ClockUnsynced, StateDirectoryReadOnly, LedNotWritable, ServoNotWritable }

    private static IDisposable? Break(UnitUnderTest unit, Breakage breakage)
    {
        switch (breakage)
        {
            case Breakage.MainsOff: unit.Kernel.SetMains(false); return null;
            case Breakage.Undervoltage: unit.Kernel.SetUndervoltage(true); return null;
            case Breakage.VideoDeviceRemoved: unit.Kernel.SetCameraPresent(false); return null;
            case Breakage.ClockUnsynced: unit.Kernel.SetClockSynchronized(false); return null;
            case Breakage.StateDirectoryReadOnly: return new Immutable(unit.StateDirectory);
            case Breakage.LedNotWritable: return new Immutable(unit.Kernel.Files.PathOf("sys/class/leds/homeunit-green/brightness"));
            default: return new Immutable(unit.Kernel.Files.PathOf("sys/class/pwm/pwmchip0/pwm0/enable"));
        }
    }

    [Theory]
    [InlineData(Breakage.MainsOff, EventType.PowerLost, "power")]
    [InlineData(Breakage.Undervoltage, EventType.PowerUndervoltage, "power")]
    [InlineData(Breakage.VideoDeviceRemoved, EventType.CameraFault, "camera")]
    [InlineData(Breakage.ClockUnsynced, EventType.ClockUnsynced, "clock")]
    // With storage gone the event cannot be stored for sending: the fault travels in the retained status.
    [InlineData(Breakage.StateDirectoryReadOnly, null, "storage")]
    [InlineData(Breakage.LedNotWritable, EventType.LightFault, "lights")]
    [InlineData(Breakage.ServoNotWritable, EventType.ServoFault, "servo")]
    public async Task A_fault_gives_its_event_within_two_seconds_readiness_false_and_no_camera_left_on(Breakage breakage, EventType? expectedEvent, string failedPart)
    {
        using var unit = new UnitUnderTest();
        var raised = new List<DeviceEvent>();
        unit.Events.Raised += e => { lock (raised) raised.Add(e); };
        await unit.Hardware.DriveSafeStateAsync();
        await unit.Monitor.StartAsync(CancellationToken.None);
        var before = await unit.SelfTest.RunAsync(CancellationToken.None);
        Assert.True(before.Ready, string.Join("; ", before.Parts));
        Assert.Equal(StartOutcome.Started, unit.Sessions.TryStart(await unit.RequestAsync(TimeSpan.FromSeconds(120))));
        await Eventually.True(() => unit.Sessions.State == SessionState.Live, "the look to go live");

        using (Break(unit, breakage))
        {
            if (expectedEvent is null)
            {
                await Eventually.True(() => unit.Health.Faults.Contains(UnitFault.Storage), "the storage fault", TimeSpan.FromSeconds(2));
            }
            else
            {
                var seen = await Eventually.Until(() => { lock (raised) return raised.FirstOrDefault(e => e.Type == expectedEvent); },
                    expectedEvent.Value.Code(), TimeSpan.FromSeconds(2));
                Assert.NotEqual(Severity.Info, seen.Severity);
            }
            Assert.False(unit.Health.Ready);

            var readiness = await unit.SelfTest.RunAsync(CancellationToken.None);
            Assert.False(readiness.Ready);
            Assert.NotEqual("ok", readiness.Parts[failedPart]);

            var fault = unit.Health.Faults.Single(f => f != UnitFault.SelfTest);
            if (Faults.EndsLook(fault) is { } ends)
            {
                // The fault alone ends the 120 s look (lens up, red), recorded with the fault as its reason.
                await unit.Sessions.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30));
                if (breakage != Breakage.StateDirectoryReadOnly)
                {
                    Assert.Equal(ends.Code(), unit.Audit.List().Single(r => r.Type == AuditType.SessionAborted).Reason);
                }
            }
            else
            {
                // On battery, undervoltage or an unsynced clock the look in progress goes on; the next is refused.
                Assert.Equal(SessionState.Live, unit.Sessions.State);
                await unit.Sessions.StopAsync(EndReason.Stopped);
            }
        }

        var timeline = unit.Timeline.Snapshot();
        TimelineAssert.GreenWheneverCapturing(timeline);
        // Capture is off at the end: the look's, or the self-test's if it ran once the fault had ended the look.
        Assert.Matches("^(selftest )?off", timeline.Last(e => e.Part == Parts.Capture).State);
        Assert.Equal("1", unit.Brightness(StatusLight.RedLabel));
    }

    [Fact]
    public async Task A_fault_that_makes_the_camera_untrustworthy_ends_the_look_at_once_while_power_loss_does_not()
    {
        using var unit = new UnitUnderTest();
        await unit.Monitor.StartAsync(CancellationToken.None);
        unit.Sessions.TryStart(await unit.RequestAsync(TimeSpan.FromSeconds(120)));
        await Eventually.True(() => unit.Sessions.State == SessionState.Live, "the look to go live");

        unit.Kernel.SetMains(false);
        await Eventually.True(() => unit.Health.Faults.Contains(UnitFault.PowerLost), "the power loss to be seen");
        Assert.Equal(SessionState.Live, unit.Sessions.State);

        unit.Kernel.SetCameraPresent(false);
        await unit.Sessions.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30));

        var aborted = unit.Audit.List().Single(r => r.Type == AuditType.SessionAborted);
        Assert.Equal(EndReason.CameraFault.Code(), aborted.Reason);
        Assert.Contains("video0 is missing", aborted.Detail);
    }

    [Fact]
    public async Task A_camera_fault_seen_by_health_during_a_look_raises_camera_fault_once()
    {
        using var unit = new UnitUnderTest();
        var raised = new List<EventType>();
        unit.Events.Raised += e => { lock (raised) raised.Add(e.Type); };
        unit.Sessions.TryStart(await unit.RequestAsync(TimeSpan.FromSeconds(120)));
        await Eventually.True(() => unit.Sessions.State == SessionState.Live, "the look to go live");

        unit.Kernel.SetCameraPresent(false);
        unit.Monitor.CheckOnce();
        await unit.Sessions.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30));
        unit.Monitor.CheckOnce();

        lock (raised)
        {
            Assert.Equal(1, raised.Count(t => t == EventType.CameraFault));
            Assert.Equal(1, raised.Count(t => t == EventType.SessionAborted));
        }
        Assert.Single(unit.Outbox.Peek(1000), item => item.Topic == Topics.Event && item.Payload.Contains("\"camera.fault\""));
    }

    [Fact]
    public async Task A_cleared_fault_raises_its_restore_event_and_the_unit_is_ready_again()
    {
        using var unit = new UnitUnderTest();
        var raised = new List<EventType>();
        unit.Events.Raised += e => { lock (raised) raised.Add(e.Type); };
        await unit.Monitor.StartAsync(CancellationToken.None);
        unit.Kernel.SetMains(false);
        await Eventually.True(() => { lock (raised) return raised.Contains(EventType.PowerLost); }, "power.lost");

        unit.Kernel.SetMains(true);

        await Eventually.True(() => { lock (raised) return raised.Contains(EventType.PowerRestored); }, "power.restored");
        Assert.True(unit.Health.Ready);
        Assert.True((await unit.SelfTest.RunAsync(CancellationToken.None)).Ready);
    }

    [Fact]
    public async Task A_garbage_power_file_is_a_fault_not_a_crash()
    {
        using var unit = new UnitUnderTest();
        File.WriteAllText(unit.Kernel.Files.PathOf("sys/class/power_supply/mains/online"), "??");
        unit.Monitor.CheckOnce();
        Assert.Contains("not 0 or 1", unit.Health.Detail(UnitFault.PowerLost));
        Assert.False((await unit.SelfTest.RunAsync(CancellationToken.None)).Ready);
    }

    /// <summary>Every file of the kernel tree with its contents and time of last write.</summary>
    private static Dictionary<string, (string, DateTime)> Snapshot(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(path => path, path => new FileInfo(path).LinkTarget is { } target
                ? ($"-> {target}", default)
                : (File.ReadAllText(path), File.GetLastWriteTimeUtc(path)));

    [Fact]
    public void A_reading_changes_nothing_and_never_exports_the_pwm_channel()
    {
        using var unit = new UnitUnderTest();
        var before = Snapshot(unit.Kernel.Files.Root);

        var reading = unit.Readings.ReadAll();

        Assert.Null(reading[UnitFault.Servo]);
        Assert.Equal(before, Snapshot(unit.Kernel.Files.Root));
        Assert.False(unit.Kernel.Files.Exists("sys/class/pwm/pwmchip0/pwm0"));

        // Before its first move, a channel that could not be exported is already a servo fault.
        using (new Immutable(unit.Kernel.Files.PathOf("sys/class/pwm/pwmchip0/export")))
        {
            Assert.Contains("export is not writable", unit.Readings.ReadAll()[UnitFault.Servo]);
        }
        Assert.False(unit.Kernel.Files.Exists("sys/class/pwm/pwmchip0/pwm0"));
    }
}
