using System.CommandLine;
using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.State;
using Spectre.Console;
using HomeUnit.Agent.Provisioning;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Protocol;
using Microsoft.Extensions.Hosting;

namespace HomeUnit.Agent;

/// <summary>The <c>homeunit</c> command line (design §6).</summary>
public static class Program
{
    public const int ExitOk = 0;
    public const int ExitFailed = 1;
    public const int ExitBadConfiguration = 2;

    internal static readonly Option<string?> ConfigOption = new("--config") { Description = "A JSON configuration file (after /etc/homeunit/homeunit.json, before HOMEUNIT_ variables)" };
    internal static readonly Option<string[]> SetOption = new("--set") { Description = "Key=Value overrides, e.g. --set Mqtt:Port=1884 (last word)", AllowMultipleArgumentsPerToken = false };
    internal static readonly Option<bool> SimulateOption = new("--simulate") { Description = "Run the real drivers on a simulated kernel tree with a test-pattern camera" };

    public static async Task<int> Main(string[] args)
    {
        // Every verb may hold a secret (the stream passphrase, the device key): none leaves a core file or an attach point.
        ProcessHardening.NoCoreFilesNorAttach();
        var root = new RootCommand("HomeUnit: the agent in the night-check camera box");
        root.Options.Add(ConfigOption);
        root.Options.Add(SetOption);
        root.Options.Add(SimulateOption);
        foreach (var option in new Option[] { ConfigOption, SetOption, SimulateOption })
        {
            option.Recursive = true;
        }
        root.Subcommands.Add(RunCommand());
        root.Subcommands.Add(SafeStateCommand());
        root.Subcommands.Add(SelfTestCommand());
        root.Subcommands.Add(AuditCommand());
        root.Subcommands.Add(ProvisionCommands.Provision());
        root.Subcommands.Add(ProvisionCommands.Decommission());
        return await root.Parse(args).InvokeAsync();
    }

    internal static ConfigurationSources Sources(ParseResult parse) =>
        new(parse.GetValue(ConfigOption), parse.GetValue(SetOption) ?? [], parse.GetValue(SimulateOption));

