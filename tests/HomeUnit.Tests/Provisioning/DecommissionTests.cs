using System.Text.Json;
using HomeUnit.Agent;
using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.Provisioning;
using HomeUnit.Agent.State;
using HomeUnit.TestSupport;
using CentralClient = HomeUnit.Central.CentralClient;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HomeUnit.Tests.Provisioning;

/// <summary><c>decommission</c> on a unit with a real state database, simulated hardware and a real broker.</summary>
public sealed class DecommissionTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string DeviceId = "unit-old";

    private readonly TestLog log = new(output);
    private readonly TempDirectory directory = new();
    private LocalBroker broker = null!;
    private SimulatedKernel kernel = null!;
    private HardwareTimeline timeline = null!;

    public async Task InitializeAsync()
    {
        broker = await LocalBroker.LaunchAsync();
        kernel = SimulatedKernel.Create(directory.Combine("kernel"));
        timeline = new HardwareTimeline();
    }

    public async Task DisposeAsync()
    {
        kernel.Dispose();
        await broker.DisposeAsync();
        directory.Dispose();
    }

    private AgentOptions Options() => new()
    {
        DeviceId = DeviceId,
        State = new StateOptions { Directory = directory.Combine("state") },
        Trust = new TrustOptions { KeysDirectory = directory.Combine("trust") },
        Mqtt = broker.ClientOptions(DeviceId),
    };

    /// <summary>A unit in service: its state database holds a night's summary, and it trusts a key.</summary>
    private void UnitInService()
    {
        Directory.CreateDirectory(directory.Combine("trust"));
        File.WriteAllText(directory.Combine("trust", "central-1.pem"), "key");
        var database = new StateDatabase(directory.Combine("state"));
        var audit = new AuditLog(database, DeviceId, TimeProvider.System);
        audit.Append(new AuditRecord
        {
            Type = AuditType.NightSummary,
            Night = "2026-11-22",
            Summary = new NightSummary { Planned = 2, Looked = 1, Missed = 1 },
        });
    }

    private async Task<(int Exit, string Text)> DecommissionAsync(string typed, bool force = false, int waitSeconds = 60, bool serviceRunning = false)
    {
        var text = new StringWriter();
        var hardware = new UnitHardware(
            new HardwareSettings(kernel.Files.Root, null, null, SimulatedKernel.MainsSupply, new ServoCalibration(), TimeSpan.FromMilliseconds(50)),
            timeline, () => throw new InvalidOperationException("decommission never opens the camera"));
        var exit = await new Decommissioner(Options(), hardware, [directory.Combine("state"), directory.Combine("trust")], text, log.Factory(), () => serviceRunning)
            .RunAsync(typed, force, TimeSpan.FromSeconds(waitSeconds), CancellationToken.None);
        output.WriteLine(text.ToString());
        return (exit, text.ToString());
    }

    [Fact]
    public async Task A_mistyped_device_id_changes_nothing()
    {
        UnitInService();

        var (exit, text) = await DecommissionAsync("unit-0ld");

        Assert.Equal(Program.ExitFailed, exit);
        Assert.Contains("is not this unit", text);
        Assert.True(File.Exists(directory.Combine("state", "homeunit.db")));
        Assert.True(Directory.Exists(directory.Combine("trust")));
        Assert.Empty(timeline.Snapshot());
    }

    [Fact]
    public async Task While_the_service_runs_nothing_is_changed()
    {
        UnitInService();

        var (exit, text) = await DecommissionAsync(DeviceId, serviceRunning: true);

        Assert.Equal(Program.ExitFailed, exit);
        Assert.Contains("stop it first", text);
        Assert.True(File.Exists(directory.Combine("state", "homeunit.db")));
        Assert.True(Directory.Exists(directory.Combine("trust")));
        Assert.Empty(timeline.Snapshot()); // the hardware untouched: the running agent owns it
    }

    [Fact]
    public async Task The_unit_shows_its_last_nights_tells_the_central_and_only_then_is_erased()
    {
        UnitInService();
        await using var central = await CentralClient.ConnectAsync(broker.ClientOptions("central"), log.For<CentralClient>(), [$"homeunit/v1/{DeviceId}/#"]);

        var (exit, text) = await DecommissionAsync(DeviceId);

        Assert.Equal(Program.ExitOk, exit);
        Assert.Matches(@"2026-11-22\s+2\s+1\s+0\s+1", text);
        var left = await central.WaitForAsync(m => m.Topic.EndsWith("/event", StringComparison.Ordinal)
            && JsonDocument.Parse(m.Payload).RootElement.GetProperty("type").GetString() == EventType.UnitDecommissioned.Code(), "unit.decommissioned");
        Assert.Equal(DeviceId, JsonDocument.Parse(left.Payload).RootElement.GetProperty("data").GetProperty("device").GetString());
        await central.WaitForAsync(m => m.Topic.EndsWith("/audit", StringComparison.Ordinal)
            && JsonSerializer.Deserialize<AuditRecord>(m.Payload, Wire.Json)!.Type == AuditType.UnitDecommissioned, "the unit.decommissioned audit record");
        Assert.False(Directory.Exists(directory.Combine("state")));
        Assert.False(Directory.Exists(directory.Combine("trust")));
        Assert.Equal("1", kernel.Files.Read($"sys/class/leds/{StatusLight.RedLabel}/brightness"));
        // The safe state, from the hardware timeline: red, IR off, lens up with the servo silent.
        var parts = timeline.Snapshot().GroupBy(e => e.Part).ToDictionary(g => g.Key, g => g.Last().State);
        Assert.Equal(("on", "off", "off", "lens-up pwm-off"), (parts[Parts.Red], parts[Parts.Green], parts[Parts.Ir], parts[Parts.Servo]));
    }

    [Fact]
    public async Task A_unit_that_cannot_tell_the_central_is_not_erased_unless_forced()
    {
        UnitInService();
        await broker.StopAsync();

        var (exit, text) = await DecommissionAsync(DeviceId, waitSeconds: 3);

        Assert.Equal(Program.ExitFailed, exit);
        Assert.Contains("Nothing was erased", text);
        Assert.True(File.Exists(directory.Combine("state", "homeunit.db")));

        var (forced, _) = await DecommissionAsync(DeviceId, force: true, waitSeconds: 1);

        Assert.Equal(Program.ExitOk, forced);
        Assert.False(Directory.Exists(directory.Combine("state")));
    }
}
