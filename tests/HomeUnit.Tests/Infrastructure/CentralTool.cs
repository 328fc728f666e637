using System.Globalization;
using System.Text.Json.Nodes;
using HomeUnit.TestSupport;
using HomeUnit.Protocol;

namespace HomeUnit.Tests.Infrastructure;

/// <summary>
/// The central as an integrator runs it: the real <c>homeunit-central</c> executable, one process per verb,
/// against the simulated installation's broker (the central's listener, mTLS with its certificate of CN "central")
/// and signing key.
/// </summary>
public sealed class CentralTool(SimulatedCentral installation)
{
    public static readonly TimeSpan Generous = TimeSpan.FromSeconds(90);

    public string[] BrokerArguments()
    {
        var tls = installation.Broker.ClientOptions(LocalBroker.CentralIdentity);
        return ["--broker", $"{tls.Host}:{tls.Port}", "--ca", tls.CaFile!, "--cert", tls.CertFile!, "--cert-key", tls.KeyFile!];
    }

    private string[] Signing(string? key = null) => ["--key", key ?? installation.KeyFile, "--kid", SimulatedCentral.Kid, "--device", installation.DeviceId];

    /// <summary>Runs one verb to its end: exit code, standard output, and everything printed (for messages).</summary>
    public static async Task<(int ExitCode, string Output, string All)> RunAsync(params string[] arguments)
    {
        using var tool = AgentProcess.Start(arguments, program: AgentProcess.Central);
        await tool.WaitForExitAsync(Generous);
        return (tool.ExitCode, tool.StandardOutput, tool.Output);
    }

    private static async Task<string> SucceedAsync(params string[] arguments)
    {
        var (code, output, all) = await RunAsync(arguments);
        Assert.True(code == 0, $"homeunit-central {arguments[0]} exited with {code}:\n{all}");
        return output;
    }

    /// <summary>One check at the current local time (±15 min), follow-ups within 30 min, published retained by <c>careplan</c>; returns the check's HH:mm.</summary>
    public async Task<string> PublishCarePlanAsync(long version = 1, string tz = "Europe/Stockholm")
    {
        var local = TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById(tz));
        var at = local.ToString("HH:mm", CultureInfo.InvariantCulture);
        await SucceedAsync(["careplan", .. Signing(), "--version", version.ToString(CultureInfo.InvariantCulture), "--tz", tz,
            "--check", $"c1@{at}/15", "--follow-up", "30/2", "--valid-from", "0", .. BrokerArguments()]);
        return at;
    }

    /// <summary>Signs and publishes a grant with <c>grant</c>, streaming to <paramref name="url"/>; returns its jti.</summary>
    public async Task<string> PublishGrantAsync(string url, int maxSeconds, string kind = SessionKinds.Scheduled, string? check = "c1", string? key = null)
    {
        var jti = Guid.NewGuid().ToString();
        string[] arguments =
        [
            "grant", .. Signing(key), "--operator", "operator-42", "--kind", kind, "--view", Views.Bed,
            "--not-before", DateTimeOffset.UtcNow.AddSeconds(-5).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            "--valid-seconds", "120", "--max-seconds", maxSeconds.ToString(CultureInfo.InvariantCulture),
            "--stream-url", url, "--stream-id", "look-" + jti[..8], "--passphrase", SimulatedCentral.Passphrase, "--jti", jti,
            .. check is null ? Array.Empty<string>() : ["--check", check], .. BrokerArguments(),
        ];
        var output = await SucceedAsync(arguments);
        Assert.Contains(jti, output);
        return jti;
    }

    public Task PublishCommandAsync(string name, string? grant = null) =>
        SucceedAsync(["command", name, .. Signing(), .. grant is null ? Array.Empty<string>() : ["--grant", grant], .. BrokerArguments()]);

    /// <summary>Starts <c>watch DEVICE --json</c> and returns once it is subscribed.</summary>
    public async Task<WatchProcess> StartWatchAsync()
    {
        var watch = new WatchProcess(AgentProcess.Start(["watch", installation.DeviceId, "--json", .. BrokerArguments()], program: AgentProcess.Central));
        await watch.WaitForAsync(l => l["kind"]?.GetValue<string>() == "watching", "the watch to subscribe");
        return watch;
    }

    /// <summary>Starts <c>receive --json</c> on a free port and returns once it listens.</summary>
    public static async Task<ReceiveProcess> StartReceiverAsync()
    {
        var receiver = new ReceiveProcess(AgentProcess.Start(["receive", "--json", "--passphrase", SimulatedCentral.Passphrase], program: AgentProcess.Central));
        await receiver.WaitForAsync(l => l["kind"]?.GetValue<string>() == "listening", "the receiver to listen");
        return receiver;
    }
}

/// <summary>A running tool process that prints one JSON object per line; every line is kept.</summary>
public abstract class JsonLinesProcess : IDisposable
{
    private readonly List<JsonObject> lines = [];

