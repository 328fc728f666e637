using HomeUnit.Central;
using HomeUnit.TestSupport;
using HomeUnit.Drivers;
using HomeUnit.Protocol;
using HomeUnit.Tests.Contract;
using HomeUnit.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HomeUnit.Tests.EndToEnd;

/// <summary>
/// The whole chain on one machine, with <c>homeunit-central</c> as the central: a real mosquitto over mTLS, care
/// plans, grants and commands signed and published by its verbs, its <c>watch --json</c> as the central's ears
/// (checking the audit chain as records arrive) and its <c>receive</c> as the media gateway; the real
/// <c>homeunit run --simulate</c> process; ffmpeg streaming the test pattern over encrypted SRT. Promises are read
/// from the unit's hardware timeline file, not from its logs, and everything the unit published is held against
/// docs/schemas.
/// </summary>
public sealed class LookEndToEndTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TestLog log = new(output);
    private SimulatedCentral central = null!;
    private CentralTool tool = null!;
    private WatchProcess watch = null!;

    public async Task InitializeAsync()
    {
        central = await SimulatedCentral.StartAsync("unit-e2e", log.For<SimulatedCentral>());
        tool = new CentralTool(central);
        watch = await tool.StartWatchAsync();
    }

    public async Task DisposeAsync()
    {
        if (central.Agent is { } agent)
        {
            output.WriteLine(agent.Output);
        }
        var chainIntact = await watch.StopAsync();
        output.WriteLine(watch.Process.Output);
        var seen = watch.Messages;
        watch.Dispose();
        await central.DisposeAsync();
        // Everything the unit published in the test, held against docs/schemas: the contract cannot drift from the code.
        ContractSchemas.AssertPublishedMatch(seen);
        Assert.True(chainIntact == ExitCodes.Ok, "the watch found the audit chain broken or incomplete");
    }

    private IReadOnlyList<TimelineEntry> Timeline() => HardwareTimeline.ReadFile(Path.Combine(central.StateDirectory, "timeline.jsonl"));

    private string Kernel(string relative) => File.ReadAllText(Path.Combine(central.KernelRoot, relative)).Trim();

    private async Task StartPlannedUnitAsync()
    {
        central.StartUnit();
        await watch.WaitForStatusAsync("online", TimeSpan.FromSeconds(90));
        await tool.PublishCarePlanAsync();
        await watch.WaitForAuditAsync(AuditType.CarePlanApplied);
    }

    [Fact]
    public async Task A_signed_grant_for_a_planned_check_gives_a_look_the_receiver_sees_and_a_verifiable_audit_trail()
    {
        await StartPlannedUnitAsync();
        using var receiver = await CentralTool.StartReceiverAsync();

        var grant = await tool.PublishGrantAsync(receiver.Url, maxSeconds: 3);

        var ended = await watch.WaitForAuditAsync(AuditType.SessionEnded, grant, TimeSpan.FromSeconds(60));
        Assert.Equal("completed", ended.Reason);
        Assert.Equal("operator-42", ended.Operator);
        Assert.InRange(ended.DurationMs!.Value, 2_500, 30_000);
        var stream = await receiver.WaitForEndAsync();
        Assert.Equal(ExitCodes.Ok, await receiver.ExitedAsync());
        Assert.True(stream["frames"]!.GetValue<int>() > 10, $"only {stream["frames"]} frames reached the receiver");
        Assert.Equal((640, 480), (stream["width"]!.GetValue<int>(), stream["height"]!.GetValue<int>()));
        var trail = watch.AuditRecords.Where(r => r.Grant == grant).Select(r => r.Type);
        Assert.Equal([AuditType.SessionAccepted, AuditType.SessionStarted, AuditType.SessionEnded], trail);
        Assert.Null(AuditChain.Verify(watch.AuditRecords));
        Assert.DoesNotContain(SimulatedCentral.Passphrase, watch.Process.StandardOutput);

        var timeline = Timeline();
        TimelineAssert.GreenWheneverCapturing(timeline);
        var captureOn = TimelineAssert.IndexOf(timeline, Parts.Capture, "on");
        Assert.True(TimelineAssert.IndexOf(timeline, Parts.Green, "on") < captureOn);
        Assert.True(TimelineAssert.IndexOf(timeline, Parts.Red, "on", TimelineAssert.IndexOf(timeline, Parts.Capture, "off")) > 0);
        Assert.Equal("lens-up pwm-off", timeline.Last(e => e.Part == Parts.Servo).State);
    }

    [Fact]
    public async Task A_grant_signed_by_an_unknown_key_leaves_only_a_refusal_record_and_the_camera_off()
    {
        await StartPlannedUnitAsync();
        using var receiver = await CentralTool.StartReceiverAsync();
        using var keys = new TempDirectory();
        // A key pair made by the tool as a real central would, but one the unit was never given, under the trusted kid.
        Assert.Equal(0, (await CentralTool.RunAsync("keys", "new", "--kid", "stranger", "--out", keys.Path)).ExitCode);

        await tool.PublishGrantAsync(receiver.Url, maxSeconds: 30, key: keys.Combine("stranger.key"));

        var refused = await watch.WaitForAuditAsync(AuditType.SessionRefused);
        Assert.Equal(RefusalReason.BadSignature.Code(), refused.Reason);
        Assert.Null(refused.Operator);
        Assert.DoesNotContain(Timeline(), e => e.Part == Parts.Capture);
        Assert.Equal("1", Kernel("sys/class/leds/homeunit-red/brightness"));
        Assert.Equal(0, receiver.Frames);
    }

    [Fact]
    public async Task Killing_the_agent_mid_look_kills_the_capture_within_a_second_and_the_next_start_records_the_look_as_aborted()
    {
        await StartPlannedUnitAsync();
        using var receiver = await CentralTool.StartReceiverAsync();
        var grant = await tool.PublishGrantAsync(receiver.Url, maxSeconds: 60);
        await watch.WaitForAuditAsync(AuditType.SessionStarted, grant, TimeSpan.FromSeconds(60));
        var captureOn = Timeline().Last(e => e.Part == Parts.Capture && e.State.StartsWith("on pid=", StringComparison.Ordinal));
        var capturePid = int.Parse(captureOn.State["on pid=".Length..]);
        Assert.True(AgentProcess.IsAlive(capturePid));

        central.Agent!.KillHard();

        await Eventually.True(() => !AgentProcess.IsAlive(capturePid), "the capture process to die with the agent", TimeSpan.FromSeconds(1));
        await watch.WaitForStatusAsync("offline");

        central.StartUnit();

        var aborted = await watch.WaitForAuditAsync(AuditType.SessionAborted, grant, TimeSpan.FromSeconds(90));
        Assert.Equal("agent-died", aborted.Reason);
        Assert.Equal("1", Kernel("sys/class/leds/homeunit-red/brightness"));
        Assert.Equal("0", Kernel("sys/class/leds/homeunit-green/brightness"));
        Assert.Equal("0", Kernel("sys/class/leds/homeunit-ir/brightness"));
        Assert.Equal("0", Kernel("sys/class/pwm/pwmchip0/pwm0/enable"));
        Assert.Null(AuditChain.Verify(watch.AuditRecords));
    }

    [Fact]
    public async Task A_power_cut_is_reported_at_once_and_a_selftest_then_says_send_staff()
    {
        await StartPlannedUnitAsync();

        central.SetKernelFile("sys/class/power_supply/mains/online", "0");

        var lost = await watch.WaitForEventAsync(EventType.PowerLost);
        Assert.Equal(Severity.Critical.Code(), lost["severity"]!.GetValue<string>());
        await tool.PublishCommandAsync(CommandNames.SelfTest);
        var readiness = await watch.WaitForEventAsync(EventType.Readiness);
        Assert.False(readiness["data"]!["ready"]!.GetValue<bool>());
        Assert.NotEqual("ok", readiness["data"]!["parts"]!["power"]!.GetValue<string>());
        var status = await watch.WaitForStatusAsync(m => m["faults"]!.AsArray().Any(f => f!.GetValue<string>() == "power"), "power in the status faults");
        Assert.False(status["ready"]!.GetValue<bool>());
        Assert.Contains(watch.Lines, l => l["note"]!.GetValue<string>().Contains("send staff", StringComparison.Ordinal));
    }
}
