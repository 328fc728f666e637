using System.Text.RegularExpressions;

namespace HomeUnit.Drivers.Camera;

/// <summary>Where the picture comes from.</summary>
public static class CameraSources
{
    /// <summary>A V4L2 device such as a USB IR camera, <see cref="CameraOptions.Device"/> under the hardware root.</summary>
    public const string V4l2 = "v4l2";

    /// <summary>A CSI camera through <c>rpicam-vid</c>, whose H.264 the agent pipes into ffmpeg in memory.</summary>
    public const string Rpicam = "rpicam";

    /// <summary>ffmpeg's test pattern, for simulation.</summary>
    public const string TestSource = "testsrc";
}

/// <summary>The H.264 encoders ffmpeg may use; <see cref="Auto"/> probes once for the hardware one.</summary>
public static class CameraEncoders
{
    public const string Auto = "auto";
    public const string Hardware = "h264_v4l2m2m";
    public const string Software = "libx264";
}

/// <summary>The configuration section <c>Camera</c>.</summary>
public sealed partial class CameraOptions
{
    public const string Section = "Camera";

    public string Source { get; set; } = CameraSources.V4l2;

    /// <summary>The V4L2 device, relative to the hardware root.</summary>
    public string Device { get; set; } = "/dev/video0";

    public string FfmpegPath { get; set; } = "/usr/bin/ffmpeg";

    public string RpicamPath { get; set; } = "/usr/bin/rpicam-vid";

    /// <summary>util-linux setpriv, which arms the parent-death signal before it runs the capture program.</summary>
    public string SetprivPath { get; set; } = "/usr/bin/setpriv";

    public string Encoder { get; set; } = CameraEncoders.Auto;

    public int Width { get; set; } = 640;

    public int Height { get; set; } = 480;

    public int FrameRate { get; set; } = 15;

    public int BitrateKbps { get; set; } = 1000;

    /// <summary>SRT receive latency: how long the receiver may wait for a retransmission.</summary>
    public int LatencyMilliseconds { get; set; } = 120;

    /// <summary>No new frame for this long ends the look with a camera fault; a self-test waits this long for its frame.</summary>
    public int StallSeconds { get; set; } = 5;

    /// <summary>How long ffmpeg tries to reach the receiver before it gives up (SRT's caller default).</summary>
    internal const int ConnectTimeoutMilliseconds = 3000;

    /// <summary>Every problem, each as "Camera:Key: what is wrong"; empty when the options can be used.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        void Problem(string key, string what) => problems.Add($"{Section}:{key}: {what}");

        if (Source is not (CameraSources.V4l2 or CameraSources.Rpicam or CameraSources.TestSource))
        {
            Problem(nameof(Source), $"must be {CameraSources.V4l2}, {CameraSources.Rpicam} or {CameraSources.TestSource}, not '{Shown(Source)}'");
        }
        if (Device is null || !DevicePattern().IsMatch(Device) || Device.Contains(".."))
        {
            Problem(nameof(Device), $"must be a device path such as /dev/video0, not '{Shown(Device)}'");
        }
        CheckProgram(nameof(FfmpegPath), FfmpegPath, Problem);
        CheckProgram(nameof(SetprivPath), SetprivPath, Problem);
        if (Source == CameraSources.Rpicam)
        {
            CheckProgram(nameof(RpicamPath), RpicamPath, Problem);
        }
        if (Encoder is not (CameraEncoders.Auto or CameraEncoders.Hardware or CameraEncoders.Software))
        {
            Problem(nameof(Encoder), $"must be {CameraEncoders.Auto}, {CameraEncoders.Hardware} or {CameraEncoders.Software}, not '{Shown(Encoder)}'");
        }
        // YUV 4:2:0 needs even sizes.
        if (Width is < 160 or > 1920 || Width % 2 != 0)
        {
            Problem(nameof(Width), $"must be an even number of pixels from 160 to 1920, not {Width}");
        }
        if (Height is < 120 or > 1080 || Height % 2 != 0)
        {
            Problem(nameof(Height), $"must be an even number of pixels from 120 to 1080, not {Height}");
        }
        if (FrameRate is < 1 or > 30)
        {
            Problem(nameof(FrameRate), $"must be 1-30 frames a second, not {FrameRate}");
        }
        if (BitrateKbps is < 100 or > 8000)
        {
            Problem(nameof(BitrateKbps), $"must be 100-8000 kbit/s, not {BitrateKbps}");
        }
        if (LatencyMilliseconds is < 20 or > 2000)
        {
            Problem(nameof(LatencyMilliseconds), $"must be 20-2000 ms, not {LatencyMilliseconds}");
        }
        // Longer than the connect timeout, so that a missing receiver is reported as such and not as a stall.
        if (StallSeconds * 1000 <= ConnectTimeoutMilliseconds || StallSeconds > 60)
        {
            Problem(nameof(StallSeconds), $"must be {ConnectTimeoutMilliseconds / 1000 + 1}-60 seconds, not {StallSeconds}");
        }
        return problems;
    }

    private static void CheckProgram(string key, string? path, Action<string, string> problem)
    {
        if (string.IsNullOrEmpty(path) || !Path.IsPathFullyQualified(path))
        {
            problem(key, $"must be an absolute path, not '{Shown(path)}'");
        }
        else if (!File.Exists(path))
        {
            problem(key, $"{Shown(path)} does not exist");
        }
    }

    private static string Shown(string? value) => Kernel.KernelFiles.Printable(value ?? "");

    [GeneratedRegex(@"^/dev/[A-Za-z0-9._/-]{1,64}\z")]
    private static partial Regex DevicePattern();
}
