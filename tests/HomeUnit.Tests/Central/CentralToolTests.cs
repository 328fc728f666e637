using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using HomeUnit.Central;
using HomeUnit.TestSupport;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.Tests.Central;

/// <summary>
/// <c>homeunit-central</c> run as its own process, as an integrator runs it: its exit codes, its refusals of bad
/// input (nothing signed, nothing published), and its watch and receive verbs against real peers.
/// </summary>
public sealed class CentralToolTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    private async Task<string> NewKeyAsync(string kid = "central-1")
    {
        var (code, output, all) = await CentralTool.RunAsync("keys", "new", "--kid", kid, "--out", temp.Path);
        Assert.True(code == ExitCodes.Ok, all);
        Assert.Contains($"{kid}.pem", output);
        return temp.Combine(kid + ".key");
    }

    [Fact]
    public async Task Keys_new_makes_a_private_key_only_its_owner_can_read_and_a_public_key_that_verifies_what_the_tool_signs()
    {
        var key = await NewKeyAsync();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        var (code, token, all) = await CentralTool.RunAsync("grant", "--key", key, "--device", "unit-1", "--operator", "op-1",
            "--stream-url", "srt://127.0.0.1:9000", "--stream-id", "look-1", "--passphrase", SimulatedCentral.Passphrase);
        Assert.True(code == ExitCodes.Ok, all);
        var parts = token.Trim().Split('.');
        using var publicKey = ECDsa.Create();
        publicKey.ImportFromPem(File.ReadAllText(temp.Combine("central-1.pem")));
        Assert.True(publicKey.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), System.Buffers.Text.Base64Url.DecodeFromChars(parts[2]),
            HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        using var header = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[0]));
        Assert.Equal("central-1", header.RootElement.GetProperty("kid").GetString());
    }

    [Fact]
    public async Task Keys_new_never_overwrites_a_key()
    {
        var key = await NewKeyAsync();
        var before = File.ReadAllText(key);

        var (code, _, all) = await CentralTool.RunAsync("keys", "new", "--kid", "central-1", "--out", temp.Path);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("never overwritten", all);
        Assert.Equal(before, File.ReadAllText(key));
    }

    public static TheoryData<string[], string> BadInput() => new()
    {
        { ["grant", "--device", "unit-1", "--operator", "op", "--stream-url", "srt://127.0.0.1:9000", "--stream-id", "s", "--passphrase", "short"], "passphrase" },
        { ["grant", "--device", "unit-1", "--operator", "op", "--stream-url", "http://127.0.0.1:9000", "--stream-id", "s", "--passphrase", SimulatedCentral.Passphrase], "srt://host:port" },
        { ["grant", "--device", "unit-1", "--operator", "op", "--stream-url", "srt://127.0.0.1:9000", "--stream-id", "s", "--passphrase", SimulatedCentral.Passphrase, "--kind", "follow-up"], "--check" },
        { ["grant", "--device", "unit-1", "--operator", "op", "--stream-url", "srt://127.0.0.1:9000", "--stream-id", "s", "--passphrase", SimulatedCentral.Passphrase, "--valid-seconds", "600"], "too-long" },
        { ["grant", "--device", "unit/1", "--operator", "op", "--stream-url", "srt://127.0.0.1:9000", "--stream-id", "s", "--passphrase", SimulatedCentral.Passphrase], "--device" },
        { ["grant", "--device", "unit-1", "--operator", "op", "--stream-url", "srt://127.0.0.1:9000", "--stream-id", "s", "--passphrase", SimulatedCentral.Passphrase, "--view", "kitchen"], "kitchen" },
        { ["careplan", "--device", "unit-1", "--version", "1", "--check", "c1@25:00/15"], "HH:mm" },
        { ["careplan", "--device", "unit-1", "--version", "1", "--check", "c1@22:30"], "id@HH:mm/toleranceMinutes" },
        { ["careplan", "--device", "unit-1", "--version", "1", "--check", "c1@22:30/15", "--tz", "Mars/Olympus"], "IANA" },
        { ["careplan", "--device", "unit-1", "--version", "0", "--check", "c1@22:30/15"], "version is 1 or more" },
        { ["careplan", "--device", "unit-1", "--version", "1", "--check", "c1@22:30/15", "--check", "c1@23:30/15"], "same id" },
        { ["careplan", "--device", "unit-1", "--version", "1", "--check", "c1@22:30/15", "--paused", "24/12"], "yyyy-MM-dd" },
        // What a unit would refuse (CarePlanLimits) is refused before signing.
        { ["careplan", "--device", "unit-1", "--version", "1", "--check", "c1@22:30/121"], "toleranceMinutes must be 1–120" },
        { ["careplan", "--device", "unit-1", "--version", "1", "--check", "c1@22:30/15", "--follow-up", "30/11"], "max 0–10" },
        { ["command", "pan", "--device", "unit-1"], "--grant" },
        { ["command", "reboot", "--device", "unit-1"], "reboot" },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public async Task Bad_input_is_refused_with_a_reason_and_nothing_is_signed(string[] arguments, string reason)
    {
        var key = await NewKeyAsync();

        var (code, output, all) = await CentralTool.RunAsync([.. arguments, "--key", key]);

        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(reason, all);
        Assert.Equal("", output.Trim());
        Assert.DoesNotContain("   at ", all); // a reason, not a stack trace
    }

    [Fact]
    public async Task A_missing_or_foreign_key_file_is_refused_with_a_reason()
    {
        File.WriteAllText(temp.Combine("rsa.key"), RSA.Create(2048).ExportPkcs8PrivateKeyPem());
        foreach (var (key, reason) in new[] { (temp.Combine("nope.key"), "does not exist"), (temp.Combine("rsa.key"), "not a readable PEM EC private key") })
        {
            var (code, output, all) = await CentralTool.RunAsync("command", "selftest", "--device", "unit-1", "--key", key);
            Assert.Equal(ExitCodes.BadInput, code);
            Assert.Contains(reason, all);
            Assert.Equal("", output.Trim());
        }
    }

    [Fact]
    public async Task A_broker_that_cannot_be_reached_exits_with_its_own_code()
    {
        var key = await NewKeyAsync();

        var (code, _, all) = await CentralTool.RunAsync("command", "selftest", "--device", "unit-1", "--key", key, "--broker", $"127.0.0.1:{LocalBroker.FreePort()}");

        Assert.Equal(ExitCodes.Unreachable, code);
        Assert.Contains("could not be reached", all);
    }

    [Fact]
    public async Task Watch_flags_repeated_missing_and_forged_audit_records_and_repeated_events_and_exits_non_zero()
    {
        await using var installation = await SimulatedCentral.StartAsync("unit-w", NullLogger.Instance);
        using var watch = await new CentralTool(installation).StartWatchAsync();
        var audit = installation.Topic(Topics.Audit);
        var first = AuditChain.Seal(new AuditRecord { Type = AuditType.AgentStarted, Device = "unit-w", At = Wire.Time(DateTimeOffset.UtcNow) }, 1, AuditChain.Genesis);
        var second = AuditChain.Seal(new AuditRecord { Type = AuditType.CarePlanApplied, Device = "unit-w", Version = 1, At = first.At }, 2, first.Hash!);
        var third = AuditChain.Seal(new AuditRecord { Type = AuditType.CarePlanApplied, Device = "unit-w", Version = 2, At = first.At }, 3, second.Hash!);
        var forged = AuditChain.Seal(new AuditRecord { Type = AuditType.CarePlanApplied, Device = "unit-w", Version = 3, At = first.At }, 4, first.Hash!);
        var deviceEvent = JsonSerializer.Serialize(new DeviceEvent(Guid.NewGuid().ToString(), 1, first.At, EventType.AgentStopping, Severity.Info, null), Wire.Json);

        // As a faulty unit or network might deliver them: a repeat, a record overtaken by its successor, one that does not link.
        await using var unit = await CentralClient.ConnectAsync(installation.Broker.ClientOptions("unit-w"), NullLogger.Instance, [], clientId: "unit-w");
        foreach (var record in new[] { first, first, third, second, forged })
        {
            await unit.PublishAsync(audit, JsonSerializer.Serialize(record, Wire.Json));
        }
        await unit.PublishAsync(installation.Topic(Topics.Event), deviceEvent);
        await unit.PublishAsync(installation.Topic(Topics.Event), deviceEvent);
        await watch.WaitForAsync(l => l["kind"]?.GetValue<string>() == Topics.Event && l["chain"]?.GetValue<string>() == "duplicate", "the repeated event");

        Assert.Equal(["joined", "duplicate", "gap", "filled", "broken"], watch.ChainChecks);
        Assert.Equal(ExitCodes.Failed, await watch.StopAsync());
        var summary = watch.Lines.Last();
        Assert.Equal("summary", summary["kind"]!.GetValue<string>());
        Assert.Contains("record 4", summary["broken"]!.GetValue<string>());
    }

    [Fact]
    public async Task Receive_reports_the_frames_resolution_and_frame_rate_of_a_real_srt_stream()
    {
        using var receiver = await CentralTool.StartReceiverAsync();
        using var sender = Process.Start(new ProcessStartInfo("/usr/bin/ffmpeg",
        [
            "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "3",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "10", "-f", "mpegts",
            $"{receiver.Url}?passphrase={SimulatedCentral.Passphrase}&pbkeylen=32",
        ]) { RedirectStandardError = true })!;

        var ended = await receiver.WaitForEndAsync();

        Assert.Equal(ExitCodes.Ok, await receiver.ExitedAsync());
        Assert.InRange(ended["frames"]!.GetValue<int>(), 10, 40);
        Assert.Equal(320, ended["width"]!.GetValue<int>());
        Assert.Equal(240, ended["height"]!.GetValue<int>());
        Assert.Equal(10.0, ended["frameRate"]!.GetValue<double>());
        Assert.Contains(receiver.Lines, l => l["kind"]?.GetValue<string>() == "stream");
    }

    [Fact]
    public async Task Receive_without_a_caller_gives_up_and_exits_non_zero()
    {
        var (code, output, all) = await CentralTool.RunAsync("receive", "--json", "--passphrase", SimulatedCentral.Passphrase, "--wait-seconds", "1");

        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("\"frames\":0", output);
        Assert.DoesNotContain(SimulatedCentral.Passphrase, all);
    }
}
