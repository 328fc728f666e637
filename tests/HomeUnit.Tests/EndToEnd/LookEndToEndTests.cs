using System.Text.Json;
using HomeUnit.Central;
using HomeUnit.Central.Simulation;
using HomeUnit.Drivers;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HomeUnit.Tests.EndToEnd;

/// <summary>
/// The whole chain on one machine: a real mosquitto over mTLS, the central's signed care plan and grant,
/// the real <c>homeunit run --simulate</c> process, ffmpeg streaming the test pattern over encrypted SRT
/// to a real receiver, and the audit records coming back through the outbox. Promises are read from the
/// unit's hardware timeline file, not from its logs.
/// </summary>
public sealed class LookEndToEndTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TestLog log = new(output);
    private SimulatedCentral central = null!;

    public async Task InitializeAsync() => central = await SimulatedCentral.StartAsync("unit-e2e", log.For<SimulatedCentral>());

    public async Task DisposeAsync()
    {
        if (central.Agent is { } agent)
        {
            output.WriteLine(agent.Output);
        }
        await central.DisposeAsync();
    }

    private IReadOnlyList<TimelineEntry> Timeline() => HardwareTimeline.ReadFile(Path.Combine(central.StateDirectory, "timeline.jsonl"));

    private string Kernel(string relative) => File.ReadAllText(Path.Combine(central.KernelRoot, relative)).Trim();

    private async Task StartPlannedUnitAsync()
    {
        central.StartUnit();
        await central.WaitForStatusAsync("online", TimeSpan.FromSeconds(90));
        await central.PublishCarePlanAsync();
        await central.WaitForAuditAsync(AuditType.CarePlanApplied);
    }

    [Fact]
    public async Task A_signed_grant_for_a_planned_check_gives_a_look_the_receiver_sees_and_a_verifiable_audit_trail()
    {
        await StartPlannedUnitAsync();
        await using var receiver = await SrtReceiver.StartAsync(SimulatedCentral.Passphrase);

        var grant = await central.PublishGrantAsync(receiver, maxSeconds: 3);

        var ended = await central.WaitForAuditAsync(AuditType.SessionEnded, grant, TimeSpan.FromSeconds(60));
        Assert.Equal("completed", ended.Reason);
        Assert.Equal("operator-42", ended.Operator);
        Assert.InRange(ended.DurationMs!.Value, 2_500, 30_000);
        Assert.True(receiver.Frames > 10, $"only {receiver.Frames} frames reached the receiver");
        var trail = central.AuditRecords.Where(r => r.Grant == grant).Select(r => r.Type);
        Assert.Equal([AuditType.SessionAccepted, AuditType.SessionStarted, AuditType.SessionEnded], trail);
        Assert.Null(AuditChain.Verify(central.AuditRecords));
        Assert.DoesNotContain(central.Client.Messages, m => SimulatedCentral.Text(m).Contains(SimulatedCentral.Passphrase));

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
        await using var receiver = await SrtReceiver.StartAsync(SimulatedCentral.Passphrase);
        var (stranger, _) = CentralSigner.CreateKeyPair();
        var key = System.Security.Cryptography.ECDsa.Create();
        key.ImportFromPem(stranger);
        var forged = new CentralSigner(key, SimulatedCentral.Kid, CentralSigner.DefaultIssuer).Grant(
            new GrantSpec(central.DeviceId, "intruder", LookKinds.Scheduled, Views.Bed, DateTimeOffset.UtcNow.AddSeconds(-5), TimeSpan.FromMinutes(2), 30,
                new StreamPayload(receiver.Url, "x", SimulatedCentral.Passphrase), "c1"),
            DateTimeOffset.UtcNow);

        await central.Client.PublishAsync(central.Topic(Topics.Grant), forged);

        var refused = await central.WaitForAuditAsync(AuditType.SessionRefused);
        Assert.Equal(RefusalReason.BadSignature.Code(), refused.Reason);
        Assert.DoesNotContain(Timeline(), e => e.Part == Parts.Capture);
        Assert.Equal("1", Kernel("sys/class/leds/homeunit-red/brightness"));
        Assert.Equal(0, receiver.Frames);
    }

    [Fact]
    public async Task Killing_the_agent_mid_look_kills_the_capture_within_a_second_and_the_next_start_records_the_look_as_aborted()
    {
        await StartPlannedUnitAsync();
        await using var receiver = await SrtReceiver.StartAsync(SimulatedCentral.Passphrase);
        var grant = await central.PublishGrantAsync(receiver, maxSeconds: 60);
        await central.WaitForAuditAsync(AuditType.SessionStarted, grant, TimeSpan.FromSeconds(60));
        var captureOn = Timeline().Last(e => e.Part == Parts.Capture && e.State.StartsWith("on pid=", StringComparison.Ordinal));
        var capturePid = int.Parse(captureOn.State["on pid=".Length..]);
        Assert.True(AgentProcess.IsAlive(capturePid));

        central.Agent!.KillHard();

        await Eventually.True(() => !AgentProcess.IsAlive(capturePid), "the capture process to die with the agent", TimeSpan.FromSeconds(1));
        await central.Client.WaitForAsync(m => m.Topic == central.Topic(Topics.Status) && SimulatedCentral.Json(m).GetProperty("state").GetString() == "offline",
            "the will's offline status");

        central.StartUnit();

        var aborted = await central.WaitForAuditAsync(AuditType.SessionAborted, grant, TimeSpan.FromSeconds(90));
        Assert.Equal("agent-died", aborted.Reason);
        Assert.Equal("1", Kernel("sys/class/leds/homeunit-red/brightness"));
        Assert.Equal("0", Kernel("sys/class/leds/homeunit-green/brightness"));
        Assert.Equal("0", Kernel("sys/class/leds/homeunit-ir/brightness"));
        Assert.Equal("0", Kernel("sys/class/pwm/pwmchip0/pwm0/enable"));
        Assert.Null(AuditChain.Verify(central.AuditRecords));
    }

    [Fact]
    public async Task A_power_cut_is_reported_at_once_and_a_selftest_then_says_send_staff()
    {
        await StartPlannedUnitAsync();

        central.SetKernelFile("sys/class/power_supply/mains/online", "0");

        var lost = await central.WaitForEventAsync(EventType.PowerLost);
        Assert.Equal(Severity.Critical.Code(), SimulatedCentral.Json(lost).GetProperty("severity").GetString());
        await central.PublishCommandAsync(CommandNames.SelfTest);
        var readiness = SimulatedCentral.Json(await central.WaitForEventAsync(EventType.Readiness));
        Assert.False(readiness.GetProperty("data").GetProperty("ready").GetBoolean());
        Assert.NotEqual("ok", readiness.GetProperty("data").GetProperty("parts").GetProperty("power").GetString());
        var status = await central.Client.WaitForAsync(m => m.Topic == central.Topic(Topics.Status)
            && SimulatedCentral.Json(m).GetProperty("faults").EnumerateArray().Any(f => f.GetString() == "power"), "power in the status faults");
        Assert.False(SimulatedCentral.Json(status).GetProperty("ready").GetBoolean());
    }
}
