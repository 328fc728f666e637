using HomeUnit.Central;
using HomeUnit.TestSupport;
using HomeUnit.Drivers;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HomeUnit.Tests.Security;

/// <summary>
/// The agent started as the shipped systemd unit starts it (its Environment= lines) opens no attach point while a
/// look runs: no .NET diagnostics socket, no debugger pipes; and neither it nor the capture may dump core.
/// </summary>
public sealed class AttachPointTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TestLog log = new(output);
    private SimulatedCentral central = null!;

    public async Task InitializeAsync() => central = await SimulatedCentral.StartAsync("unit-attach", log.For<SimulatedCentral>());

    public async Task DisposeAsync() => await central.DisposeAsync();

    /// <summary>Every <c>Environment=</c> assignment of deploy/systemd/homeunit.service.</summary>
    private static Dictionary<string, string> ShippedUnitEnvironment()
    {
        var unit = Path.Combine(RepositoryRoot(), "deploy", "systemd", "homeunit.service");
        return File.ReadLines(unit).Where(l => l.StartsWith("Environment=", StringComparison.Ordinal))
            .SelectMany(l => l["Environment=".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(a => a.Split('=', 2)).ToDictionary(a => a[0], a => a[1]);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "HomeUnit.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("HomeUnit.sln not found");
    }

    /// <summary>
    /// The runtime's IPC files of process <paramref name="pid"/>: named after its pid and start time (field 22 of
    /// /proc/PID/stat), so a stale file of an earlier process with the same pid does not count.
    /// </summary>
    private static IReadOnlyList<string> AttachPoints(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var started = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19];
        return [.. new[] { "/tmp", Path.GetTempPath() }.Select(Path.GetFullPath).Distinct().Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFileSystemEntries(d))
            .Where(p => Path.GetFileName(p).StartsWith($"dotnet-diagnostic-{pid}-{started}-", StringComparison.Ordinal)
                || Path.GetFileName(p).StartsWith($"clr-debug-pipe-{pid}-{started}-", StringComparison.Ordinal))];
    }

    private static string CoreLimit(int pid) =>
        File.ReadLines($"/proc/{pid}/limits").Single(l => l.StartsWith("Max core file size", StringComparison.Ordinal));

    [Fact]
    public async Task The_agent_started_as_the_shipped_unit_opens_no_diagnostics_socket_or_debugger_pipe_while_a_look_runs()
    {
        var environment = ShippedUnitEnvironment();
        Assert.Equal("0", environment.GetValueOrDefault("DOTNET_EnableDiagnostics"));
        foreach (var (key, value) in environment)
        {
            central.UnitEnvironment[key] = value;
        }
        var agent = central.StartUnit();
        await central.WaitForStatusAsync("online", TimeSpan.FromSeconds(90));
        await central.PublishCarePlanAsync();
        await central.WaitForAuditAsync(AuditType.CarePlanApplied);
        await using var receiver = await SrtReceiver.StartAsync(SimulatedCentral.Passphrase);

        var grant = await central.PublishGrantAsync(receiver, maxSeconds: 4);
        await central.WaitForAuditAsync(AuditType.SessionStarted, grant, TimeSpan.FromSeconds(60));
        await receiver.WaitForFramesAsync(5, TimeSpan.FromSeconds(60));

        var timeline = HardwareTimeline.ReadFile(Path.Combine(central.StateDirectory, "timeline.jsonl"));
        var capture = int.Parse(timeline.Last(e => e.Part == Parts.Capture && e.State.StartsWith("on pid=", StringComparison.Ordinal)).State["on pid=".Length..]);
        Assert.True(AgentProcess.IsAlive(capture), "the look is still running");
        Assert.Empty(AttachPoints(agent.Id));
        Assert.Matches(@"^Max core file size\s+0\s+0\s", CoreLimit(agent.Id));
        Assert.Matches(@"^Max core file size\s+0\s", CoreLimit(capture));
        if (Environment.GetEnvironmentVariable("DOTNET_EnableDiagnostics") != "0")
        {
            // The control: this test process, a .NET process without the setting, does have its socket where we looked.
            Assert.NotEmpty(AttachPoints(Environment.ProcessId));
        }
        await central.WaitForAuditAsync(AuditType.SessionEnded, grant, TimeSpan.FromSeconds(60));
    }
}
