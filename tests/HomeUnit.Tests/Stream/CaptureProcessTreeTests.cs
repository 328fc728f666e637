using HomeUnit.Central;
using HomeUnit.TestSupport;
using System.Diagnostics;
using HomeUnit.Drivers.Camera;
using HomeUnit.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HomeUnit.Tests.Stream;

/// <summary>
/// The capture pipeline seen from outside, with the real camera code running in a parent process of its own
/// (<see cref="CaptureParent"/>): nothing it runs opens a file for writing (P4), and it dies with its parent.
/// </summary>
public sealed class CaptureProcessTreeTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    private readonly CameraFixture fixture = new();

    [Fact]
    public async Task Whole_look_opens_no_file_for_writing_in_any_capture_process()
    {
        var trace = Path.Combine(fixture.Root, "strace.log");
        var report = Path.Combine(fixture.Root, "ffreport.log");
        await using var receiver = await SrtReceiver.StartAsync(CameraFixture.Passphrase);
        // FFREPORT in the agent's environment would make ffmpeg write a log file, were it passed on.
        using var parent = CaptureParent.Start(
            new StreamTarget(receiver.Url, "look-1", CameraFixture.Passphrase),
            tracer: StraceLog.Command(trace),
            environment: new Dictionary<string, string> { ["FFREPORT"] = $"file={report}:level=40" });

        Assert.Equal("check ok", await parent.StandardOutput.ReadLineAsync().WaitAsync(Generous));
        var started = await parent.StandardOutput.ReadLineAsync().WaitAsync(Generous);
        Assert.StartsWith("started ", started);
        await receiver.WaitForFramesAsync(30, Generous);
        var openFiles = OpenFiles(int.Parse(started!["started ".Length..]));
        await parent.StandardInput.WriteLineAsync("stop");
        Assert.Equal("stopped", await parent.StandardOutput.ReadLineAsync().WaitAsync(Generous));
        await parent.WaitForExitAsync().WaitAsync(Generous);

        var log = StraceLog.Read(trace);
        var capture = log.TreeOf(program => program == "/usr/bin/setpriv");
        var executed = log.Executed(capture).ToList();
        output.WriteLine($"capture processes and threads: {capture.Count}; programs: {string.Join(", ", executed.Distinct())}");
        // The encoder probe, the self-test and the look each ran ffmpeg, all through setpriv, and all were traced.
        Assert.Equal(3, executed.Count(p => p == "/usr/bin/ffmpeg"));
        Assert.Empty(log.Writes(capture));
        Assert.All(openFiles, file => Assert.True(file.ReadOnly || !file.Target.StartsWith('/') || file.Target == "/dev/null", $"{file.Target} is open for writing"));
        Assert.False(File.Exists(report));
        Assert.True(receiver.Frames >= 30);
    }

    [Fact]
    public async Task Capture_dies_when_its_parent_is_killed_with_SIGKILL()
    {
        var trace = Path.Combine(fixture.Root, "strace.log");
        await using var receiver = await SrtReceiver.StartAsync(CameraFixture.Passphrase);
        using var parent = CaptureParent.Start(new StreamTarget(receiver.Url, "look-1", CameraFixture.Passphrase), tracer: StraceLog.Command(trace));
        Assert.Equal("check ok", await parent.StandardOutput.ReadLineAsync().WaitAsync(Generous));
        var started = await parent.StandardOutput.ReadLineAsync().WaitAsync(Generous);
        var ffmpeg = int.Parse(started!["started ".Length..]);
        await receiver.WaitForFramesAsync(15, Generous);
        var agent = ParentOf(ffmpeg);

        var watch = Stopwatch.StartNew();
        Assert.Equal(0, Kill(agent, 9));
        await Eventually.True(() => !AgentProcess.IsAlive(ffmpeg), "ffmpeg to die with its parent", Generous);
        output.WriteLine($"ffmpeg gone {watch.Elapsed.TotalMilliseconds:F0} ms after its parent was killed");
        await parent.WaitForExitAsync().WaitAsync(Generous);

        // The parent-death signal did it: nothing else sends SIGKILL, and ffmpeg ignores a broken progress pipe.
        Assert.Equal("SIGKILL", StraceLog.Read(trace).KilledBy(ffmpeg));
    }

    [Fact]
    public async Task Trace_catches_a_capture_process_that_writes_a_file()
    {
        // The control for the proof above: the same trace and analysis do see ffmpeg writing its -report log.
        var trace = Path.Combine(fixture.Root, "strace.log");
        var start = new ProcessStartInfo(StraceLog.Command(trace)[0]) { WorkingDirectory = fixture.Root, RedirectStandardError = true };
        foreach (var argument in (string[])[.. StraceLog.Command(trace)[1..], "/usr/bin/setpriv", "--pdeathsig", "KILL", "--",
            "/usr/bin/ffmpeg", "-nostdin", "-loglevel", "error", "-report", "-f", "lavfi", "-i", "testsrc", "-frames:v", "1", "-f", "null", "-"])
        {
            start.ArgumentList.Add(argument);
        }
        using var traced = Process.Start(start)!;
        await traced.WaitForExitAsync().WaitAsync(Generous);

        var log = StraceLog.Read(trace);
        var writes = log.Writes(log.TreeOf(program => program == "/usr/bin/setpriv")).ToList();

        Assert.Single(writes);
        Assert.Matches(@"openat\(AT_FDCWD, ""ffmpeg-[0-9-]+\.log"", O_WRONLY\|O_CREAT\|O_TRUNC", writes[0].Split(' ', 2)[1]);
    }

    private static int ParentOf(int pid) => int.Parse(File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].Split(' ')[1]);

    /// <summary>Every file descriptor of a process: what it points at, and whether it was opened read-only.</summary>
    private static List<(string Target, bool ReadOnly)> OpenFiles(int pid) =>
    [
        .. Directory.GetFiles($"/proc/{pid}/fd").Select(fd =>
        {
            var target = new FileInfo(fd).LinkTarget ?? "";
            var flags = File.ReadLines($"/proc/{pid}/fdinfo/{Path.GetFileName(fd)}").First(l => l.StartsWith("flags:"));
            // The low two bits of the octal flags are the access mode: 0 is O_RDONLY.
            var readOnly = (Convert.ToInt32(flags["flags:".Length..].Trim(), 8) & 3) == 0;
            return (target, readOnly);
        }),
    ];

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    public void Dispose() => fixture.Dispose();
}
