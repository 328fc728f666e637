using System.Text.Json;
using HomeUnit.TestSupport;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Bench;

/// <summary>
/// <c>soak [--minutes 30] [--seed 1]</c>: a night of faults (<see cref="NightOfFaults"/>) — every fault once, then
/// drawn at random until the time is up — and the promises checked at the end. Prints the steps taken, the figures
/// and every violation as JSON; exits 1 if any promise was broken.
/// </summary>
public static class Soak
{
    public static async Task<int> RunAsync(string[] args)
    {
        var minutes = 30.0;
        var seed = 1;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--minutes": minutes = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(args[++i]); break;
                default:
                    Console.Error.WriteLine($"soak: unknown option {args[i]}");
                    return 2;
            }
        }
        using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }).SetMinimumLevel(LogLevel.Information));
        var report = await NightOfFaults.RunAsync(new NightOptions(TimeSpan.FromMinutes(minutes), seed), logging.CreateLogger("soak"));
        Console.WriteLine(JsonSerializer.Serialize(new { bench = "soak", minutes, seed, passed = report.Passed, report.Steps, report.Figures, report.Violations }));
        return report.Passed ? 0 : 1;
    }
}
