using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Provisioning;
using HomeUnit.TestSupport;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace HomeUnit.Tests.Provisioning;

/// <summary>
/// The installer's last step against a real mosquitto (the shipped configuration, mTLS) and the simulated
/// kernel: each line ok, or what is wrong and what to do.
/// </summary>
public sealed class ProvisionCheckTests : IAsyncLifetime
{
    private readonly TempDirectory directory = new();
    private LocalBroker broker = null!;
    private SimulatedKernel kernel = null!;

    public async Task InitializeAsync()
    {
        broker = await LocalBroker.LaunchAsync();
        kernel = SimulatedKernel.Create(directory.Combine("kernel"));
    }

    private AgentOptions Options(HomeUnit.Mqtt.MqttOptions mqtt) => new()
    {
        DeviceId = "hu-0042",
        Mqtt = mqtt,
        Hardware = { Root = kernel.Files.Root },
        State = { Directory = directory.Combine("state") },
    };

    private static IConfiguration Calibrated(bool bed = true)
    {
        var settings = new Dictionary<string, string?> { ["Servo:LensUpMicroseconds"] = "600", ["Servo:RoomMicroseconds"] = "2000" };
        if (bed)
        {
            settings["Servo:BedMicroseconds"] = "1450";
        }
        return new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
    }

    private static readonly ServiceState Running = new(Enabled: true, Active: true);

    private Task<IReadOnlyList<CheckLine>> CheckAsync(AgentOptions options, IConfiguration? configuration = null, ServiceState? service = null) =>
        ProvisionCheck.RunAsync(options, configuration ?? Calibrated(), service ?? Running, DateTimeOffset.UtcNow, CancellationToken.None);

    [Fact]
    public async Task A_provisioned_unit_whose_certificate_the_broker_accepts_is_all_ok()
    {
        var lines = await CheckAsync(Options(broker.ClientOptions("hu-0042")));

        Assert.All(lines, line => Assert.True(line.Ok, line.Text));
        Assert.Contains(lines, l => l.Text == "broker ok, hu-0042 accepted");
        Assert.Contains(lines, l => l.Text.StartsWith("no care plan", StringComparison.Ordinal));
        Assert.EndsWith("all ok: the unit is ready\n", ProvisionCheck.Format(lines));
    }

    [Fact]
    public async Task A_revoked_certificate_is_reported_as_refused_by_the_broker()
    {
        var mqtt = broker.ClientOptions("hu-0042");
        broker.Revoke("hu-0042");
        await broker.StopAsync();
        await broker.StartAsync(); // mosquitto reads the CRL at start

        var line = (await CheckAsync(Options(mqtt)))[0];

        Assert.False(line.Ok);
        Assert.Equal("broker refused hu-0042", line.Text);
    }

    [Fact]
    public async Task An_unreachable_broker_says_what_to_check()
    {
        var mqtt = broker.ClientOptions("hu-0042");
        mqtt.Port = LocalBroker.FreePort();

        var line = (await CheckAsync(Options(mqtt)))[0];

        Assert.False(line.Ok);
        Assert.Contains("unreachable", line.Text);
        Assert.Contains("network", line.Fix);
    }

    [Fact]
    public async Task An_unsynced_clock_a_lens_not_calibrated_and_a_disabled_service_each_say_what_to_do()
    {
        File.Delete(Path.Combine(kernel.Files.Root, "run/systemd/timesync/synchronized"));

        var lines = await CheckAsync(Options(broker.ClientOptions("hu-0042")), Calibrated(bed: false), new ServiceState(Enabled: false, Active: true));

        Assert.Contains(lines, l => !l.Ok && l.Text == "clock not synced" && l.Fix!.Contains("NTP"));
        Assert.Contains(lines, l => !l.Ok && l.Text == "lens not calibrated: bed" && l.Fix!.Contains("--position bed"));
        Assert.Contains(lines, l => !l.Ok && l.Text == "service not enabled" && l.Fix == "sudo systemctl enable --now homeunit");
        var text = ProvisionCheck.Format(lines);
        Assert.EndsWith("3 to fix, then check again\n", text);
        Assert.All(text.Split('\n'), row => Assert.True(row.Length <= 72, $"too wide for a phone: {row}"));
    }

    public async Task DisposeAsync()
    {
        await broker.DisposeAsync();
        kernel.Dispose();
        directory.Dispose();
    }
}
