using HomeUnit.TestSupport;
using HomeUnit.Agent;
using HomeUnit.Agent.Hosting;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Tests.Infrastructure;

namespace HomeUnit.Tests.Hosting;

/// <summary>Bad configuration stops the agent with a message naming the key, before any hardware is touched.</summary>
public sealed class ConfigurationTests : IDisposable
{
    private readonly TempDirectory directory = new();

    private IReadOnlyList<string> ProblemsWith(params string[] settings)
    {
        Directory.CreateDirectory(directory.Combine("root"));
        var defaults = new[] { "DeviceId=unit-1", $"Hardware:Root={directory.Combine("root")}", $"State:Directory={directory.Combine("state")}" };
        var (configuration, loadProblems) = AgentHost.Load(new ConfigurationSources(null, [.. defaults, .. settings], Simulate: false));
        return configuration is null ? loadProblems : AgentHost.Bind(configuration).Problems;
    }

    [Fact]
    public void A_valid_configuration_has_no_problems() => Assert.Empty(ProblemsWith());

    [Theory]
    [InlineData("DeviceId=", "DeviceId: missing")]
    [InlineData("DeviceId=unit/+/#", "DeviceId: 'unit/+/#' may hold only")]
    [InlineData("Policy:MaxSessionSeconds=1000", "Policy:MaxSessionSeconds: 1000 must lie within 5–300")]
    [InlineData("Policy:MaxSessionSeconds=lots", "'Policy:MaxSessionSeconds'")]
    [InlineData("Policy:ClockSkewSeconds=90", "Policy:ClockSkewSeconds: 90")]
    [InlineData("Servo:BedMicroseconds=3000", "Servo:BedMicroseconds is 3000 µs")]
    [InlineData("Servo:SettleMilliseconds=10", "Servo:SettleMilliseconds: 10")]
    [InlineData("Hardware:Root=/no/such/root", "Hardware:Root: '/no/such/root' does not exist")]
    [InlineData("Hardware:PwmChannel=99", "Hardware:PwmChannel: 99")]
    [InlineData("NotAKeyValue", "--set: 'NotAKeyValue' is not Key=Value")]
    public void A_bad_value_is_reported_with_its_key(string setting, string expected)
    {
        Assert.Contains(ProblemsWith(setting), p => p.Contains(expected, StringComparison.Ordinal));
    }

    private static string[] Central(int index, string issuer, string role, params string[] kids) =>
        [$"Trust:Centrals:{index}:Issuer={issuer}", $"Trust:Centrals:{index}:Role={role}", .. kids.Select((k, i) => $"Trust:Centrals:{index}:Keys:{i}={k}")];

    [Fact]
    public void Several_centrals_are_a_valid_configuration() =>
        Assert.Empty(ProblemsWith([.. Central(0, "kalix-larm", "primary", "kalix-1", "kalix-2"), .. Central(1, "supplier", "standby", "supplier-1")]));

