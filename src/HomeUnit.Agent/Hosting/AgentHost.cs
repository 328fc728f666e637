using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Ledger;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.Session;
using HomeUnit.Agent.State;
using HomeUnit.Drivers;
using System.Device.Gpio;
using System.Device.Gpio.Drivers;
using HomeUnit.Drivers.Camera;
using HomeUnit.Drivers.Gpio;
using HomeUnit.Drivers.Kernel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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
        new(HealthChecks(options, hardware), hardware.Camera.CheckAsync, new HealthState());

    private static HealthChecks HealthChecks(AgentOptions options, UnitHardware hardware) =>
        new(hardware, new ClockTrust(hardware.Files),
            new HealthSettings(options.State.Directory, options.Camera.Device, MinFreeBytes: options.Health.MinFreeMegabytes * 1024L * 1024));

    /// <summary>The simulated kernel tree is laid out under Hardware:Root before anything reads it.</summary>
    public static SimulatedKernel? PrepareSimulation(ConfigurationSources sources, IConfiguration configuration) =>
        sources.Simulate ? SimulatedKernel.Create(configuration["Hardware:Root"]!) : null;

    /// <summary>What the ledger notes as the unit's conditions: its faults and whether the link is up.</summary>
    private static HashSet<string> UnitConditions(HealthState health, LinkService link, PrivacyPause pause)
    {
        var now = health.Faults.Select(Conditions.Fault).ToHashSet();
        if (link.Status.State != LinkState.Online)
        {
            now.Add(Conditions.Offline);
        }
        if (pause.Until is not null)
        {
            now.Add(Conditions.PrivacyPaused);
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
        if (Environment.GetEnvironmentVariable("JOURNAL_STREAM") is not null)
        {
            builder.Logging.AddSystemdConsole(o => o.TimestampFormat = null);
        }
        else
        {
            builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        }
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        var timeline = new HardwareTimeline(simulation is null ? null : Path.Combine(options.State.Directory, "timeline.jsonl"));
        if (flags.PrintTimeline)
        {
            timeline.Recorded += entry => Console.Out.WriteLine($"timeline {entry}");
        }
        services.AddSingleton(timeline);
        if (simulation is not null)
        {
            services.AddSingleton(simulation);
        }
        services.AddSingleton(CreateHardware(options, timeline));
        services.AddSingleton(new StateDatabase(options.State.Directory));
        services.AddSingleton(sp => new Outbox(sp.GetRequiredService<StateDatabase>(), options.Mqtt.OutboxCapacity));
        services.AddSingleton(sp => new AuditLog(sp.GetRequiredService<StateDatabase>(), sp.GetRequiredService<Outbox>(), options.DeviceId, TimeProvider.System));
        services.AddSingleton<Events>();
        services.AddSingleton<SessionMachine>();
        services.AddSingleton(SdNotify.FromEnvironment());
        services.AddSingleton<LoopHeartbeats>();
        services.AddSingleton<HealthState>();
        services.AddSingleton(sp => new ClockTrust(sp.GetRequiredService<UnitHardware>().Files));
        services.AddSingleton(sp => HealthChecks(options, sp.GetRequiredService<UnitHardware>()));
        services.AddSingleton(sp => new SelfTest(sp.GetRequiredService<HealthChecks>(), sp.GetRequiredService<SessionMachine>().CheckCameraAsync, sp.GetRequiredService<HealthState>()));
        services.AddSingleton(sp => new LinkService(options.Mqtt, options.DeviceId, sp.GetRequiredService<Outbox>(),
            sp.GetRequiredService<Events>(), sp.GetRequiredService<HealthState>(), TimeProvider.System, sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<Supervision>()));

        services.AddSingleton(new TrustPolicy(options.DeviceId,
            TimeSpan.FromSeconds(options.Policy.ClockSkewSeconds), TimeSpan.FromSeconds(options.Policy.MaxSessionSeconds)));
        services.AddSingleton(trustedKeys);
        services.AddSingleton<SignedTokenReader>();
        services.AddSingleton<GrantVerifier>();
        services.AddSingleton<CommandVerifier>();
        services.AddSingleton<ReplayCache>();
        services.AddSingleton<Supervision>();
        services.AddSingleton<RefusalAudit>();
        services.AddSingleton<CarePlanStore>();
        services.AddSingleton(sp => new LookAuthorizer(
            sp.GetRequiredService<GrantVerifier>(), sp.GetRequiredService<TrustPolicy>(), sp.GetRequiredService<ClockTrust>(),
            sp.GetRequiredService<ReplayCache>(), sp.GetRequiredService<CarePlanStore>(), sp.GetRequiredService<Supervision>(), sp.GetRequiredService<AuditLog>(),
            sp.GetRequiredService<RefusalAudit>(), () => sp.GetRequiredService<HealthState>().BlocksLook, TimeProvider.System,
            sp.GetRequiredService<ILogger<LookAuthorizer>>(), () => sp.GetRequiredService<PrivacyPause>().Until is not null));
        services.AddSingleton(sp => new Readiness(sp.GetRequiredService<SelfTest>(), sp.GetRequiredService<CarePlanStore>(),
            sp.GetRequiredService<Events>(), sp.GetRequiredService<LoopHeartbeats>(), TimeProvider.System,
            TimeSpan.FromMinutes(options.Health.ReadinessLeadMinutes), sp.GetRequiredService<ILogger<Readiness>>()));
        services.AddSingleton(sp => new PrivacyPause(sp.GetRequiredService<SessionMachine>(), sp.GetRequiredService<CarePlanStore>(),
            sp.GetRequiredService<AuditLog>(), sp.GetRequiredService<Events>(), () => CreateButton(options, timeline, simulation is not null),
            sp.GetRequiredService<LoopHeartbeats>(), TimeProvider.System, sp.GetRequiredService<ILogger<PrivacyPause>>()));
        services.AddSingleton(sp => new ConditionLog(sp.GetRequiredService<StateDatabase>()));
        services.AddSingleton(sp => new NightLedger(sp.GetRequiredService<AuditLog>(), sp.GetRequiredService<Events>(),
            sp.GetRequiredService<ConditionLog>(), sp.GetRequiredService<CarePlanStore>(),
            () => UnitConditions(sp.GetRequiredService<HealthState>(), sp.GetRequiredService<LinkService>(), sp.GetRequiredService<PrivacyPause>()),
            () => sp.GetRequiredService<SessionMachine>().Current, sp.GetRequiredService<LoopHeartbeats>(), TimeProvider.System,
            sp.GetRequiredService<ILogger<NightLedger>>()));
        services.AddSingleton<CentralMessages>();
        services.AddSingleton(sp => sp.GetRequiredService<LinkService>().Inbound);

        // Registration order is start order, and stop order reversed. The link starts first (it only
        // connects and queues what arrives) and stops last, so what safety reports while stopping — the
        // end of a running look, agent.stopping — still goes out. Safety then drives the hardware to the
        // safe state before anything can act on a message.
        services.AddHostedService(sp => sp.GetRequiredService<LinkService>());
        services.AddHostedService<SafetyService>();
        services.AddHostedService<SystemdService>();
        services.AddSingleton<HealthMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<HealthMonitor>());
        services.AddHostedService(sp => sp.GetRequiredService<Readiness>());
        services.AddHostedService<RefusalFlush>();
        services.AddHostedService<HandoverExpiry>();
        // A pause left running by the last run is in force again before any grant is handled (PrivacyPause.StartAsync).
        services.AddHostedService(sp => sp.GetRequiredService<PrivacyPause>());
        services.AddHostedService(sp => sp.GetRequiredService<CentralMessages>());
        services.AddHostedService(sp => sp.GetRequiredService<NightLedger>());
        if (flags.LiveView)
        {
            services.AddHostedService<LiveView>();
        }
        overrides?.Invoke(services);
        return builder.Build();
    }
}

/// <summary>How <c>run</c> was asked to behave.</summary>
public sealed record RunFlags(bool LiveView, bool PrintTimeline);
