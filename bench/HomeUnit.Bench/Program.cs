namespace HomeUnit.Bench;

/// <summary>Benchmarks: <c>dotnet run -c Release --project bench/HomeUnit.Bench -- NAME</c>; each prints one JSON object per line.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "link": return await LinkBench.RunAsync();
            default:
                Console.Error.WriteLine("usage: HomeUnit.Bench link");
                return 2;
        }
    }
}
