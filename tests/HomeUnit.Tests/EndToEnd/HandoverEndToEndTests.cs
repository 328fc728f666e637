using System.Security.Cryptography;
using HomeUnit.Central;
using HomeUnit.Mqtt;
using HomeUnit.TestSupport;
using HomeUnit.Protocol;
using HomeUnit.Tests.Contract;
using HomeUnit.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HomeUnit.Tests.EndToEnd;

/// <summary>
/// A handover on the real <c>homeunit run --simulate</c> process over a real mosquitto: the unit trusts
/// the primary central and a standby, each with its own key, and is told by the primary who is in charge.
/// </summary>
public sealed class HandoverEndToEndTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string StandbyIssuer = "supplier-larm";
    private const string StandbyKid = "supplier-1";

    private readonly TestLog log = new(output);
    private readonly ECDsa standbyKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private SimulatedCentral central = null!;
    private CentralSigner standby = null!;

    public async Task InitializeAsync()
    {
        central = await SimulatedCentral.StartAsync("unit-handover", log.For<SimulatedCentral>());
        File.WriteAllText(Path.Combine(central.TrustDirectory, StandbyKid + ".pem"), standbyKey.ExportSubjectPublicKeyInfoPem());
        standby = new CentralSigner(standbyKey, StandbyKid, StandbyIssuer);
    }

    public async Task DisposeAsync()
    {
        if (central.Agent is { } agent)
        {
            output.WriteLine(agent.Output);
        }
        var seen = central.Client.Messages.Select(m => (m.Topic, SimulatedCentral.Text(m))).ToList();
        await central.DisposeAsync();
        standbyKey.Dispose();
        // Everything the unit published in the test, held against docs/schemas.
        ContractSchemas.AssertPublishedMatch(seen);
    }

    private Task PublishAsync(string topic, string token) => central.Client.PublishAsync(central.Topic(topic), token);

    private Task PublishStandbyGrantAsync(SrtReceiver receiver, string jti) => PublishAsync(Topics.Grant, standby.Grant(
        new GrantSpec(central.DeviceId, "standby-operator-3", SessionKinds.Scheduled, Views.Bed, DateTimeOffset.UtcNow.AddSeconds(-5), TimeSpan.FromMinutes(2), 2,
            new StreamPayload(receiver.Url, "look-" + jti[..8], SimulatedCentral.Passphrase), "c1", jti),
        DateTimeOffset.UtcNow));

    private Task<MqttMessage> WaitForCentralInChargeAsync(string issuer) =>
        central.Client.WaitForAsync(m => m.Topic == central.Topic(Topics.Status)
            && SimulatedCentral.Json(m).TryGetProperty("central", out var inCharge) && inCharge.GetString() == issuer, $"status naming {issuer} in charge");

    [Fact]
    public async Task The_standby_looks_only_after_the_primary_hands_over_and_not_after_the_primary_takes_back()
    {
        central.StartUnit(
            $"Trust:Centrals:0:Issuer={central.Signer.Issuer}", "Trust:Centrals:0:Role=primary", $"Trust:Centrals:0:Keys:0={SimulatedCentral.Kid}",
            $"Trust:Centrals:1:Issuer={StandbyIssuer}", "Trust:Centrals:1:Role=standby", $"Trust:Centrals:1:Keys:0={StandbyKid}");
        await central.WaitForStatusAsync("online", TimeSpan.FromSeconds(90));
        await WaitForCentralInChargeAsync(central.Signer.Issuer);
        await central.PublishCarePlanAsync();
        await central.WaitForAuditAsync(AuditType.CarePlanApplied);
        await using var receiver = await SrtReceiver.StartAsync(SimulatedCentral.Passphrase);

        var early = Guid.NewGuid().ToString();
        await PublishStandbyGrantAsync(receiver, early);
        var refused = await central.WaitForAuditAsync(AuditType.SessionRefused, early);
        Assert.Equal((RefusalReason.StandbyNotActive.Code(), StandbyIssuer), (refused.Reason, refused.Issuer));

        await PublishAsync(Topics.Command, central.Signer.Handover(central.DeviceId, StandbyIssuer, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1)));
        await central.WaitForEventAsync(EventType.HandoverStarted);
        await WaitForCentralInChargeAsync(StandbyIssuer);

        var look = Guid.NewGuid().ToString();
        await PublishStandbyGrantAsync(receiver, look);
        var ended = await central.WaitForAuditAsync(AuditType.SessionEnded, look, TimeSpan.FromSeconds(60));
        Assert.Equal("completed", ended.Reason);
        Assert.All(central.AuditRecords.Where(r => r.Grant == look), r => Assert.Equal(StandbyIssuer, r.Issuer));
        Assert.True(receiver.Frames > 0, "no frame of the standby's look reached its receiver");

        await PublishAsync(Topics.Command, central.Signer.Handover(central.DeviceId, central.Signer.Issuer, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1)));
        var back = await central.WaitForAuditAsync(AuditType.HandoverEnded);
        Assert.Equal("taken-back", back.Reason);
        await WaitForCentralInChargeAsync(central.Signer.Issuer);
        var late = Guid.NewGuid().ToString();
        await PublishStandbyGrantAsync(receiver, late);
        Assert.Equal(RefusalReason.StandbyNotActive.Code(), (await central.WaitForAuditAsync(AuditType.SessionRefused, late)).Reason);
        Assert.Null(AuditChain.Verify(central.AuditRecords));
    }
}