    [Fact]
    public void Centrals_need_one_primary_distinct_issuers_and_keys_of_their_own()
    {
        var problems = ProblemsWith([.. Central(0, "a", "standby", "k1"), .. Central(1, "a", "backup", "k1"), .. Central(2, "c", "standby")]);

        Assert.Contains(problems, p => p.StartsWith("Trust:Centrals: exactly one central must be primary (0 are)", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Trust:Centrals:1:Issuer: 'a' is named twice", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Trust:Centrals:1:Role: 'backup'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Trust:Centrals:1:Keys: key 'k1' is named twice", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Trust:Centrals:2:Keys: give at least one key id", StringComparison.Ordinal));
        Assert.Contains(ProblemsWith([.. Central(0, "a", "primary", "k1"), .. Central(1, "b", "primary", "k2")]), p => p.Contains("(2 are)", StringComparison.Ordinal));
    }

    [Fact]
    public void Later_sources_win_over_the_config_file()
    {
        var file = directory.Combine("homeunit.json");
        File.WriteAllText(file, """{ "DeviceId": "from-file", "Policy": { "MaxSessionSeconds": 40 } }""");
        var (configuration, _) = AgentHost.Load(new ConfigurationSources(file, ["DeviceId=from-command-line"], Simulate: false));
        Assert.Equal("from-command-line", configuration!["DeviceId"]);
        Assert.Equal("40", configuration["Policy:MaxSessionSeconds"]);
    }

    [Fact]
    public void A_broken_or_missing_config_file_is_reported_not_thrown()
    {
        var file = directory.Combine("broken.json");
        File.WriteAllText(file, "{ \"DeviceId\": ");
        Assert.Contains("configuration file", Assert.Single(AgentHost.Load(new ConfigurationSources(file, [], false)).Problems));
        Assert.Contains("does not exist", Assert.Single(AgentHost.Load(new ConfigurationSources(directory.Combine("none.json"), [], false)).Problems));
    }

    [Fact]
    public async Task The_agent_refuses_to_start_on_bad_configuration_and_leaves_the_hardware_untouched()
    {
        using var kernel = SimulatedKernel.Create(directory.Combine("root"));
        var before = Snapshot(kernel.Files.Root);

        var (exitCode, output) = await AgentProcess.RunAsync(
            ["run", "--set", $"Hardware:Root={kernel.Files.Root}", "--set", $"State:Directory={directory.Combine("state")}",
             "--set", "DeviceId=unit-1", "--set", "Policy:MaxSessionSeconds=0"]);

        Assert.Equal(Program.ExitBadConfiguration, exitCode);
        Assert.Contains("Policy:MaxSessionSeconds", output);
        Assert.Equal(before, Snapshot(kernel.Files.Root));
        Assert.False(Directory.Exists(directory.Combine("state")));
    }

    [Fact]
    public async Task Simulation_on_the_real_root_is_refused_before_any_kernel_file_is_written()
    {
        var (exitCode, output) = await AgentProcess.RunAsync(
            ["run", "--simulate", "--set", "Hardware:Root=/", "--set", $"State:Directory={directory.Combine("state")}"]);

        Assert.Equal(Program.ExitBadConfiguration, exitCode);
        Assert.Contains("Hardware:Root: --simulate", output);
        Assert.False(File.Exists("/sim/privacy-button"));
        Assert.False(Directory.Exists(directory.Combine("state")));
    }

    [Fact]
    public async Task An_unwritable_state_directory_stops_the_agent_with_a_clear_reason_not_a_crash()
    {
        using var kernel = SimulatedKernel.Create(directory.Combine("root"));
        Directory.CreateDirectory(directory.Combine("state"));
        using var readOnly = new Immutable(directory.Combine("state"));

        var (exitCode, output) = await AgentProcess.RunAsync(
            ["run", "--simulate", "--set", $"Hardware:Root={kernel.Files.Root}", "--set", $"State:Directory={directory.Combine("state")}"]);

        Assert.Equal(Program.ExitFailed, exitCode);
        Assert.Contains("State:Directory: the state database", output);
        Assert.DoesNotContain("Unhandled exception", output);
    }

    [Fact]
    public async Task Safe_state_verb_turns_the_lens_up_with_pwm_off_ir_off_and_red_even_when_other_settings_are_wrong()
    {
        using var kernel = SimulatedKernel.Create(directory.Combine("root"));
        kernel.Files.Write("sys/class/leds/homeunit-green/brightness", "1");
        kernel.Files.Write("sys/class/leds/homeunit-ir/brightness", "1");

        var (exitCode, output) = await AgentProcess.RunAsync(
            ["safe-state", "--set", $"Hardware:Root={kernel.Files.Root}", "--set", "Servo:SettleMilliseconds=50",
             // Wrong, but nothing to do with making the unit safe: they must not stop it.
             "--set", "Camera:FfmpegPath=/no/ffmpeg", "--set", "Policy:MaxSessionSeconds=400", "--set", "DeviceId="]);

        Assert.True(exitCode == 0, output);
        Assert.Equal("1", kernel.Files.Read("sys/class/leds/homeunit-red/brightness"));
        Assert.Equal("0", kernel.Files.Read("sys/class/leds/homeunit-green/brightness"));
        Assert.Equal("0", kernel.Files.Read("sys/class/leds/homeunit-ir/brightness"));
        Assert.Equal("0", kernel.Files.Read("sys/class/pwm/pwmchip0/pwm0/enable"));
        Assert.Equal("600000", kernel.Files.Read("sys/class/pwm/pwmchip0/pwm0/duty_cycle"));
    }

    private static Dictionary<string, string> Snapshot(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => new FileInfo(f).LinkTarget is null)
            .ToDictionary(f => f, File.ReadAllText);

    public void Dispose() => directory.Dispose();
}
