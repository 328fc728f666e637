using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Tests.Infrastructure;

namespace HomeUnit.Tests.Stream;

/// <summary>A camera on a temporary hardware root, its timeline, and fake programs written for one test.</summary>
public sealed class CameraFixture : IDisposable
{
    public const string Passphrase = "correct-horse-battery-staple";

    private readonly TempDirectory directory = new();

    public string Root => directory.Path;

    public HardwareTimeline Timeline { get; } = new();

    public FfmpegCamera Camera(Action<CameraOptions>? configure = null)
    {
        var options = new CameraOptions { Source = CameraSources.TestSource };
        configure?.Invoke(options);
        return new FfmpegCamera(options, new KernelFiles(Root), Timeline);
    }

    /// <summary>An executable shell script standing in for a program the camera runs (such as rpicam-vid).</summary>
    public string Script(string name, string body)
    {
        var path = Path.Combine(Root, name);
        File.WriteAllText(path, $"#!/bin/sh\n{body}\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>The capture states recorded so far.</summary>
    public IReadOnlyList<string> CaptureStates() =>
        [.. Timeline.Snapshot().Where(e => e.Part == Parts.Capture).Select(e => e.State)];

    public void Dispose() => directory.Dispose();
}
