using HomeUnit.TestSupport;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HomeUnit.Tests.Security;

/// <summary>
/// CI-sized fuzz runs against the real unit process (the long run: <c>bench/HomeUnit.Bench fuzz-inputs</c>):
/// every inbound topic at the MQTT payload level, and the unit's kernel files. Each run must leave only
/// refusal records or fault events: no exception, no error, no accepted look or care plan, no green, no capture.
/// </summary>
public sealed class InputFuzzTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const long PlanVersion = 7;
    private readonly TestLog log = new(output);
    private SimulatedCentral central = null!;

    public async Task InitializeAsync()
    {
        central = await SimulatedCentral.StartAsync("unit-fuzz", log.For<SimulatedCentral>());
        central.StartUnit();
        await central.WaitForStatusAsync("online", TimeSpan.FromSeconds(90));
        await central.PublishCarePlanAsync(PlanVersion);
        await central.WaitForAuditAsync(AuditType.CarePlanApplied);
    }

    public async Task DisposeAsync()
    {
        if (central.Agent is { } agent)
        {
            var text = agent.Output;
            output.WriteLine(text.Length > 20_000 ? text[^20_000..] : text);
        }
        await central.DisposeAsync();
    }

    private void Report(FuzzFigures figures)
    {
        output.WriteLine(figures.ToJson());
        Assert.Empty(figures.Problems);
        Assert.Equal(0, figures.Exceptions);
        Assert.Equal(0, figures.Errors);
        Assert.Equal(0, figures.Accepted);
        Assert.Equal(0, figures.Captures);
    }

    [Fact]
    public async Task Every_inbound_topic_fuzzed_at_the_payload_level_leaves_only_refusal_records()
    {
        var figures = await InboundFuzz.RunAsync(central, count: 600, seed: 15, PlanVersion);

        Report(figures); // none accepted, so all 600 refused
        Assert.True(figures.RefusalRecords > 0, "no refusal was recorded");
        Assert.Null(AuditChain.Verify(central.AuditRecords));
    }

    [Fact]
    public async Task Damaged_kernel_files_give_fault_reports_never_a_crash_or_the_camera_and_the_unit_recovers()
    {
        var figures = await DeviceInputFuzz.KernelFilesAsync(central, count: 12, seed: 15);

        Report(figures);
        Assert.True(figures.FaultEvents > 0, "no damaged file was reported as a fault");
    }
}

/// <summary>Fuzzed configuration files given to the real executable: a configuration error each time, nothing else.</summary>
public sealed class ConfigurationFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Fuzzed_configuration_files_stop_the_agent_with_a_message_naming_the_problem()
    {
        var figures = await DeviceInputFuzz.ConfigurationFilesAsync(count: 30, seed: 15);

        output.WriteLine(figures.ToJson());
        Assert.Empty(figures.Problems);
        Assert.Equal(0, figures.Exceptions);
        Assert.Equal(30, figures.Refused);
    }
}