    protected JsonLinesProcess(AgentProcess process)
    {
        Process = process;
        process.Line += line =>
        {
            if (JsonNode.Parse(line) is JsonObject json)
            {
                lock (lines)
                {
                    lines.Add(json);
                }
            }
        };
    }

    public AgentProcess Process { get; }

    public IReadOnlyList<JsonObject> Lines
    {
        get { lock (lines) return [.. lines]; }
    }

    public async Task<JsonObject> WaitForAsync(Func<JsonObject, bool> match, string what, TimeSpan? timeout = null)
    {
        var exited = new JsonObject();
        var found = await Eventually.Until(() => Lines.FirstOrDefault(match) ?? (Process.HasExited ? exited : null), what, timeout ?? CentralTool.Generous);
        if (found != exited)
        {
            return found;
        }
        // The process can end before its last lines are read: they are all in once its output is at its end.
        await Process.WaitForExitAsync(CentralTool.Generous);
        return Lines.FirstOrDefault(match) ?? throw new InvalidOperationException($"homeunit-central exited waiting for {what}:\n{Process.Output}");
    }

    /// <summary>Waits for the process to end by itself; returns the exit code.</summary>
    public async Task<int> ExitedAsync()
    {
        await Process.WaitForExitAsync(CentralTool.Generous);
        return Process.ExitCode;
    }

    /// <summary>SIGTERM, as Ctrl+C would end it; returns the exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (!Process.HasExited)
        {
            Process.Terminate();
        }
        await Process.WaitForExitAsync(CentralTool.Generous);
        return Process.ExitCode;
    }

    public void Dispose() => Process.Dispose();
}

/// <summary><c>homeunit-central watch --json</c>: what the central saw of the unit.</summary>
public sealed class WatchProcess(AgentProcess process) : JsonLinesProcess(process)
{
    private static string? Kind(JsonObject line) => line["kind"]?.GetValue<string>();

    private static string? Field(JsonObject line, string name) => (line["message"] as JsonObject)?[name]?.ToString();

    /// <summary>Every message seen from the unit, as (topic name, payload JSON), for the contract check.</summary>
    public IReadOnlyList<(string Topic, string Payload)> Messages =>
        [.. Lines.Where(l => Kind(l) is Topics.Status or Topics.Event or Topics.Audit && l["message"] is JsonObject).Select(l => (Kind(l)!, l["message"]!.ToJsonString()))];

    public IReadOnlyList<AuditRecord> AuditRecords =>
        [.. Lines.Where(l => Kind(l) == Topics.Audit && l["chain"]?.GetValue<string>() != "duplicate")
            .Select(l => System.Text.Json.JsonSerializer.Deserialize<AuditRecord>(l["message"]!.ToJsonString(), Wire.Json)!)
            .OrderBy(r => r.Seq)];

    public async Task<AuditRecord> WaitForAuditAsync(AuditType type, string? grant = null, TimeSpan? timeout = null)
    {
        await WaitForAsync(l => Kind(l) == Topics.Audit && Field(l, "type") == type.Code() && (grant is null || Field(l, "grant") == grant), $"audit {type.Code()}", timeout);
        return AuditRecords.First(r => r.Type == type && (grant is null || r.Grant == grant));
    }

    public async Task<JsonObject> WaitForEventAsync(EventType type, TimeSpan? timeout = null) =>
        (JsonObject)(await WaitForAsync(l => Kind(l) == Topics.Event && Field(l, "type") == type.Code(), $"event {type.Code()}", timeout))["message"]!;

    public async Task<JsonObject> WaitForStatusAsync(Func<JsonObject, bool> match, string what, TimeSpan? timeout = null) =>
        (JsonObject)(await WaitForAsync(l => Kind(l) == Topics.Status && l["message"] is JsonObject m && match(m), what, timeout))["message"]!;

    public Task<JsonObject> WaitForStatusAsync(string state, TimeSpan? timeout = null) =>
        WaitForStatusAsync(m => m["state"]?.GetValue<string>() == state, $"status {state}", timeout);

    /// <summary>The chain checks the watch reported (linked, joined, gap, duplicate, filled, broken), in order.</summary>
    public IReadOnlyList<string> ChainChecks => [.. Lines.Where(l => Kind(l) == Topics.Audit).Select(l => l["chain"]?.GetValue<string>() ?? "")];
}

/// <summary><c>homeunit-central receive --json</c>: one look's stream at the central.</summary>
public sealed class ReceiveProcess(AgentProcess process) : JsonLinesProcess(process)
{
    public string Url => Lines.First(l => l["kind"]?.GetValue<string>() == "listening")["url"]!.GetValue<string>();

    /// <summary>Frames decoded so far (the last report).</summary>
    public int Frames => Lines.LastOrDefault(l => l["frames"] is not null)?["frames"]!.GetValue<int>() ?? 0;

    public Task<JsonObject> WaitForEndAsync(TimeSpan? timeout = null) => WaitForAsync(l => l["kind"]?.GetValue<string>() == "ended", "the end of the stream", timeout);
}
