using HomeUnit.Drivers.Camera;

namespace HomeUnit.Tests.Stream;

/// <summary>The capture command lines: the passphrase only as an option value, the grant's URL verbatim, no file output.</summary>
public sealed class FfmpegArgumentsTests
{
    private static readonly StreamTarget Target = new("srt://127.0.0.1:9000", "#!::r=look-1,m=publish", "correct-horse-battery-staple");

    public static TheoryData<string, string> Pipelines => new()
    {
        { CameraSources.TestSource, CameraEncoders.Software },
        { CameraSources.V4l2, CameraEncoders.Software },
        { CameraSources.V4l2, CameraEncoders.Hardware },
        { CameraSources.Rpicam, "rpicam-vid" },
    };

    [Theory]
    [MemberData(nameof(Pipelines))]
    public void Passphrase_and_stream_id_are_option_values_and_the_url_is_the_grants(string source, string encoder)
    {
        var arguments = FfmpegArguments.Capture(new CameraOptions { Source = source }, encoder, "/dev/video0", Target);

        Assert.Equal(Target.Url, arguments[^1]);
        Assert.Equal(Target.Passphrase, arguments[arguments.ToList().IndexOf("-passphrase") + 1]);
        Assert.Single(arguments, a => a.Contains(Target.Passphrase));
        Assert.Equal(Target.StreamId, arguments[arguments.ToList().IndexOf("-srt_streamid") + 1]);
        Assert.Equal("32", arguments[arguments.ToList().IndexOf("-pbkeylen") + 1]);
        Assert.DoesNotContain("-report", arguments);
    }

    [Theory]
    [InlineData(CameraEncoders.Software)]
    [InlineData(CameraEncoders.Hardware)]
    public void Encoder_makes_a_keyframe_every_second(string encoder)
    {
        var arguments = FfmpegArguments.Capture(new CameraOptions { Source = CameraSources.V4l2, FrameRate = 12 }, encoder, "/dev/video0", Target).ToList();

        Assert.Equal(encoder, arguments[arguments.IndexOf("-c:v") + 1]);
        Assert.Equal("12", arguments[arguments.IndexOf("-g") + 1]);
    }

    [Fact]
    public void Software_encoder_is_tuned_for_latency()
    {
        var arguments = FfmpegArguments.Capture(new CameraOptions(), CameraEncoders.Software, "/dev/video0", Target);

        Assert.Contains("-c:v libx264 -preset ultrafast -tune zerolatency", string.Join(' ', arguments));
    }

    [Fact]
    public void Rpicam_writes_to_stdout_and_ffmpeg_copies_its_stream_from_stdin()
    {
        var options = new CameraOptions { Source = CameraSources.Rpicam, FrameRate = 10 };
        var rpicam = string.Join(' ', FfmpegArguments.Rpicam(options));
        var ffmpeg = string.Join(' ', FfmpegArguments.Capture(options, "rpicam-vid", "/dev/video0", Target));

        Assert.EndsWith("-o -", rpicam);
        Assert.Contains("--inline --intra 10", rpicam);
        Assert.Contains("-i pipe:0", ffmpeg);
        Assert.Contains("-c:v copy", ffmpeg);
    }

    [Fact]
    public void Self_test_frame_goes_to_stdout()
    {
        var arguments = FfmpegArguments.Frame(new CameraOptions { Source = CameraSources.V4l2 }, "/tmp/root/dev/video0");

        Assert.Equal(["-frames:v", "1"], arguments.SkipWhile(a => a != "-frames:v").Take(2));
        Assert.Equal(["-f", "rawvideo", "pipe:1"], arguments.TakeLast(3));
        Assert.Equal("/tmp/root/dev/video0", arguments[arguments.ToList().IndexOf("-i") + 1]);
    }
}
