namespace HomeUnit.Bench;

/// <summary>Benchmarks that print figures, one JSON object a line. <c>args[0]</c> picks the bench.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "time-to-picture": return await TimeToPicture.RunAsync(args[1..]);
            default:
                await Console.Error.WriteLineAsync("usage: HomeUnit.Bench time-to-picture [looks=20] [holdFrames=30]");
                return 2;
        }
    }
}
