using HomeUnit.TestSupport;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.Bench;

/// <summary>
/// <c>fuzz-inputs [inbound] [seed]</c>: the long run of the fuzz tests in tests/HomeUnit.Tests/Security, on the real
/// unit process, broker and executable: <c>inbound</c> payloads on every inbound topic (default 20 000), then
/// inbound/500 damaged kernel files (at least 20) and inbound/200 configuration files (at least 50). Prints one
/// JSON line per run; exits 1 if any run accepted, threw, logged an error, captured or found a problem.
/// </summary>
public static class InputFuzz
{
    public static async Task<int> RunAsync(string[] args)
    {
        var inbound = args.Length > 0 ? int.Parse(args[0]) : 20_000;
        var seed = args.Length > 1 ? int.Parse(args[1]) : 20261201;
        var runs = new List<FuzzFigures>();
        await using (var central = await SimulatedCentral.StartAsync("hu-fuzz", NullLogger.Instance))
        {
            central.StartUnit();
            await central.WaitForStatusAsync("online", TimeSpan.FromSeconds(90));
            await central.PublishCarePlanAsync(7);
            await central.WaitForAuditAsync(AuditType.CarePlanApplied);
            runs.Add(Print(await InboundFuzz.RunAsync(central, inbound, seed, 7)));
            runs.Add(Print(await DeviceInputFuzz.KernelFilesAsync(central, Math.Max(20, inbound / 500), seed)));
        }
        runs.Add(Print(await DeviceInputFuzz.ConfigurationFilesAsync(Math.Max(50, inbound / 200), seed)));
        return runs.All(r => r.Accepted == 0 && r.Exceptions == 0 && r.Errors == 0 && r.Captures == 0 && r.Problems.Count == 0) ? 0 : 1;
    }

    private static FuzzFigures Print(FuzzFigures figures)
    {
        Console.WriteLine(figures.ToJson());
        return figures;
    }
}
