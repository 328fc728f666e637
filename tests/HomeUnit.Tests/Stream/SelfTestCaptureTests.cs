using HomeUnit.Drivers.Camera;

namespace HomeUnit.Tests.Stream;

/// <summary>The readiness self-test: open the source and pull one frame into memory, or name the fault.</summary>
public sealed class SelfTestCaptureTests : IDisposable
{
    private readonly CameraFixture fixture = new();

    [Fact]
    public async Task Self_test_pulls_one_whole_frame_into_memory()
    {
        var camera = fixture.Camera();

        var frame = await camera.PullFrameAsync(default);

        Assert.Equal(640 * 480 * 3 / 2, frame.Length);
        Assert.True(frame.Distinct().Count() > 16, "the test pattern has many colours, not a blank frame");
        Assert.Null(await camera.CheckAsync(default));
        Assert.Equal(["selftest on", "selftest off", "selftest on", "selftest off"], fixture.CaptureStates().Select(s => s.Split(" pid=")[0]));
    }

    [Fact]
    public async Task Self_test_reports_a_missing_camera_device()
    {
        var camera = fixture.Camera(o => o.Source = CameraSources.V4l2);

        Assert.Equal("camera device /dev/video0 not found", await camera.CheckAsync(default));
        Assert.Empty(fixture.CaptureStates());
    }

    [Fact]
    public async Task Self_test_reports_a_device_that_delivers_no_picture()
    {
        Directory.CreateDirectory(Path.Combine(fixture.Root, "dev"));
        File.WriteAllText(Path.Combine(fixture.Root, "dev", "video0"), "not a camera");
        var camera = fixture.Camera(o => o.Source = CameraSources.V4l2);

        var fault = await camera.CheckAsync(default);

        Assert.NotNull(fault);
        Assert.StartsWith("ffmpeg exited with code", fault);
        Assert.Equal("selftest off", fixture.CaptureStates()[^1]);
    }

    [Fact]
    public async Task Self_test_reports_a_camera_that_delivers_no_frame()
    {
        var silent = fixture.Script("rpicam-vid", "exec sleep 600");
        var camera = fixture.Camera(o => { o.Source = CameraSources.Rpicam; o.RpicamPath = silent; o.StallSeconds = 4; });

        Assert.Equal("no frame from the camera within 4 s", await camera.CheckAsync(default));
        Assert.Equal("selftest off", fixture.CaptureStates()[^1]);
    }

    [Fact]
    public async Task Missing_camera_device_refuses_a_look_before_any_process_starts()
    {
        var camera = fixture.Camera(o => o.Source = CameraSources.V4l2);

        var fault = await Assert.ThrowsAsync<HomeUnit.Drivers.Kernel.HardwareFault>(
            () => camera.StartAsync(new StreamTarget("srt://127.0.0.1:9000", "look-1", CameraFixture.Passphrase), default));

        Assert.Equal("camera device /dev/video0 not found", fault.Message);
        Assert.Empty(fixture.CaptureStates());
    }

    public void Dispose() => fixture.Dispose();
}
