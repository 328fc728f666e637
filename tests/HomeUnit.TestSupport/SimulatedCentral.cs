using System.Text;
using System.Text.Json;
using HomeUnit.Central;
using HomeUnit.Mqtt;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging;

namespace HomeUnit.TestSupport;

/// <summary>
/// A whole simulated installation on one machine: a real mosquitto (the shipped configuration, mTLS
/// with certificates made on the spot), a central signing key the unit trusts, the real
/// <c>homeunit run --simulate</c> process, and the central's MQTT client. The demo narrates it;
/// the end-to-end tests assert on it.
/// </summary>
public sealed class SimulatedCentral : IAsyncDisposable
{
    public const string Kid = "central-demo";
    public const string Passphrase = "demo-passphrase-0123456789";

    private readonly string directory = Directory.CreateTempSubdirectory("homeunit-central-").FullName;

    private SimulatedCentral(LocalBroker broker, CentralClient client, string deviceId, CentralSigner signer)
    {
        Broker = broker;
        Client = client;
        DeviceId = deviceId;
        Signer = signer;
    }

    public LocalBroker Broker { get; }
    public CentralClient Client { get; }
    public CentralSigner Signer { get; }
    public string DeviceId { get; }
    public AgentProcess? Agent { get; private set; }
    public string StateDirectory => Path.Combine(directory, "unit");
    public string KernelRoot => Path.Combine(StateDirectory, "kernel");
    public string TrustDirectory => Path.Combine(directory, "trust");

    /// <summary>The central's private signing key (PEM), for <c>homeunit-central --key</c>.</summary>
    public string KeyFile => Path.Combine(directory, "central", Kid + ".key");

    public static async Task<SimulatedCentral> StartAsync(string deviceId, ILogger log)
    {
        var broker = await LocalBroker.LaunchAsync();
        var client = await CentralClient.ConnectAsync(broker.ClientOptions("central"), log,
            [Topics.For(deviceId, Topics.Status), Topics.For(deviceId, Topics.Event), Topics.For(deviceId, Topics.Audit)]);
        var (privatePem, publicPem) = CentralSigner.CreateKeyPair();
        var key = System.Security.Cryptography.ECDsa.Create();
        key.ImportFromPem(privatePem);
        var central = new SimulatedCentral(broker, client, deviceId, new CentralSigner(key, Kid, CentralSigner.DefaultIssuer));
        Directory.CreateDirectory(central.TrustDirectory);
        File.WriteAllText(Path.Combine(central.TrustDirectory, Kid + ".pem"), publicPem);
        Directory.CreateDirectory(Path.GetDirectoryName(central.KeyFile)!);
        File.WriteAllText(central.KeyFile, privatePem);
        return central;
    }

    /// <summary>Environment variables the unit's process starts with (e.g. those of the shipped systemd unit).</summary>
    public Dictionary<string, string> UnitEnvironment { get; } = [];

    /// <summary>Starts the unit: <c>homeunit run --simulate --timeline</c> pointed at this broker and key.</summary>
    public AgentProcess StartUnit(params string[] extraSettings)
    {
        Agent = AgentProcess.Start(["run", "--simulate", "--timeline", .. UnitArguments(extraSettings)], UnitEnvironment);
        return Agent;
    }

    /// <summary>Runs another verb of the unit (e.g. <c>safe-state</c>, as systemd's ExecStopPost) with the unit's settings.</summary>
    public Task<(int ExitCode, string Output)> RunUnitVerbAsync(string verb, params string[] extraSettings) =>
        AgentProcess.RunAsync([verb, "--simulate", .. UnitArguments(extraSettings)], UnitEnvironment, TimeSpan.FromSeconds(120));

    private IEnumerable<string> UnitArguments(string[] extraSettings)
    {
        var tls = Broker.ClientOptions(DeviceId);
        string[] settings =
        [
            $"DeviceId={DeviceId}", $"State:Directory={StateDirectory}", $"Hardware:Root={KernelRoot}",
            $"Trust:KeysDirectory={TrustDirectory}", $"Mqtt:Host={LocalBroker.Host}", $"Mqtt:Port={Broker.Port}",
            $"Mqtt:CaFile={tls.CaFile}", $"Mqtt:CertFile={tls.CertFile}", $"Mqtt:KeyFile={tls.KeyFile}",
            "Mqtt:ReconnectMaxSeconds=2", .. extraSettings,
        ];
        return settings.SelectMany(s => new[] { "--set", s });
    }

    public string Topic(string topic) => Topics.For(DeviceId, topic);

    public Task WaitForStatusAsync(string state, TimeSpan? timeout = null) =>
        Client.WaitForAsync(m => m.Topic == Topic(Topics.Status) && Json(m).GetProperty("state").GetString() == state
, $"status {state}", timeout);

