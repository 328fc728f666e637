using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Drivers.Camera;

/// <summary>
/// One process of the capture pipeline: it cannot outlive the agent, and it stops when asked.
/// <list type="bullet">
/// <item>It is started through <c>setpriv --pdeathsig KILL</c>, which arms PR_SET_PDEATHSIG and then execs the
/// program: the kernel sends SIGKILL when the thread that forked it ends. Hence every child is forked by one
/// dedicated thread that lives as long as the agent; a thread-pool thread could retire and take the capture with it.</item>
/// <item>Its environment holds only PATH: no FFREPORT (which would make ffmpeg write a log file), no locale or
/// configuration lookups. Its stdin, stdout and stderr are pipes to the agent; stderr is always drained, and its
/// last lines are kept in memory to explain a failure. It inherits no other descriptor (all are made
/// close-on-exec before each start) and a core limit of 0: a crash mid-look writes no core file, which would
/// hold frames and the stream passphrase (P4).</item>
/// <item>Stop: SIGTERM, SIGKILL after <see cref="KillAfter"/>, return once the process has been reaped.</item>
/// </list>
/// </summary>
internal sealed partial class ChildProcess : IDisposable
{
    public static readonly TimeSpan KillAfter = TimeSpan.FromSeconds(1);

    // A process that survives SIGKILL this long is stuck in the kernel (uninterruptible sleep in a driver).
    private static readonly TimeSpan ReapAfterKill = TimeSpan.FromSeconds(5);
    private const int ErrorLinesKept = 20;
    private const int SigKill = 9;
    private const int SigTerm = 15;

    private static readonly BlockingCollection<(ProcessStartInfo Start, TaskCompletionSource<Process> Started)> Spawns = [];

    private readonly Process process;
    private readonly ConcurrentQueue<string> errorTail = new();
    private readonly Task errorDrained;

    static ChildProcess()
    {
        // The limit is inherited by every child; the process that runs the capture must not dump core either.
        ProcessHardening.NoCoreFiles();
        var spawner = new Thread(() =>
        {
            foreach (var (start, started) in Spawns.GetConsumingEnumerable())
            {
                try
                {
                    ProcessHardening.CloseDescriptorsOnExec();
                    started.SetResult(Process.Start(start) ?? throw new InvalidOperationException("no process was started"));
                }
                catch (Exception e)
                {
                    started.SetException(e);
                }
            }
        })
        {
            IsBackground = true,
            Name = "capture spawner",
        };
        spawner.Start();
    }

    private ChildProcess(Process process, string name)
    {
        this.process = process;
        Name = name;
        Id = process.Id;
        errorDrained = DrainErrorsAsync();
        Exited = WaitForExitAsync();
    }

    /// <summary>The program's file name, for messages.</summary>
    public string Name { get; }

    public int Id { get; }

    /// <summary>Completes with the exit code (128 + signal when killed) once the process has been reaped.</summary>
    public Task<int> Exited { get; }

    public Stream Input => process.StandardInput.BaseStream;

    public Stream Output => process.StandardOutput.BaseStream;

    public StreamReader OutputText => process.StandardOutput;

    public static async Task<ChildProcess> StartAsync(string setpriv, string program, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(setpriv)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in (IEnumerable<string>)["--pdeathsig", "KILL", "--", program, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment.Clear();
        start.Environment["PATH"] = "/usr/bin:/bin";
        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Spawns.Add((start, started));
        return new ChildProcess(await started.Task, Path.GetFileName(program));
    }

    /// <summary>The last lines the process wrote to stderr, complete once it has exited.</summary>
    public async Task<IReadOnlyList<string>> ErrorTailAsync()
    {
        await errorDrained;
        return [.. errorTail];
    }

    /// <summary>SIGTERM, SIGKILL after <see cref="KillAfter"/>; returns once the process is gone.</summary>
    public async Task StopAsync()
    {
        Signal(SigTerm);
        if (await Task.WhenAny(Exited, Task.Delay(KillAfter)) == Exited)
        {
            return;
        }
        Signal(SigKill);
        if (await Task.WhenAny(Exited, Task.Delay(ReapAfterKill)) != Exited)
        {
            throw new HardwareFault($"{Name} (pid {Id}) is still there {ReapAfterKill.TotalSeconds:F0} s after SIGKILL");
        }
    }

    /// <summary>Ends the process's stdin (end of stream for a reader such as ffmpeg on pipe:0).</summary>
    public void CloseInput()
    {
        try
        {
            process.StandardInput.Dispose();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The process has gone already.
        }
    }

    public void Dispose() => process.Dispose();

    private void Signal(int signal)
    {
        // HasExited turns true when .NET reaps the child, and only then can its pid be given to another process.
        if (!process.HasExited)
        {
            _ = Kill(Id, signal);
        }
    }

    private async Task<int> WaitForExitAsync()
    {
        await process.WaitForExitAsync();
        return process.ExitCode;
    }

    private async Task DrainErrorsAsync()
    {
        try
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
            {
                errorTail.Enqueue(line.Length > 300 ? line[..300] : line);
                while (errorTail.Count > ErrorLinesKept && errorTail.TryDequeue(out _))
                {
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The pipe went away with the process; what was read is kept.
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
