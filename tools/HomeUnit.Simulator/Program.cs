using System.CommandLine;
using HomeUnit.Central;
using HomeUnit.TestSupport;

namespace HomeUnit.Simulator;

/// <summary>
/// <c>homeunit-sim</c>: a simulated unit (the real agent on a simulated kernel tree, the test-pattern camera), a local
/// mosquitto over mTLS and a simulated central, all on this machine. The night demo is what a newcomer runs first;
/// the upgrade rehearsal is what the package tests run.
/// </summary>
public static class Program
{
    public static Task<int> Main(string[] args) => HomeUnit.Central.Program.RunAsync(Build(), args);

    public static RootCommand Build()
    {
        var root = new RootCommand("""
            HomeUnit simulator: a night of supervision on a simulated unit, told as it happens, and the upgrade rehearsal.
            Exit codes: 0 done, 1 a step failed, 2 bad input, 3 broker unreachable.
            """);
        root.Subcommands.Add(DemoCommand());
        root.Subcommands.Add(UpgradeRehearsalCommand());
        return root;
    }

    private static Command DemoCommand()
    {
        var fast = new Option<bool>("--fast") { Description = "a shorter night (about 20 seconds): shorter looks, the self-test asked for at once" };
        var seconds = new Option<int?>("--seconds") { Description = "how long each look streams (default 8, 4 with --fast)" };
        var handover = new Option<bool>("--handover") { Description = "instead: the primary hands supervision to a standby centre and goes away, the standby performs a check, the primary takes back" };
        var agent = new Option<string?>("--agent") { Description = "the unit's executable, e.g. an installed package's /usr/bin/homeunit (default: HOMEUNIT_AGENT, which scripts/demo sets to this checkout's build)" };
        var command = new Command("demo", "a night of supervision on a simulated unit, told as it happens: care plan, scheduled look, follow-up, a refused look, a power cut and 'send staff'") { fast, seconds, handover, agent };
        command.SetAction((parse, cancel) =>
        {
            if (parse.GetValue(agent) is { } executable)
            {
                AgentProcess.Executable = executable;
            }
            var look = parse.GetValue(seconds) ?? (parse.GetValue(fast) ? 4 : 8);
            if (look is < 1 or > 60)
            {
                throw new BadInputException("--seconds must be 1–60");
            }
            return parse.GetValue(handover) ? HandoverDemo.RunAsync(look, cancel) : Demo.RunAsync(parse.GetValue(fast), look, cancel);
        });
        return command;
    }

    private static Command UpgradeRehearsalCommand()
    {
        var agent = new Option<string>("--agent") { Description = "The unit's executable, replaced by the upgrade (an installed package's /usr/bin/homeunit)", Required = true };
        var upgrade = new Option<string>("--upgrade") { Description = "The shell command that installs the new version (e.g. dpkg -i)", Required = true };
        var command = new Command("upgrade-rehearsal", "A package upgrade during a look on a unit with history: every record delivered, the chain intact, the camera off, the replay cache kept") { agent, upgrade };
        command.SetAction((parse, _) =>
        {
            AgentProcess.Executable = parse.GetValue(agent);
            return UpgradeRehearsal.RunAsync(parse.GetValue(upgrade)!);
        });
        return command;
    }
}
