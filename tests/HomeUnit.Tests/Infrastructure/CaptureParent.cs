using System.Diagnostics;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;
using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Tests.Infrastructure;

/// <summary>
/// The smallest honest stand-in for the agent as the capture's parent process: this test assembly run as a program
/// (<c>dotnet HomeUnit.Tests.dll capture-parent URL STREAMID PASSPHRASE</c>) drives the real <see cref="FfmpegCamera"/>
/// with the test pattern in a process of its own: a self-test, then a look until "stop" arrives on stdin. A test
/// can then kill -9 it, or run its whole process tree under strace.
/// It prints "check ok" (or "check FAULT"), "started PID[,PID]", then "stopped" or "failed REASON".
/// </summary>
public static class CaptureParent
{
    public const string Verb = "capture-parent";

    public static int Main(string[] args) => args is [Verb, var url, var streamId, var passphrase]
        ? RunAsync(new StreamTarget(url, streamId, passphrase)).GetAwaiter().GetResult()
        : 2;

    /// <summary>Starts this assembly as a capture parent, optionally under a tracer such as strace.</summary>
    public static Process Start(StreamTarget target, IReadOnlyList<string>? tracer = null, IDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        string[] command = [.. tracer ?? [], DotnetHost(), "exec", typeof(CaptureParent).Assembly.Location, Verb, target.Url, target.StreamId, target.Passphrase];
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in command[1..])
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        return Process.Start(start)!;
    }

    private static async Task<int> RunAsync(StreamTarget target)
    {
        var camera = new FfmpegCamera(
            new CameraOptions { Source = CameraSources.TestSource },
            new KernelFiles(Path.GetTempPath()),
            new HardwareTimeline());
        Console.WriteLine($"check {await camera.CheckAsync(CancellationToken.None) ?? "ok"}");
        var capture = (FfmpegCapture)await camera.StartAsync(target, CancellationToken.None);
        Console.WriteLine($"started {string.Join(',', capture.ProcessIds)}");
        var stop = Task.Run(Console.In.ReadLine);
        if (await Task.WhenAny((Task)stop, capture.Failed) == capture.Failed)
        {
            Console.WriteLine($"failed {capture.Failed.Result}");
            await capture.DisposeAsync();
            return 1;
        }
        await capture.DisposeAsync();
        Console.WriteLine("stopped");
        return 0;
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host
        : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath!
        : "dotnet";
}
