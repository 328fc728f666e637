using HomeUnit.Central;
using HomeUnit.TestSupport;
using HomeUnit.Drivers.Camera;
using HomeUnit.Tests.Infrastructure;

namespace HomeUnit.Tests.Stream;

/// <summary>The live stream against a real ffmpeg SRT receiver (design §5): frames arrive, peers that refuse or are missing end the capture with a clear reason.</summary>
public sealed class LiveStreamTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    private readonly CameraFixture fixture = new();

    [Fact]
    public async Task Test_pattern_reaches_the_receiver_until_the_capture_is_stopped()
    {
        await using var receiver = await SrtReceiver.StartAsync(CameraFixture.Passphrase);
        var capture = (FfmpegCapture)await fixture.Camera().StartAsync(new StreamTarget(receiver.Url, "look-1", CameraFixture.Passphrase), default);

        await receiver.WaitForFramesAsync(15, Generous);
        await capture.StopAsync();

        Assert.False(AgentProcess.IsAlive(capture.ProcessId));
        await receiver.Exited.WaitAsync(Generous);
        Assert.True(capture.Frames >= 15, $"ffmpeg reported {capture.Frames} frames");
        Assert.False(capture.Failed.IsCompleted);
        Assert.Equal([$"on pid={capture.ProcessId}", "off"], fixture.CaptureStates());
    }

    [Fact]
    public async Task Wrong_passphrase_is_refused_and_the_capture_fails_with_a_clear_reason()
    {
        const string wrong = "not-the-grants-passphrase";
        await using var receiver = await SrtReceiver.StartAsync(CameraFixture.Passphrase);
        var capture = await fixture.Camera().StartAsync(new StreamTarget(receiver.Url, "look-1", wrong), default);

        var reason = await capture.Failed.WaitAsync(Generous);

        Assert.Equal("the SRT receiver refused the passphrase", reason);
        Assert.Equal(0, receiver.Frames);
        Assert.False(AgentProcess.IsAlive(capture.ProcessId));
        Assert.Equal("off", fixture.CaptureStates()[^1]);
        await capture.StopAsync();
        Assert.Equal(2, fixture.CaptureStates().Count);
    }

    [Fact]
    public async Task Missing_receiver_is_reported_as_a_fault()
    {
        var url = $"srt://127.0.0.1:{SrtReceiver.FreeUdpPort()}";
        var capture = await fixture.Camera().StartAsync(new StreamTarget(url, "look-1", CameraFixture.Passphrase), default);

        var reason = await capture.Failed.WaitAsync(Generous);

        Assert.Equal($"no SRT receiver answered at {url}", reason);
        Assert.False(AgentProcess.IsAlive(capture.ProcessId));
        Assert.Equal("off", fixture.CaptureStates()[^1]);
    }

    [Fact]
    public async Task Source_that_delivers_no_frame_ends_the_capture_as_stalled()
    {
        var silent = fixture.Script("rpicam-vid", "exec sleep 600");
        await using var receiver = await SrtReceiver.StartAsync(CameraFixture.Passphrase);
        var capture = (FfmpegCapture)await fixture.Camera(o => { o.Source = CameraSources.Rpicam; o.RpicamPath = silent; o.StallSeconds = 4; })
            .StartAsync(new StreamTarget(receiver.Url, "look-1", CameraFixture.Passphrase), default);

        var reason = await capture.Failed.WaitAsync(Generous);

        Assert.Equal("no frame from the camera within 4 s", reason);
        Assert.All(capture.ProcessIds, pid => Assert.False(AgentProcess.IsAlive(pid)));
        Assert.Equal("off", fixture.CaptureStates()[^1]);
    }

    [Fact]
    public async Task Rpicam_picture_is_piped_through_the_agent_into_ffmpeg()
    {
        // Stands in for rpicam-vid: insists on writing to stdout, then writes H.264 there.
        var rpicam = fixture.Script("rpicam-vid", """
            case " $* " in *" -o - "*) ;; *) echo "not writing to stdout: $*" >&2; exit 2;; esac
            exec /usr/bin/ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i testsrc=size=640x480:rate=15 -c:v libx264 -preset ultrafast -tune zerolatency -g 15 -f h264 -
            """);
        await using var receiver = await SrtReceiver.StartAsync(CameraFixture.Passphrase);
        var capture = (FfmpegCapture)await fixture.Camera(o => { o.Source = CameraSources.Rpicam; o.RpicamPath = rpicam; })
            .StartAsync(new StreamTarget(receiver.Url, "look-1", CameraFixture.Passphrase), default);

        await receiver.WaitForFramesAsync(15, Generous);
        await capture.StopAsync();

        Assert.Equal(2, capture.ProcessIds.Count);
        Assert.All(capture.ProcessIds, pid => Assert.False(AgentProcess.IsAlive(pid)));
        Assert.True(capture.Frames > 0);
        Assert.False(capture.Failed.IsCompleted);
    }

    [Fact]
    public async Task Capture_process_environment_holds_only_PATH()
    {
        await using var receiver = await SrtReceiver.StartAsync(CameraFixture.Passphrase);
        var capture = await fixture.Camera().StartAsync(new StreamTarget(receiver.Url, "look-1", CameraFixture.Passphrase), default);
        await receiver.WaitForFramesAsync(1, Generous);

        var environment = File.ReadAllText($"/proc/{capture.ProcessId}/environ").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        await capture.StopAsync();

        Assert.Equal(["PATH=/usr/bin:/bin"], environment);
    }

    [Fact]
    public async Task Invalid_stream_target_is_refused_before_any_process_starts()
    {
        var target = new StreamTarget("srt://127.0.0.1:9000?mode=listener", "look-1", CameraFixture.Passphrase);

        var refused = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Camera().StartAsync(target, default));

        Assert.Contains("is not srt://host:port", refused.Message);
        Assert.Empty(fixture.CaptureStates());
    }

    public void Dispose() => fixture.Dispose();
}
