using System.Diagnostics;
using System.Text;

namespace HomeUnit.TestSupport;

/// <summary>
/// A real executable of the product run as its own process: <c>homeunit</c> (as systemd would run it) or the
/// <c>homeunit-central</c> tool (as an integrator would), for the demo and the tests.
/// </summary>
public sealed class AgentProcess : IDisposable
{
    /// <summary>
    /// The agent to run (the central tool always runs from this build): an executable such as an installed package's <c>/usr/bin/homeunit</c>, or a
    /// script that runs one in another root. Taken from <c>HOMEUNIT_AGENT</c>; unset, the build's own
    /// <c>homeunit.dll</c> beside this assembly runs with <c>dotnet</c>.
    /// </summary>
    public static string? Executable { get; set; } = Environment.GetEnvironmentVariable("HOMEUNIT_AGENT") is { Length: > 0 } path ? path : null;

    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly StringBuilder standardOutput = new();

    public const string Agent = "homeunit.dll";
    public const string Central = "homeunit-central.dll";

    private AgentProcess(IEnumerable<string> arguments, IDictionary<string, string>? environment, string program)
    {
        var start = new ProcessStartInfo(program == Agent && Executable is not null ? Executable : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (program != Agent || Executable is null)
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, program));
        }
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                {
                    output.AppendLine(e.Data);
                    standardOutput.AppendLine(e.Data);
                }
                Line?.Invoke(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => process.Id;

    /// <summary>Each line the process prints on stdout (the agent's timeline with <c>--timeline</c>), as it comes.</summary>
    public event Action<string>? Line;

    /// <summary>What it printed on stdout only.</summary>
    public string StandardOutput
    {
        get { lock (output) return standardOutput.ToString(); }
    }

    public string Output
    {
        get { lock (output) return output.ToString(); }
    }

    public static AgentProcess Start(IEnumerable<string> arguments, IDictionary<string, string>? environment = null, string program = Agent) => new(arguments, environment, program);

    /// <summary>Runs to completion and returns the exit code and everything printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(IEnumerable<string> arguments, IDictionary<string, string>? environment = null, TimeSpan? timeout = null, string program = Agent)
    {
        using var agent = Start(arguments, environment, program);
        await agent.process.WaitForExitAsync().WaitAsync(timeout ?? TimeSpan.FromSeconds(60));
        agent.process.WaitForExit();
        return (agent.process.ExitCode, agent.Output);
    }

    public bool HasExited => process.HasExited;

    public void KillHard() => Process.Start("kill", ["-9", process.Id.ToString()])!.WaitForExit();

    /// <summary>SIGTERM, as systemd stops the service.</summary>
    public void Terminate() => Process.Start("kill", ["-TERM", process.Id.ToString()])!.WaitForExit();

    public Task WaitForExitAsync(TimeSpan timeout) => process.WaitForExitAsync().WaitAsync(timeout);

    public int ExitCode => process.ExitCode;

    public static bool IsAlive(int pid)
    {
        // Field 3 of /proc/PID/stat is the state; a zombie (Z) or dead (X) process is gone.
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            return text[(text.LastIndexOf(')') + 2)] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        process.Dispose();
    }
}
