namespace HomeUnit.Bench;

/// <summary>Benchmarks that print machine-readable figures, one JSON object per line. <c>args[0]</c> picks the bench.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "fuzz-tokens": return await TokenFuzz.RunAsync(args);
            case "time-to-picture": return await TimeToPicture.RunAsync(args[1..]);
            case "link": return await LinkBench.RunAsync();
            case "fuzz-inputs": return await InputFuzz.RunAsync(args[1..]);
            case "footprint": return await Footprint.RunAsync(args[1..]);
            case "soak": return await Soak.RunAsync(args[1..]);
            case "cluster": return await ClusterBench.RunAsync();
            case "fleet": return await Fleet.RunAsync(args[1..]);
            default:
                Console.Error.WriteLine("usage: HomeUnit.Bench <bench> [options]; benches: fuzz-tokens [count] [seed], fuzz-inputs [inbound=20000] [seed], time-to-picture [looks=20] [holdFrames=30], link, footprint [--seconds 60] [--starts 5] [--simulate] [--baseline-agent DIR] [--agent-property P=V] [--agent-env K=V], soak [--minutes 30] [--seed 1], cluster, fleet [--units 100,500,1000] [--look-seconds 5] [--cluster]");
                return 2;
        }
    }
}
