using System.Security.Cryptography;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;
using HomeUnit.Central;
using HomeUnit.TestSupport;

namespace HomeUnit.Simulator;

/// <summary>
/// <c>homeunit-sim demo --handover</c>: the unit trusts the municipality's alarm centre (primary)
/// and a standby centre. The standby's grant is refused while the primary is in charge; the primary
/// hands supervision over and goes away; the standby performs a check (its look is audited under its
/// own issuer); the primary comes back and takes supervision back.
/// </summary>
public static class HandoverDemo
{
    public const string StandbyIssuer = "supplier-larm";
    public const string StandbyKid = "supplier-1";

    public static async Task<int> RunAsync(int lookSeconds, CancellationToken cancellationToken)
    {
        Demo.Say("central", "starting a local broker and a unit that trusts two centres: the primary and a standby");
        await using var central = await SimulatedCentral.StartAsync("sim-unit-1", NullLogger.Instance);
        using var standbyKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        File.WriteAllText(Path.Combine(central.TrustDirectory, StandbyKid + ".pem"), standbyKey.ExportSubjectPublicKeyInfoPem());
        var standby = new CentralSigner(standbyKey, StandbyKid, StandbyIssuer);
        var primary = central.Signer;
        var watch = new Watch(central.DeviceId, json: false, Console.Out);
        central.Client.Received += message => watch.Show(message.Topic, message.Payload);
        var unit = central.StartUnit(
            $"Trust:Centrals:0:Issuer={primary.Issuer}", "Trust:Centrals:0:Role=primary", $"Trust:Centrals:0:Keys:0={SimulatedCentral.Kid}",
            $"Trust:Centrals:1:Issuer={StandbyIssuer}", "Trust:Centrals:1:Role=standby", $"Trust:Centrals:1:Keys:0={StandbyKid}");
        unit.Line += Demo.Narrate;
        return await Demo.UntilDoneAsync(HandOverAndBackAsync(central, unit, primary, standby, lookSeconds), unit, cancellationToken);
    }

    private static async Task<int> HandOverAndBackAsync(SimulatedCentral central, AgentProcess unit, CentralSigner primary, CentralSigner standby, int lookSeconds)
    {
        await central.WaitForStatusAsync("online", TimeSpan.FromSeconds(90));
        var at = await central.PublishCarePlanAsync();
        Demo.Say("primary", $"care plan v1 published: check c1 at {at} Europe/Stockholm ±15 min");
        await central.WaitForAuditAsync(AuditType.CarePlanApplied);
        await using var receiver = await SrtReceiver.StartAsync(SimulatedCentral.Passphrase);

        Demo.Say("standby", "tries a look before anyone handed over (as a test of the set-up)");
        var early = await PublishGrantAsync(central, standby, receiver, lookSeconds);
        await central.WaitForAuditAsync(AuditType.SessionRefused, early);

        var until = DateTimeOffset.UtcNow.AddHours(1);
        Demo.Say("primary", $"must evacuate: hands supervision to {StandbyIssuer} until {Wire.Time(until)}, then goes away");
        await central.Client.PublishAsync(central.Topic(Topics.Command), primary.Handover(central.DeviceId, StandbyIssuer, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), until));
        await central.WaitForAuditAsync(AuditType.HandoverStarted);

        Demo.Say("standby", $"operator standby-operator-3 looks in for check c1, {lookSeconds} s");
        var look = await PublishGrantAsync(central, standby, receiver, lookSeconds);
        await central.WaitForAuditAsync(AuditType.SessionEnded, look, TimeSpan.FromSeconds(lookSeconds + 60));
        await Task.Delay(500);
        Demo.Say("receiver", $"the standby's look is over: {receiver.Frames} frames were seen, none stored");

        Demo.Say("primary", "is back: takes supervision back");
        await central.Client.PublishAsync(central.Topic(Topics.Command), primary.Handover(central.DeviceId, primary.Issuer, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1)));
        await central.WaitForAuditAsync(AuditType.HandoverEnded);

        unit.Terminate();
        await central.WaitForStatusAsync("offline", TimeSpan.FromSeconds(30));
        var broken = AuditChain.Verify(central.AuditRecords);
        var standbyLooks = central.AuditRecords.Count(r => r.Type == AuditType.SessionEnded && r.Issuer == StandbyIssuer);
        Demo.Say("central", broken is null
            ? $"audit chain verified: {central.AuditRecords.Count} records, intact; {standbyLooks} look by {StandbyIssuer}"
            : $"audit chain BROKEN: {broken}");
        return broken is null && standbyLooks == 1 ? ExitCodes.Ok : ExitCodes.Failed;
    }

    private static async Task<string> PublishGrantAsync(SimulatedCentral central, CentralSigner signer, SrtReceiver receiver, int seconds)
    {
        var jti = Guid.NewGuid().ToString();
        var now = DateTimeOffset.UtcNow;
        var grant = signer.Grant(new GrantSpec(central.DeviceId, "standby-operator-3", SessionKinds.Scheduled, Views.Bed, now.AddSeconds(-5), TimeSpan.FromMinutes(2), seconds,
            new StreamPayload(receiver.Url, "look-" + jti[..8], SimulatedCentral.Passphrase), "c1", jti), now);
        await central.Client.PublishAsync(central.Topic(Topics.Grant), grant);
        return jti;
    }
}