    /// <summary>A care plan with one check at the current local time (±15 min), published retained as the central does.</summary>
    public async Task<string> PublishCarePlanAsync(long version = 1, string tz = "Europe/Stockholm", int? privacyPauseMinutes = null)
    {
        var now = DateTimeOffset.UtcNow;
        var local = TimeZoneInfo.ConvertTime(now, TimeZoneInfo.FindSystemTimeZoneById(tz));
        var at = local.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture);
        var plan = new CarePlanPayload(Signer.Issuer, DeviceId, now.ToUnixTimeSeconds(), version, tz,
            [new CarePlanCheck("c1", at, 15)], 0, new FollowUpRule(30, 2), [],
            PrivacyPause: privacyPauseMinutes is { } minutes ? new PrivacyPauseRule(minutes) : null);
        await Client.PublishAsync(Topic(Topics.CarePlan), Signer.Sign(plan), retain: true);
        return at;
    }

    /// <summary>Publishes a grant for the planned check, streaming to <paramref name="receiver"/>; returns its jti.</summary>
    public Task<string> PublishGrantAsync(SrtReceiver receiver, int maxSeconds, string kind = SessionKinds.Scheduled, string? check = "c1", string view = Views.Bed) =>
        PublishGrantAsync(receiver.Url, maxSeconds, kind, check, view);

    /// <summary>Publishes a grant streaming to <paramref name="url"/> with <see cref="Passphrase"/>; returns its jti (a new one unless given).</summary>
    public async Task<string> PublishGrantAsync(string url, int maxSeconds, string kind = SessionKinds.Scheduled, string? check = "c1", string view = Views.Bed, string? jti = null)
    {
        jti ??= Guid.NewGuid().ToString();
        var now = DateTimeOffset.UtcNow;
        var spec = new GrantSpec(DeviceId, "operator-42", kind, view, now.AddSeconds(-5), TimeSpan.FromMinutes(2), maxSeconds,
            new StreamPayload(url, "look-" + jti[..8], Passphrase), check, jti);
        await Client.PublishAsync(Topic(Topics.Grant), Signer.Grant(spec, now));
        return jti;
    }

    public Task PublishCommandAsync(string name, string? grant = null, string? view = null) =>
        Client.PublishAsync(Topic(Topics.Command), Signer.Command(DeviceId, name, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), grant, view));

    public IReadOnlyList<AuditRecord> AuditRecords =>
        Client.Messages.Where(m => m.Topic == Topic(Topics.Audit))
            .Select(m => JsonSerializer.Deserialize<AuditRecord>(m.Payload, Wire.Json)!)
            .DistinctBy(r => r.Seq).OrderBy(r => r.Seq).ToList();

    public Task<AuditRecord> WaitForAuditAsync(AuditType type, string? grant = null, TimeSpan? timeout = null) =>
        Eventually.Until(() => AuditRecords.FirstOrDefault(r => r.Type == type && (grant is null || r.Grant == grant)), $"audit {type.Code()}", timeout);

    public Task<MqttMessage> WaitForEventAsync(EventType type, TimeSpan? timeout = null) =>
        Client.WaitForAsync(m => m.Topic == Topic(Topics.Event) && Json(m).GetProperty("type").GetString() == type.Code(), $"event {type.Code()}", timeout);

    /// <summary>
    /// Presses the unit's privacy button as a resident would: held until the unit has seen it (its hardware
    /// timeline shows the press), then let go until it has seen that too, and a little longer than the debounce time.
    /// </summary>
    public async Task PressPrivacyButtonAsync()
    {
        var timeline = Path.Combine(StateDirectory, "timeline.jsonl");
        List<Drivers.TimelineEntry> Seen(string state) => [.. Drivers.HardwareTimeline.ReadFile(timeline).Where(e => e.Part == Drivers.Parts.Button && e.State == state)];
        var pressed = Seen("pressed").Count;
        SetKernelFile(Drivers.Kernel.SimulatedKernel.PrivacyButtonFile, "1");
        await Eventually.True(() => Seen("pressed").Count > pressed, "the unit to see the button pressed");
        var released = Seen("released").Count;
        SetKernelFile(Drivers.Kernel.SimulatedKernel.PrivacyButtonFile, "0");
        // Let go for longer than contact bounce lasts, as a resident's next press would be (timeline stamps are CLOCK_MONOTONIC).
        await Eventually.True(() => Seen("released") is { } seen && seen.Count > released
            && Drivers.HardwareTimeline.Now() - seen[^1].Nanoseconds > 2 * Drivers.Gpio.PrivacyButton.Debounce.TotalNanoseconds, "the unit to see the button released");
    }

    /// <summary>Writes a kernel file of the simulated unit, as the hardware would change it (power cut, alarm).</summary>
    public void SetKernelFile(string relative, string value) => File.WriteAllText(Path.Combine(KernelRoot, relative), value);

    public static JsonElement Json(MqttMessage message) => JsonDocument.Parse(message.Payload).RootElement;

    public static string Text(MqttMessage message) => Encoding.UTF8.GetString(message.Payload);

    public async ValueTask DisposeAsync()
    {
        Agent?.Dispose();
        await Client.DisposeAsync();
        await Broker.DisposeAsync();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // a child may still hold a file for a moment
        }
    }
}
