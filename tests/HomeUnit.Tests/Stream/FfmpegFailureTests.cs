using HomeUnit.Drivers.Camera;

namespace HomeUnit.Tests.Stream;

/// <summary>What ffmpeg said when it failed, turned into a reason an operator can act on (lines as ffmpeg 5.1 and libsrt print them).</summary>
public sealed class FfmpegFailureTests
{
    private static readonly StreamTarget Target = new("srt://10.1.2.3:4200", "look-1", "correct-horse-battery-staple");

    [Theory]
    [InlineData("06:56:10.369637/SRT:RcvQ:w1!W:SRT.cn: processAsyncConnectRequest: REJECT reported from HS processing: Incorrect passphrase - not processing further",
        "the SRT receiver refused the passphrase")]
    [InlineData("06:56:10.369637/SRT:RcvQ:w1!W:SRT.cn: processAsyncConnectRequest: REJECT reported from HS processing: Peer rejected connection - not processing further",
        "the SRT receiver refused the connection")]
    [InlineData("[srt @ 0x55d3dae99140] Connection to srt://10.1.2.3:4200 failed: Input/output error",
        "no SRT receiver answered at srt://10.1.2.3:4200")]
    [InlineData("av_interleaved_write_frame(): Input/output error",
        "the connection to the SRT receiver was lost")]
    [InlineData("[video4linux2,v4l2 @ 0x5595d05d5900] Cannot open video device /dev/video0: No such file or directory",
        "camera device /dev/video0 not found")]
    [InlineData("[video4linux2,v4l2 @ 0x5595d05d5900] Cannot open video device /dev/video0: Device or resource busy",
        "camera device /dev/video0 is busy (opened by another program)")]
    public void Known_failure_is_named(string line, string reason) =>
        Assert.Equal(reason, FfmpegFailure.Explain("ffmpeg", 1, ["some earlier line", line], Target, "/dev/video0"));

    [Fact]
    public void Unknown_failure_quotes_the_last_line_without_the_passphrase() =>
        Assert.Equal("ffmpeg exited with code 1: option -x: *** is odd",
            FfmpegFailure.Explain("ffmpeg", 1, ["option -x: correct-horse-battery-staple is odd", ""], Target, "/dev/video0"));

    [Fact]
    public void Process_that_ends_by_itself_says_so() =>
        Assert.Equal("rpicam-vid ended by itself", FfmpegFailure.Explain("rpicam-vid", 0, [], Target, "/dev/video0"));
}
