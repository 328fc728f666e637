using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Ledger;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.Session;
using HomeUnit.Agent.State;
using HomeUnit.Drivers;
using HomeUnit.Mqtt;
using System.Device.Gpio;
using System.Device.Gpio.Drivers;
using HomeUnit.Drivers.Camera;
using HomeUnit.Drivers.Gpio;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Protocol;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace HomeUnit.Agent.Hosting;

/// <summary>What the command line says about where configuration comes from.</summary>
public sealed record ConfigurationSources(string? ConfigFile, IReadOnlyList<string> Settings, bool Simulate);

/// <summary>Loads and validates configuration, and composes the agent's services.</summary>
public static class AgentHost
{
    public const string SystemConfigFile = "/etc/homeunit/homeunit.json";
    public const string EnvironmentPrefix = "HOMEUNIT_";

    /// <summary>
    /// /etc/homeunit/homeunit.json, then --config FILE, then HOMEUNIT_ variables, then --set Key=Value.
    /// Under --simulate a unit needs no files: a device id and a state directory in /tmp are given first.
    /// </summary>
    public static (IConfigurationRoot? Configuration, IReadOnlyList<string> Problems) Load(ConfigurationSources sources)
    {
        var problems = new List<string>();
        var builder = new ConfigurationBuilder();
        if (sources.Simulate)
        {
            var state = Path.Combine(Path.GetTempPath(), "homeunit-sim");
            builder.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["DeviceId"] = "sim-unit-1",
                ["State:Directory"] = state,
                ["Hardware:Root"] = Path.Combine(state, "kernel"),
                ["Trust:KeysDirectory"] = Path.Combine(state, "trust"),
                ["Servo:SettleMilliseconds"] = "300",
                ["Camera:Source"] = CameraSources.TestSource,
                // A local broker without certificates is fine for simulation (design §6).
                ["Mqtt:AllowInsecure"] = "true",
            });
        }
        builder.AddJsonFile(SystemConfigFile, optional: true);
        if (sources.ConfigFile is { } file)
        {
            if (!File.Exists(file))
            {
                return (null, [$"--config: {file} does not exist"]);
            }
            builder.AddJsonFile(Path.GetFullPath(file), optional: false);
        }
        builder.AddEnvironmentVariables(EnvironmentPrefix);
        var settings = new Dictionary<string, string?>();
        foreach (var setting in sources.Settings)
        {
            var at = setting.IndexOf('=');
            if (at <= 0)
            {
                problems.Add($"--set: '{setting}' is not Key=Value");
                continue;
            }
            settings[setting[..at].Trim()] = setting[(at + 1)..];
        }
        builder.AddInMemoryCollection(settings);
        try
        {
            return (problems.Count == 0 ? builder.Build() : null, problems);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException)
        {
            return (null, [$"configuration file: {e.Message}"]);
        }
    }

    /// <summary>Binds and validates; a wrongly typed value is reported with its key, never thrown.</summary>
    public static (AgentOptions? Options, IReadOnlyList<string> Problems) Bind(IConfiguration configuration, bool hardwareOnly = false)
    {
        try
        {
            var options = configuration.Get<AgentOptions>() ?? new AgentOptions();
            var problems = hardwareOnly ? options.ValidateHardware() : options.Validate();
            return (problems.Count == 0 ? options : null, problems);
        }
        catch (InvalidOperationException e)
        {
            // The binder names the key: "Failed to convert configuration value '…' at 'Policy:MaxSessionSeconds' to type …".
            return (null, [e.Message]);
        }
    }

    public static HardwareSettings HardwareSettings(AgentOptions options) => new(
        options.Hardware.Root,
        options.Hardware.PwmDevice,
        options.Hardware.PwmChannel,
        options.Hardware.PowerSupply,
        options.Servo.Calibration(),
        TimeSpan.FromMilliseconds(options.Servo.SettleMilliseconds));

    /// <summary>The unit's parts as configured, for the daemon and the one-shot verbs alike.</summary>
    public static UnitHardware CreateHardware(AgentOptions options, HardwareTimeline timeline) =>
        new(HardwareSettings(options), timeline, () => new FfmpegCamera(options.Camera, new KernelFiles(options.Hardware.Root), timeline));

    /// <summary>The self-test on its own, for the <c>selftest</c> verb (no daemon, so nothing else uses the camera).</summary>
    public static SelfTest CreateSelfTest(AgentOptions options, UnitHardware hardware) =>
        new(CreateHealthReadings(options, hardware), hardware.Camera.CheckAsync, new HealthState());

    public static HealthReadings CreateHealthReadings(AgentOptions options, UnitHardware hardware) =>
        new(hardware, new ClockTrust(new KernelFiles(options.Hardware.Root)),
            new HealthSettings(options.State.Directory, options.Camera.Device, MinFreeBytes: options.Health.MinFreeMegabytes * 1024L * 1024));

    /// <summary>Whether a Hardware:Root names the machine's own root (where the real sysfs lives).</summary>
    public static bool IsRealRoot(string? root) =>
        !string.IsNullOrWhiteSpace(root) && Path.GetFullPath(root).TrimEnd('/') == "";

    /// <summary>The simulated kernel tree is laid out under Hardware:Root before anything reads it.</summary>
    public static SimulatedKernel? PrepareSimulation(ConfigurationSources sources, IConfiguration configuration) =>
        sources.Simulate ? SimulatedKernel.Create(configuration["Hardware:Root"]!) : null;

    /// <summary>What the ledger notes as the unit's conditions: its faults and whether the link is up.</summary>
    internal static HashSet<Condition> UnitConditions(HealthState health, LinkService link, PrivacyPause pause)
    {
        var now = health.Faults.Select(Condition.Of).ToHashSet();
        if (link.Status.State != LinkState.Online)
        {
            now.Add(Condition.Offline);
        }
        if (pause.Until is not null)
        {
            now.Add(Condition.PrivacyPaused);
        }
        return now;
    }

    /// <summary>The privacy button: the simulated GPIO driver on the simulated tree, libgpiod on a Pi.</summary>
    public static PrivacyButton CreateButton(AgentOptions options, HardwareTimeline timeline, bool simulated)
    {
        GpioDriver driver = simulated
            ? new SimulatedGpioDriver(new KernelFiles(options.Hardware.Root), new Dictionary<int, string> { [options.Hardware.ButtonPin] = SimulatedKernel.PrivacyButtonFile })
            : new LibGpiodDriver(options.Hardware.ButtonChip);
        return new PrivacyButton(new GpioController(driver), options.Hardware.ButtonPin, timeline);
    }

    /// <summary>
    /// The agent's one composition, for the daemon and for whoever hosts units in-process (the fleet bench).
    /// <paramref name="overrides"/> runs last and may replace a part (a stand-in camera) or remove a loop.
    /// </summary>
    public static IHost Build(AgentOptions options, IConfigurationRoot configuration, TrustedKeys trustedKeys, SimulatedKernel? simulation, RunFlags flags,
        Action<IServiceCollection>? overrides = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            Configuration = new ConfigurationManager(),
        });
        builder.Configuration.AddConfiguration(configuration);
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(flags.LiveView ? LogLevel.Warning : LogLevel.Information);
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        // Started by systemd (and only then): READY and STOPPING, and the journald log format.
        builder.Services.AddSystemd();

        var timeline = new HardwareTimeline(simulation is null ? null : Path.Combine(options.State.Directory, "timeline.jsonl"));
        if (flags.PrintTimeline)
        {
            timeline.Recorded += entry => Console.Out.WriteLine($"timeline {entry}");
        }
        if (simulation is not null)
        {
            builder.Services.AddSingleton(simulation);
        }
        builder.Services.AddAgent(options, trustedKeys, new AgentSeams { Timeline = timeline, SimulatedButton = simulation is not null });
        if (flags.LiveView)
        {
            builder.Services.AddHostedService<LiveView>();
        }
        overrides?.Invoke(builder.Services);
        return builder.Build();
    }
}

/// <summary>How <c>run</c> was asked to behave.</summary>
public sealed record RunFlags(bool LiveView, bool PrintTimeline);
