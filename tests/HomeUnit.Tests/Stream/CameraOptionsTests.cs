using HomeUnit.Drivers.Camera;

namespace HomeUnit.Tests.Stream;

/// <summary>The Camera configuration section: defaults work, and each bad value is named with what is wrong.</summary>
public sealed class CameraOptionsTests
{
    [Fact]
    public void Defaults_are_valid() => Assert.Empty(new CameraOptions().Validate());

    [Theory]
    [InlineData("Source", "Camera:Source: must be v4l2, rpicam or testsrc, not 'webcam'")]
    [InlineData("Device", "Camera:Device: must be a device path such as /dev/video0, not '/dev/../etc/shadow'")]
    [InlineData("FfmpegPath", "Camera:FfmpegPath: must be an absolute path, not 'ffmpeg'")]
    [InlineData("SetprivPath", "Camera:SetprivPath: /nonexistent/setpriv does not exist")]
    [InlineData("RpicamPath", "Camera:RpicamPath: /nonexistent/rpicam-vid does not exist")]
    [InlineData("Encoder", "Camera:Encoder: must be auto, h264_v4l2m2m or libx264, not 'h265'")]
    [InlineData("Width", "Camera:Width: must be an even number of pixels from 160 to 1920, not 641")]
    [InlineData("Height", "Camera:Height: must be an even number of pixels from 120 to 1080, not 0")]
    [InlineData("FrameRate", "Camera:FrameRate: must be 1-30 frames a second, not 60")]
    [InlineData("BitrateKbps", "Camera:BitrateKbps: must be 100-8000 kbit/s, not 50")]
    [InlineData("LatencyMilliseconds", "Camera:LatencyMilliseconds: must be 20-2000 ms, not 5")]
    [InlineData("StallSeconds", "Camera:StallSeconds: must be 4-60 seconds, not 3")]
    public void Bad_value_is_named_with_what_is_wrong(string key, string message)
    {
        var options = new CameraOptions();
        Action spoil = key switch
        {
            "Source" => () => options.Source = "webcam",
            "Device" => () => options.Device = "/dev/../etc/shadow",
            "FfmpegPath" => () => options.FfmpegPath = "ffmpeg",
            "SetprivPath" => () => options.SetprivPath = "/nonexistent/setpriv",
            "RpicamPath" => () => (options.Source, options.RpicamPath) = (CameraSources.Rpicam, "/nonexistent/rpicam-vid"),
            "Encoder" => () => options.Encoder = "h265",
            "Width" => () => options.Width = 641,
            "Height" => () => options.Height = 0,
            "FrameRate" => () => options.FrameRate = 60,
            "BitrateKbps" => () => options.BitrateKbps = 50,
            "LatencyMilliseconds" => () => options.LatencyMilliseconds = 5,
            _ => () => options.StallSeconds = 3,
        };
        spoil();

        Assert.Equal([message], options.Validate());
    }

    [Fact]
    public void Camera_refuses_invalid_options_with_the_same_messages()
    {
        var refused = Assert.Throws<ArgumentException>(() => new FfmpegCamera(
            new CameraOptions { FrameRate = 0 }, new HomeUnit.Drivers.Kernel.KernelFiles("/"), new HomeUnit.Drivers.HardwareTimeline()));

        Assert.StartsWith("Camera:FrameRate: must be 1-30 frames a second, not 0", refused.Message);
    }
}
