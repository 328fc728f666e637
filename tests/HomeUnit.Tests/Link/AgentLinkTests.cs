using HomeUnit.TestSupport;
using CentralClient = HomeUnit.Central.CentralClient;
using System.Text.Json;
using HomeUnit.Agent;
using HomeUnit.Agent.Link;
using HomeUnit.Mqtt;
using HomeUnit.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HomeUnit.Tests.Link;

/// <summary>The real <c>homeunit run --simulate</c> process talking to a real broker over mTLS.</summary>
public sealed class AgentLinkTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string DeviceId = "unit-k";
    private const string StatusTopic = "homeunit/v1/unit-k/status";

    private readonly TestLog log = new(output);
    private readonly TempDirectory directory = new();
    private LocalBroker broker = null!;

    public async Task InitializeAsync() => broker = await LocalBroker.LaunchAsync();

    public async Task DisposeAsync()
    {
        output.WriteLine(broker.Log);
        await broker.DisposeAsync();
        directory.Dispose();
    }

    private static string State(MqttMessage message) => JsonDocument.Parse(message.Payload).RootElement.GetProperty("state").GetString()!;

    [Fact]
    public async Task Agent_is_online_while_running_and_its_will_marks_it_offline_when_killed_with_sigkill()
    {
        await using var central = await CentralClient.ConnectAsync(broker.ClientOptions("central"), log.For<CentralClient>(), ["homeunit/v1/+/status", "homeunit/v1/+/event"]);
        var tls = broker.ClientOptions(DeviceId);
        var state = directory.Combine("state");
        using var agent = AgentProcess.Start([
            "run", "--simulate",
            "--set", $"DeviceId={DeviceId}",
            "--set", $"State:Directory={state}",
            "--set", $"Hardware:Root={Path.Combine(state, "kernel")}",
            "--set", $"Trust:KeysDirectory={Path.Combine(state, "trust")}",
            "--set", $"Mqtt:Host={LocalBroker.Host}",
            "--set", $"Mqtt:Port={broker.Port}",
            "--set", $"Mqtt:CaFile={tls.CaFile}",
            "--set", $"Mqtt:CertFile={tls.CertFile}",
            "--set", $"Mqtt:KeyFile={tls.KeyFile}",
        ]);

        try
        {
            await central.WaitForAsync(m => m.Topic == StatusTopic && State(m) == "online", "the agent's online status", TimeSpan.FromSeconds(90));
            await central.WaitForAsync(m => m.Topic == "homeunit/v1/unit-k/event" && m.Payload.AsSpan().IndexOf("\"agent.started\""u8) >= 0, "agent.started through the outbox");
        }
        finally
        {
            output.WriteLine(agent.Output);
        }

        agent.KillHard();

        await central.WaitForAsync(m => m.Topic == StatusTopic && State(m) == "offline", "the will's offline status");
        await using var late = await CentralClient.ConnectAsync(broker.ClientOptions("central"), log.For<CentralClient>(), ["homeunit/v1/+/status"], "central-late");
        var retained = await late.WaitForAsync(m => m.Topic == StatusTopic, "the retained status");
        Assert.True(retained.Retained);
        Assert.Equal("offline", State(retained));
    }

    [Fact]
    public async Task Agent_refuses_to_run_over_plain_tcp_outside_simulation()
    {
        Directory.CreateDirectory(directory.Combine("root"));

        var (exitCode, text) = await AgentProcess.RunAsync([
            "run", "--set", $"DeviceId={DeviceId}", "--set", $"Hardware:Root={directory.Combine("root")}", "--set", $"State:Directory={directory.Combine("state")}",
        ]);

        Assert.Equal(Program.ExitBadConfiguration, exitCode);
        Assert.Contains("Mqtt:CaFile: mTLS is required", text, StringComparison.Ordinal);
        Assert.False(Directory.Exists(directory.Combine("state")));
    }
}
