using System.Text.Json;
using HomeUnit.Central;
using HomeUnit.Agent;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Ledger;
using HomeUnit.Agent.Link;
using HomeUnit.TestSupport;
using HomeUnit.Mqtt;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace HomeUnit.Tests.Ledger;

/// <summary>The ledger with the real link and outbox against a real broker that goes away while a check's window closes.</summary>
public sealed class LedgerOutageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TestLog log = new(output);
    private LocalBroker broker = null!;

    public async Task InitializeAsync() => broker = await LocalBroker.LaunchAsync();

    public async Task DisposeAsync()
    {
        output.WriteLine(broker.Log);
        await broker.DisposeAsync();
    }

    [Fact]
    public async Task A_check_missed_during_a_link_outage_is_recorded_at_once_and_reaches_the_central_when_the_link_returns()
    {
        using var rig = new GrantRig(new DateTimeOffset(2026, 11, 22, 21, 0, 0, TimeSpan.Zero)); // 22:00 CET
        var events = new Events(rig.Database, rig.Clock, NullLogger<Events>.Instance);
        var health = new HealthState();
        using var link = new LinkService(broker.ClientOptions(GrantRig.DeviceId), GrantRig.DeviceId, rig.Outbox, events, health, new LoopHeartbeats(), TimeProvider.System, log.Factory());
        // The unit's own reading of its conditions, on this link.
        var ledger = new NightLedger(rig.Audit, events, new ConditionLog(rig.Database), rig.Plans,
            () => AgentHost.UnitConditions(health, link, rig.Pause),
            () => null, new LoopHeartbeats(), rig.Clock, NullLogger<NightLedger>.Instance);
        await using var central = await CentralClient.ConnectAsync(broker.ClientOptions("central"), log.For<CentralClient>(), [$"homeunit/v1/{GrantRig.DeviceId}/#"]);
        await link.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.True(() => link.Status.State == LinkState.Online, "the link to be online");
            await rig.ApplyPlanAsync(GrantRig.Plan());
            ledger.RunDue();

            await broker.StopAsync();
            await Eventually.True(() => link.Status.State != LinkState.Online, "the link to notice the outage");
            rig.Clock.Set(new DateTimeOffset(2026, 11, 22, 21, 40, 0, TimeSpan.Zero)); // 22:40, c1's window open
            ledger.RunDue();
            rig.Clock.Set(new DateTimeOffset(2026, 11, 22, 21, 45, 0, TimeSpan.Zero)); // 22:45, it closes
            ledger.RunDue();

            var missed = Assert.Single(rig.AuditRecords(AuditType.CheckMissed));
            Assert.Equal("offline", missed.Reason);
            Assert.True(rig.Outbox.Count() >= 2, "the record and its event wait in the outbox");

            await broker.StartAsync();

            var alarm = await central.WaitForAsync(m => m.Topic.EndsWith("/event", StringComparison.Ordinal)
                && JsonDocument.Parse(m.Payload).RootElement.GetProperty("type").GetString() == EventType.CheckMissed.Code(), "check.missed at the central", TimeSpan.FromSeconds(60));
            var data = JsonDocument.Parse(alarm.Payload).RootElement;
            Assert.Equal(Severity.Critical.Code(), data.GetProperty("severity").GetString());
            Assert.Equal("c1", data.GetProperty("data").GetProperty("check").GetString());
            await central.WaitForAsync(m => m.Topic.EndsWith("/audit", StringComparison.Ordinal)
                && JsonSerializer.Deserialize<AuditRecord>(m.Payload, Wire.Json)!.Hash == missed.Hash, "the check.missed audit record at the central", TimeSpan.FromSeconds(60));
        }
        finally
        {
            await link.StopAsync(CancellationToken.None);
        }
    }
}
