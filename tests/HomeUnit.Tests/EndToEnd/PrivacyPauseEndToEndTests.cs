using HomeUnit.TestSupport;
using HomeUnit.Drivers;
using HomeUnit.Protocol;
using HomeUnit.Tests.Contract;
using HomeUnit.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HomeUnit.Tests.EndToEnd;

/// <summary>
/// The resident's pause through the whole chain: the button pressed on the simulated unit's GPIO file, the
/// real <c>homeunit run --simulate</c> process, the broker, and the central seeing the pause and the refusal.
/// </summary>
public sealed class PrivacyPauseEndToEndTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TestLog log = new(output);
    private SimulatedCentral central = null!;

    public async Task InitializeAsync() => central = await SimulatedCentral.StartAsync("unit-pause", log.For<SimulatedCentral>());

    public async Task DisposeAsync()
    {
        if (central.Agent is { } agent)
        {
            output.WriteLine(agent.Output);
        }
        var seen = central.Client.Messages.Select(m => (m.Topic, SimulatedCentral.Text(m))).ToList();
        await central.DisposeAsync();
        // Everything the unit published in the test, held against docs/schemas.
        ContractSchemas.AssertPublishedMatch(seen);
    }

    [Fact]
    public async Task A_press_pauses_the_camera_a_grant_in_the_pause_is_refused_and_a_second_press_resumes()
    {
        central.StartUnit();
        await central.WaitForStatusAsync("online", TimeSpan.FromSeconds(90));
        await central.PublishCarePlanAsync(privacyPauseMinutes: 20);
        await central.WaitForAuditAsync(AuditType.CarePlanApplied);

        await central.PressPrivacyButtonAsync();

        var paused = SimulatedCentral.Json(await central.WaitForEventAsync(EventType.PrivacyPaused, TimeSpan.FromSeconds(30)));
        var until = DateTimeOffset.Parse(paused.GetProperty("data").GetProperty("until").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(until - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(19), TimeSpan.FromMinutes(20));
        Assert.NotNull((await central.WaitForAuditAsync(AuditType.PrivacyPaused)).Until);

        var grant = await central.PublishGrantAsync("srt://127.0.0.1:9", maxSeconds: 5);
        var refused = await central.WaitForAuditAsync(AuditType.SessionRefused, grant, TimeSpan.FromSeconds(30));
        Assert.Equal(RefusalReason.PrivacyPaused.Code(), refused.Reason);

        await central.PressPrivacyButtonAsync();

        Assert.Equal("press", (await central.WaitForAuditAsync(AuditType.PrivacyResumed, timeout: TimeSpan.FromSeconds(30))).Reason);
        var timeline = HardwareTimeline.ReadFile(Path.Combine(central.StateDirectory, "timeline.jsonl"));
        TimelineAssert.GreenWheneverCapturing(timeline);
        Assert.DoesNotContain(timeline, e => e.Part == Parts.Green && e.State == "on");
        Assert.DoesNotContain(timeline, e => e.Part == Parts.Capture);
        Assert.Contains(timeline, e => e.Part == Parts.Red && e.State.StartsWith("blink paused", StringComparison.Ordinal));
        Assert.Equal("on", timeline.Last(e => e.Part == Parts.Red).State);
    }
}
