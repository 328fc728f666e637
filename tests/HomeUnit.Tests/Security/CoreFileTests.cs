using System.Diagnostics;
using HomeUnit.Central;
using HomeUnit.TestSupport;
using HomeUnit.Drivers.Camera;
using HomeUnit.Tests.Infrastructure;
using HomeUnit.Tests.Stream;
using Xunit.Abstractions;

namespace HomeUnit.Tests.Security;

/// <summary>
/// A crash of the capture mid-look leaves no core file (which would hold frames and the stream passphrase, P4),
/// even when the process that runs the camera was started with an unlimited core limit. The control, under the
/// same launcher in the same kind of directory, shows that this machine does write a core file otherwise.
/// </summary>
public sealed class CoreFileTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    private static readonly string[] UnlimitedCores = ["/usr/bin/prlimit", "--core=unlimited", "--"];
    private readonly CameraFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    /// <summary>Where the kernel would put a core file of a process in <paramref name="workingDirectory"/>, or null when a program takes it (a "|" pattern).</summary>
    private static (string Directory, string Prefix)? CoreFileLocation(string workingDirectory)
    {
        var pattern = File.ReadAllText("/proc/sys/kernel/core_pattern").Trim();
        if (pattern.StartsWith('|'))
        {
            return null;
        }
        var directory = Path.GetDirectoryName(pattern) is { Length: > 0 } parent ? Path.Combine(workingDirectory, parent) : workingDirectory;
        var name = Path.GetFileName(pattern);
        return (directory, name.Contains('%') ? name[..name.IndexOf('%')] : name);
    }

    private static IReadOnlyList<string> CoreFiles(string workingDirectory, DateTime since)
    {
        if (CoreFileLocation(workingDirectory) is not { } location || !System.IO.Directory.Exists(location.Directory))
        {
            return [];
        }
        return [.. System.IO.Directory.EnumerateFiles(location.Directory, location.Prefix + "*").Where(f => File.GetLastWriteTimeUtc(f) >= since)];
    }

    private static string CoreLimit(int pid) =>
        File.ReadLines($"/proc/{pid}/limits").Single(l => l.StartsWith("Max core file size", StringComparison.Ordinal));

    private static bool SoftLimitUnlimited(int pid) => System.Text.RegularExpressions.Regex.IsMatch(CoreLimit(pid), @"^Max core file size\s+unlimited\s");

    private static void Signal(int pid, string signal) => Process.Start("kill", [$"-{signal}", pid.ToString()])!.WaitForExit();

    private string Subdirectory(string name) => System.IO.Directory.CreateDirectory(Path.Combine(fixture.Root, name)).FullName;

    [Theory]
    [InlineData("SEGV")]
    [InlineData("ABRT")]
    public async Task A_capture_process_killed_mid_look_leaves_no_core_file(string signal)
    {
        var since = DateTime.UtcNow.AddSeconds(-2);
        var pattern = File.ReadAllText("/proc/sys/kernel/core_pattern").Trim();
        output.WriteLine($"core_pattern: {pattern}");

        // Control: an ordinary program under the same launcher does dump core on this machine.
        var controlDirectory = Subdirectory("control");
        var controlStart = new ProcessStartInfo(UnlimitedCores[0]) { WorkingDirectory = controlDirectory };
        foreach (var argument in (string[])[.. UnlimitedCores[1..], "/bin/sleep", "600"])
        {
            controlStart.ArgumentList.Add(argument);
        }
        using (var control = Process.Start(controlStart)!)
        {
            // The soft limit (the first column) once prlimit has set it, and sleep has been exec'd.
            await Eventually.True(() => SoftLimitUnlimited(control.Id) && File.ReadAllText($"/proc/{control.Id}/comm").Trim() == "sleep",
                "the control to run sleep with an unlimited core limit", Generous);
            Signal(control.Id, signal);
            await control.WaitForExitAsync().WaitAsync(Generous);
        }
        if (CoreFileLocation(controlDirectory) is not null)
        {
            Assert.NotEmpty(CoreFiles(controlDirectory, since));
        }

        // The look: the real camera code in a process started with an unlimited core limit.
        var lookDirectory = Subdirectory("look");
        await using var receiver = await SrtReceiver.StartAsync(CameraFixture.Passphrase);
        using var parent = CaptureParent.Start(new StreamTarget(receiver.Url, "look-1", CameraFixture.Passphrase), tracer: UnlimitedCores, workingDirectory: lookDirectory);
        Assert.Equal("check ok", await parent.StandardOutput.ReadLineAsync().WaitAsync(Generous));
        var started = await parent.StandardOutput.ReadLineAsync().WaitAsync(Generous);
        Assert.StartsWith("started ", started);
        var ffmpeg = int.Parse(started!["started ".Length..].Split(',').Last());
        await receiver.WaitForFramesAsync(10, Generous);
        var limit = CoreLimit(ffmpeg);
        output.WriteLine($"ffmpeg {ffmpeg}: {limit}");
        Assert.Matches(@"^Max core file size\s+0\s", limit);
        Assert.Equal(lookDirectory, new DirectoryInfo($"/proc/{ffmpeg}/cwd").ResolveLinkTarget(true)!.FullName);

        Signal(ffmpeg, signal);

        var failed = await parent.StandardOutput.ReadLineAsync().WaitAsync(Generous);
        Assert.StartsWith("failed ", failed);
        parent.StandardInput.Close();
        await parent.WaitForExitAsync().WaitAsync(Generous);
        Assert.Empty(CoreFiles(lookDirectory, since));
        Assert.Empty(System.IO.Directory.EnumerateFiles(lookDirectory, "*", SearchOption.AllDirectories));
    }
}
