using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Drivers.Camera;

/// <summary>
/// The camera, driven through Debian's ffmpeg (docs/streaming.md): a look's picture goes as MPEG-TS/H.264 over
/// AES-256 SRT to the grant's receiver; the readiness self-test pulls one frame into memory. No byte of picture
/// reaches a file (P4): ffmpeg's only outputs are the SRT socket and pipes to the agent.
/// </summary>
public sealed class FfmpegCamera : ICamera
{
    private readonly CameraOptions options;
    private readonly KernelFiles hardware;
    private readonly HardwareTimeline timeline;
    private readonly Lazy<Task<string>> encoder;

    /// <param name="options">Validated by the host first; refused here too, with the same messages.</param>
    /// <param name="hardware">The hardware root; the V4L2 device is looked up under it.</param>
    public FfmpegCamera(CameraOptions options, KernelFiles hardware, HardwareTimeline timeline)
    {
        if (options.Validate() is [_, ..] problems)
        {
            throw new ArgumentException(string.Join("; ", problems), nameof(options));
        }
        this.options = options;
        this.hardware = hardware;
        this.timeline = timeline;
        encoder = new Lazy<Task<string>>(ChooseEncoderAsync);
    }

    /// <summary>
    /// What makes the H.264: rpicam-vid itself for a CSI camera, else h264_v4l2m2m when it encodes a test frame
    /// on this machine (probed once), else libx264. <see cref="CameraOptions.Encoder"/> can fix the choice.
    /// </summary>
    public Task<string> EncoderAsync(CancellationToken cancellationToken = default) => encoder.Value.WaitAsync(cancellationToken);

    public async Task<ICapture> StartAsync(StreamTarget target, CancellationToken cancellationToken)
    {
        if (target.Validate() is { } problem)
        {
            throw new ArgumentException(problem, nameof(target));
        }
        RequireDevice();
        var chosen = await EncoderAsync(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        var pipeline = await CapturePipeline.StartAsync(options, FfmpegArguments.Capture(options, chosen, DevicePath, target));
        timeline.Record(Parts.Capture, $"on pid={pipeline.Ffmpeg.Id}");
        return new FfmpegCapture(pipeline, timeline, target, options);
    }

    public async Task<string?> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            await PullFrameAsync(cancellationToken);
            return null;
        }
        catch (HardwareFault e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// One decoded frame from the source, raw YUV 4:2:0 of <see cref="CameraOptions.Width"/> ×
    /// <see cref="CameraOptions.Height"/>, read from ffmpeg's stdout into memory and nowhere else.
    /// Throws <see cref="HardwareFault"/> when the source delivers none within <see cref="CameraOptions.StallSeconds"/>.
    /// </summary>
    public async Task<byte[]> PullFrameAsync(CancellationToken cancellationToken)
    {
        RequireDevice();
        var frame = new byte[options.Width * options.Height * 3 / 2];
        var read = 0;
        using var pipeline = await CapturePipeline.StartAsync(options, FfmpegArguments.Frame(options, DevicePath));
        timeline.Record(Parts.Capture, $"selftest on pid={pipeline.Ffmpeg.Id}");
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(options.StallSeconds));
            try
            {
                // Short only when ffmpeg ended early: then its exit explains why.
                int count;
                while (read < frame.Length && (count = await pipeline.Ffmpeg.Output.ReadAsync(frame.AsMemory(read), deadline.Token)) > 0)
                {
                    read += count;
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new HardwareFault($"no frame from the camera within {options.StallSeconds} s");
            }
        }
        finally
        {
            await pipeline.StopAsync();
            timeline.Record(Parts.Capture, "selftest off");
        }
        return read == frame.Length
            ? frame
            : throw new HardwareFault(await pipeline.ExplainAsync(await pipeline.FirstExitAsync(), null));
    }

    private string DevicePath => hardware.PathOf(options.Device);

    private void RequireDevice()
    {
        if (options.Source == CameraSources.V4l2 && !hardware.Exists(options.Device))
        {
            throw new HardwareFault($"camera device {options.Device} not found");
        }
    }

    private async Task<string> ChooseEncoderAsync()
    {
        if (options.Source == CameraSources.Rpicam)
        {
            return "rpicam-vid";
        }
        if (options.Encoder != CameraEncoders.Auto)
        {
            return options.Encoder;
        }
        try
        {
            using var probe = await ChildProcess.StartAsync(options.SetprivPath, options.FfmpegPath, FfmpegArguments.HardwareEncoderProbe(options));
            try
            {
                return await probe.Exited.WaitAsync(TimeSpan.FromSeconds(options.StallSeconds)) == 0
                    ? CameraEncoders.Hardware
                    : CameraEncoders.Software;
            }
            finally
            {
                await probe.StopAsync();
            }
        }
        catch (Exception e) when (e is TimeoutException or HardwareFault or System.ComponentModel.Win32Exception)
        {
            // No answer from the hardware encoder is no hardware encoder; libx264 always works.
            return CameraEncoders.Software;
        }
    }
}
