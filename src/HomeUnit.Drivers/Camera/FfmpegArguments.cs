using System.Globalization;

namespace HomeUnit.Drivers.Camera;

/// <summary>
/// The command lines of the capture pipeline, built only from validated options and a validated
/// <see cref="StreamTarget"/>, one argument per value (no shell). docs/streaming.md explains every flag.
/// Nothing here names a file to write: outputs are the SRT socket or the agent's stdout pipe.
/// </summary>
internal static class FfmpegArguments
{
    // No banner, never read commands from stdin, errors only (the last lines explain a failure).
    private static readonly string[] Quiet = ["-hide_banner", "-nostdin", "-loglevel", "error"];

    /// <summary>Capture from the source and stream MPEG-TS/H.264 over encrypted SRT to the target, reporting progress on stdout.</summary>
    public static IReadOnlyList<string> Capture(CameraOptions options, string encoder, string device, StreamTarget target) =>
    [
        .. Quiet,
        "-progress", "pipe:1", "-nostats", "-stats_period", "0.5",
        .. Input(options, device),
        "-an",
        .. options.Source == CameraSources.Rpicam ? ["-c:v", "copy"] : Encode(options, encoder),
        "-f", "mpegts", "-flush_packets", "1",
        "-pbkeylen", "32",
        "-passphrase", target.Passphrase,
        "-srt_streamid", target.StreamId,
        "-latency", Number(options.LatencyMilliseconds * 1000),
        "-connect_timeout", Number(CameraOptions.ConnectTimeoutMilliseconds),
        target.Url,
    ];

    /// <summary>Decode one frame from the source as raw YUV 4:2:0 of the configured size onto stdout.</summary>
    public static IReadOnlyList<string> Frame(CameraOptions options, string device) =>
    [
        .. Quiet,
        .. Input(options, device),
        "-an", "-frames:v", "1",
        "-s", $"{Number(options.Width)}x{Number(options.Height)}", "-pix_fmt", "yuv420p",
        "-f", "rawvideo", "pipe:1",
    ];

    /// <summary>Encode one test frame with the hardware encoder and throw it away: exit code 0 means it works here.</summary>
    public static IReadOnlyList<string> HardwareEncoderProbe(CameraOptions options) =>
    [
        .. Quiet,
        "-f", "lavfi", "-i", TestPattern(options),
        "-frames:v", "1",
        .. Encode(options, CameraEncoders.Hardware),
        "-f", "null", "-",
    ];

    /// <summary>rpicam-vid: H.264 with inline headers and a keyframe every second, to stdout, until stopped.</summary>
    public static IReadOnlyList<string> Rpicam(CameraOptions options) =>
    [
        "-t", "0", "--nopreview",
        "--codec", "h264", "--inline", "--intra", Number(options.FrameRate),
        "--width", Number(options.Width), "--height", Number(options.Height),
        "--framerate", Number(options.FrameRate), "--bitrate", Number(options.BitrateKbps * 1000),
        "--flush", "-o", "-",
    ];

    private static IReadOnlyList<string> Input(CameraOptions options, string device) => options.Source switch
    {
        CameraSources.TestSource => ["-re", "-f", "lavfi", "-i", TestPattern(options)],
        // A tiny probe: the first packet carries SPS and PPS (--inline); probing a pipe longer delays the picture.
        CameraSources.Rpicam => ["-f", "h264", "-framerate", Number(options.FrameRate), "-probesize", "32", "-i", "pipe:0"],
        _ => ["-f", "v4l2", "-framerate", Number(options.FrameRate), "-video_size", $"{Number(options.Width)}x{Number(options.Height)}", "-i", device],
    };

    private static IReadOnlyList<string> Encode(CameraOptions options, string encoder)
    {
        var gop = Number(options.FrameRate);
        var bitrate = $"{Number(options.BitrateKbps)}k";
        return encoder == CameraEncoders.Hardware
            ? ["-pix_fmt", "yuv420p", "-c:v", CameraEncoders.Hardware, "-g", gop, "-b:v", bitrate]
            : ["-pix_fmt", "yuv420p", "-c:v", CameraEncoders.Software, "-preset", "ultrafast", "-tune", "zerolatency",
               "-g", gop, "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate];
    }

    private static string TestPattern(CameraOptions options) =>
        $"testsrc=size={Number(options.Width)}x{Number(options.Height)}:rate={Number(options.FrameRate)}";

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
