using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using HomeUnit.Central;
using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.State;
using HomeUnit.TestSupport;
using HomeUnit.Drivers;
using HomeUnit.Mqtt;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HomeUnit.Tests.EndToEnd;

/// <summary>
/// The second path, on the real <c>homeunit run --simulate</c> process and two real mosquitto brokers of
/// the same central (one PKI): the first is killed during a look, the unit moves to the second after
/// <c>Mqtt:FailoverSeconds</c>, the look streams on to its own end, the first comes back and the unit
/// returns to it; the central, listening on both, gets every record once after de-duplication.
/// </summary>
public sealed class SecondPathTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string DeviceId = "unit-paths";
    private const string Kid = "central-paths";
    private const int FailoverSeconds = 5;
    private const int ReturnAfterSeconds = 5;

    private readonly TestLog log = new(output);
    private readonly TempDirectory directory = new();
    private readonly ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private LocalBroker first = null!;
    private LocalBroker second = null!;
    private CentralClient atFirst = null!;
    private CentralClient atSecond = null!;
    private AgentProcess? agent;

    private CentralSigner Signer => new(key, Kid, CentralSigner.DefaultIssuer);

    private static string Topic(string topic) => Topics.For(DeviceId, topic);

    public async Task InitializeAsync()
    {
        first = await LocalBroker.LaunchAsync();
        second = await LocalBroker.LaunchAsync(samePkiAs: first);
        string[] filters = [Topic(Topics.Status), Topic(Topics.Event), Topic(Topics.Audit)];
        atFirst = await CentralClient.ConnectAsync(first.ClientOptions(LocalBroker.CentralIdentity), log.For<CentralClient>(), filters);
        atSecond = await CentralClient.ConnectAsync(second.ClientOptions(LocalBroker.CentralIdentity), log.For<CentralClient>(), filters);
        Directory.CreateDirectory(directory.Combine("trust"));
        File.WriteAllText(directory.Combine("trust", Kid + ".pem"), key.ExportSubjectPublicKeyInfoPem());
    }

    public async Task DisposeAsync()
    {
        if (agent is not null)
        {
            output.WriteLine(agent.Output);
            agent.Dispose();
        }
        await atFirst.DisposeAsync();
        await atSecond.DisposeAsync();
        await second.DisposeAsync();
        await first.DisposeAsync();
        key.Dispose();
        directory.Dispose();
    }

    private AgentProcess StartUnit()
    {
        var tls = first.ClientOptions(DeviceId);
        string[] settings =
        [
            $"DeviceId={DeviceId}", $"State:Directory={directory.Combine("state")}", $"Hardware:Root={directory.Combine("state", "kernel")}",
            $"Trust:KeysDirectory={directory.Combine("trust")}",
            $"Mqtt:Brokers:0={LocalBroker.Host}:{first.Port}", $"Mqtt:Brokers:1={LocalBroker.Host}:{second.Port}",
            $"Mqtt:FailoverSeconds={FailoverSeconds}", $"Mqtt:ReturnAfterSeconds={ReturnAfterSeconds}",
            $"Mqtt:CaFile={tls.CaFile}", $"Mqtt:CertFile={tls.CertFile}", $"Mqtt:KeyFile={tls.KeyFile}",
            "Mqtt:ReconnectMaxSeconds=1", "Mqtt:KeepAliveSeconds=5",
        ];
        return AgentProcess.Start(["run", "--simulate", "--timeline", .. settings.SelectMany(s => new[] { "--set", s })]);
    }

    private static JsonElement Json(MqttMessage message) => JsonDocument.Parse(message.Payload).RootElement;

    /// <summary>A status published after <paramref name="after"/> (its <c>since</c>): an old retained one does not count.</summary>
    private static Task<MqttMessage> WaitForStatusAsync(CentralClient client, string state, LocalBroker? path, DateTimeOffset? after = null) =>
        client.WaitForAsync(m => m.Topic == Topic(Topics.Status)
            && Json(m).GetProperty("state").GetString() == state
            && (after is null || DateTimeOffset.Parse(Json(m).GetProperty("since").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > after)
            && (path is null || Json(m).GetProperty("path").GetString() == $"{LocalBroker.Host}:{path.Port}"),
            $"status {state}{(path is null ? "" : $" via {path.Port}")}", TimeSpan.FromSeconds(90));

    /// <summary>What the central keeps after de-duplication: audit records by hash, events by id.</summary>
    private IReadOnlyList<AuditRecord> AuditRecords() =>
        atFirst.Messages.Concat(atSecond.Messages).Where(m => m.Topic == Topic(Topics.Audit))
            .Select(m => JsonSerializer.Deserialize<AuditRecord>(m.Payload, Wire.Json)!)
            .DistinctBy(r => r.Hash).OrderBy(r => r.Seq).ToList();

    private IReadOnlyList<JsonElement> Events() =>
        atFirst.Messages.Concat(atSecond.Messages).Where(m => m.Topic == Topic(Topics.Event)).Select(Json)
            .DistinctBy(e => e.GetProperty("id").GetString()).OrderBy(e => e.GetProperty("seq").GetInt64()).ToList();

    [Fact]
    public async Task A_killed_broker_moves_the_unit_to_the_second_path_mid_look_and_back_losing_nothing()
    {
        agent = StartUnit();
        await WaitForStatusAsync(atFirst, "online", first);
        var now = DateTimeOffset.UtcNow;
        var local = TimeZoneInfo.ConvertTime(now, TimeZoneInfo.FindSystemTimeZoneById("Europe/Stockholm"));
        var plan = Signer.Sign(new CarePlanPayload(CentralDefaults.Issuer, DeviceId, now.ToUnixTimeSeconds(), 1, "Europe/Stockholm",
            [new CarePlanCheck("c1", local.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture), 15)], 0));
        // The central keeps the care plan retained on both of its brokers.
        await atFirst.PublishAsync(Topic(Topics.CarePlan), plan, retain: true);
        await atSecond.PublishAsync(Topic(Topics.CarePlan), plan, retain: true);
        await Eventually.Until(() => AuditRecords().FirstOrDefault(r => r.Type == AuditType.CarePlanApplied), "care plan applied");
        await using var receiver = await SrtReceiver.StartAsync(UnitUnderTest.Passphrase);
        const int lookSeconds = 20;
        var jti = Guid.NewGuid().ToString();
        await atFirst.PublishAsync(Topic(Topics.Grant), Signer.Grant(new GrantSpec(DeviceId, "operator-9", SessionKinds.Scheduled, Views.Bed,
            now.AddSeconds(-5), TimeSpan.FromMinutes(2), lookSeconds, new StreamPayload(receiver.Url, "look", UnitUnderTest.Passphrase), "c1", jti), now));
        await Eventually.Until(() => AuditRecords().FirstOrDefault(r => r.Type == AuditType.SessionStarted), "the look to start", TimeSpan.FromSeconds(60));
        await Eventually.Until(() => Events().FirstOrDefault(e => e.GetProperty("type").GetString() == EventType.SessionStarted.Code()), "session.started");

        var killed = Stopwatch.StartNew();
        await first.KillAsync();
        await WaitForStatusAsync(atSecond, "online", second);
        output.WriteLine($"failover: first broker killed → unit online on the second after {killed.Elapsed.TotalSeconds:F1} s (Mqtt:FailoverSeconds={FailoverSeconds})");

        var ended = await Eventually.Until(() => AuditRecords().FirstOrDefault(r => r.Type == AuditType.SessionEnded), "the look to end on its own timer", TimeSpan.FromSeconds(90));
        Assert.Equal("completed", ended.Reason);
        Assert.InRange(ended.DurationMs!.Value, (lookSeconds - 1) * 1000, (lookSeconds + 10) * 1000);
        var timeline = HardwareTimeline.ReadFile(directory.Combine("state", "timeline.jsonl"));
        Assert.Single(timeline, e => e.Part == Parts.Capture && e.State.StartsWith("on pid=", StringComparison.Ordinal));
        Assert.True(receiver.Frames > 0);
        var restored = await Eventually.Until(() => Events().FirstOrDefault(e => e.GetProperty("type").GetString() == "link.restored"), "link.restored");
        Assert.Equal($"{LocalBroker.Host}:{second.Port}", restored.GetProperty("data").GetProperty("path").GetString());
        Assert.True(restored.GetProperty("data").GetProperty("downSeconds").GetDouble() >= FailoverSeconds);

        var beforeReturn = DateTimeOffset.UtcNow;
        await first.StartAsync();
        var returned = Stopwatch.StartNew();
        await WaitForStatusAsync(atFirst, "online", first, after: beforeReturn);
        output.WriteLine($"return: first broker back → unit online on it after {returned.Elapsed.TotalSeconds:F1} s (Mqtt:ReturnAfterSeconds={ReturnAfterSeconds})");
        // Leaving the second path cleanly, the unit says so there.
        await WaitForStatusAsync(atSecond, "offline", null, after: beforeReturn);

        agent.Terminate();
        await agent.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var device = new AuditLog(new StateDatabase(directory.Combine("state")), DeviceId, TimeProvider.System).List();
        var central = await Eventually.Until(() => AuditRecords() is var r && r.Count == device.Count ? r : null, "every audit record at the central");
        Assert.Equal(device.Select(r => r.Hash), central.Select(r => r.Hash));
        Assert.Null(AuditChain.Verify(central));
        var events = Events();
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.GetProperty("seq").GetInt64()));
    }
}