    private static Command RunCommand()
    {
        var view = new Option<bool>("--view") { Description = "Show the light, lens and capture live in the terminal" };
        var timeline = new Option<bool>("--timeline") { Description = "Print every hardware transition as it happens" };
        var command = new Command("run", "Run the agent (the daemon)") { view, timeline };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var sources = Sources(parse);
            if (!TryConfigure(sources, out var options, out var configuration, out var simulation))
            {
                return ExitBadConfiguration;
            }
            using (simulation)
            {
                if (options.Mqtt.Validate() is { Count: > 0 } linkProblems)
                {
                    return Fail(linkProblems);
                }
                if (options.Mqtt.KeyFile is { } keyFile && DeviceKeyFile.Problem(keyFile) is { } keyProblem)
                {
                    return Fail([keyProblem]);
                }
                if (sources.Simulate)
                {
                    Directory.CreateDirectory(options.Trust.KeysDirectory);
                }
                TrustedKeys trustedKeys;
                try
                {
                    trustedKeys = options.Trust.LoadKeys();
                }
                catch (InvalidDataException e)
                {
                    return Fail([$"Trust:KeysDirectory: {e.Message}"]);
                }
                IHost host;
                try
                {
                    host = AgentHost.Build(options, configuration, trustedKeys, simulation, new RunFlags(parse.GetValue(view), parse.GetValue(timeline)));
                }
                catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or StateSchemaException or IOException or UnauthorizedAccessException)
                {
                    // No durable state, no looks: say why and exit; systemd's ExecStopPost makes the hardware safe and restarts us.
                    Console.Error.WriteLine($"homeunit: State:Directory: the state database in {options.State.Directory} cannot be opened: {e.Message}");
                    return ExitFailed;
                }
                using (host)
                {
                    await host.RunAsync(cancellationToken);
                }
            }
            return ExitOk;
        });
        return command;
    }

    private static Command SafeStateCommand()
    {
        var command = new Command("safe-state", "Lens up with PWM off, IR off, red light (systemd's ExecStopPost)");
        command.SetAction(async parse =>
        {
            if (!TryConfigure(Sources(parse), out var options, out _, out var simulation, hardwareOnly: true))
            {
                return ExitBadConfiguration;
            }
            using (simulation)
            {
                using var hardware = AgentHost.CreateHardware(options, new HardwareTimeline());
                var faults = await hardware.DriveSafeStateAsync();
                foreach (var fault in faults)
                {
                    Console.Error.WriteLine($"safe-state: {fault}");
                }
                return faults.Count == 0 ? ExitOk : ExitFailed;
            }
        });
        return command;
    }

    private static Command SelfTestCommand()
    {
        var command = new Command("selftest", "Check every part as before a scheduled check: camera frame into memory, servo, lights, power, clock, storage");
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!TryConfigure(Sources(parse), out var options, out _, out var simulation))
            {
                return ExitBadConfiguration;
            }
            using (simulation)
            {
                using var hardware = AgentHost.CreateHardware(options, new HardwareTimeline());
                var result = await AgentHost.CreateSelfTest(options, hardware).RunAsync(cancellationToken);
                var table = new Table().AddColumn("part").AddColumn("result");
                foreach (var (part, verdict) in result.Parts)
                {
                    table.AddRow(part, verdict == ReadinessParts.Ok ? "[green]ok[/]" : $"[red]{Markup.Escape(verdict)}[/]");
                }
                AnsiConsole.Write(table);
                AnsiConsole.MarkupLine(result.Ready ? "[green]ready[/]" : "[red]NOT ready: send staff instead of relying on a look[/]");
                return result.Ready ? ExitOk : ExitFailed;
            }
        });
        return command;
    }

    private static Command AuditCommand()
    {
        var json = new Option<bool>("--json") { Description = "One JSON record per line, as published" };
        var last = new Option<int?>("--last") { Description = "Only the newest N records" };
        var list = new Command("list", "Show the audit log") { json, last };
        list.SetAction(parse => WithState(parse, database => AuditCli.List(database, Console.Out, parse.GetValue(json), parse.GetValue(last))));
        var verify = new Command("verify", "Check the hash chain; non-zero and where it broke if a record was edited, deleted or reordered");
        verify.SetAction(parse => WithState(parse, database => AuditCli.Verify(database, Console.Out)));
        var nightsLast = new Option<int?>("--last") { Description = "Only the newest N nights" };
        var nights = new Command("nights", "One row per night: checks planned, looked, followed up, missed, skipped; refusals, faults, time offline") { nightsLast };
        nights.SetAction(parse => WithState(parse, database => AuditCli.Nights(database, Console.Out, parse.GetValue(nightsLast))));
        return new Command("audit", "Who looked, when and for how long") { list, verify, nights };
    }

    private static int WithState(ParseResult parse, Func<StateDatabase, int> action)
    {
        var (configuration, problems) = AgentHost.Load(Sources(parse));
        var directory = configuration?["State:Directory"] ?? new StateOptions().Directory;
        if (configuration is null)
        {
            return Fail(problems);
        }
        if (!File.Exists(Path.Combine(directory, StateDatabase.FileName)))
        {
            Console.Error.WriteLine($"homeunit: no audit log in {directory}");
            return ExitFailed;
        }
        StateDatabase database;
        try
        {
            database = new StateDatabase(directory);
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or StateSchemaException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"homeunit: State:Directory: the state database in {directory} cannot be opened: {e.Message}");
            return ExitFailed;
        }
        return action(database);
    }

    /// <summary>Loads, binds and validates; <paramref name="hardwareOnly"/> checks only what driving the hardware needs.</summary>
    internal static bool TryConfigure(
        ConfigurationSources sources,
        out AgentOptions options,
        out Microsoft.Extensions.Configuration.IConfigurationRoot configuration,
        out Drivers.Kernel.SimulatedKernel? simulation,
        bool hardwareOnly = false)
    {
        options = null!;
        configuration = null!;
        simulation = null;
        var (loaded, loadProblems) = AgentHost.Load(sources);
        if (loaded is null)
        {
            Fail(loadProblems);
            return false;
        }
        // The simulated kernel writes its tree under Hardware:Root: never onto the real /sys and /dev.
        if (sources.Simulate && AgentHost.IsRealRoot(loaded["Hardware:Root"]))
        {
            Fail(["Hardware:Root: --simulate lays a simulated kernel tree under it, so it must not be the real root '/'"]);
            return false;
        }
        simulation = AgentHost.PrepareSimulation(sources, loaded);
        var (bound, problems) = AgentHost.Bind(loaded, hardwareOnly);
        if (bound is null)
        {
            simulation?.Dispose();
            Fail(problems);
            return false;
        }
        options = bound;
        configuration = loaded;
        return true;
    }

    internal static int Fail(IEnumerable<string> problems)
    {
        foreach (var problem in problems)
        {
            Console.Error.WriteLine($"homeunit: configuration: {problem}");
        }
        Console.Error.WriteLine("homeunit: nothing was started and no hardware was touched.");
        return ExitBadConfiguration;
    }
}
