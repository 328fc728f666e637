using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Drivers.Camera;

/// <summary>
/// A look's running capture. Health comes from ffmpeg's progress report on stdout: the frame count must keep
/// advancing. A process exiting or a stall without a stop being asked for ends the capture and completes
/// <see cref="Failed"/> with the reason, once the processes are gone. The timeline gets <c>capture off</c>
/// right after the last process is reaped, whichever way it ended.
/// </summary>
public sealed class FfmpegCapture : ICapture
{
    private readonly CapturePipeline pipeline;
    private readonly HardwareTimeline timeline;
    private readonly StreamTarget target;
    private readonly TimeSpan stallAfter;
    private readonly TaskCompletionSource<string> failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource stalled = new();
    private readonly Task progress;
    private readonly Lock gate = new();
    private Task? ending;
    private long frames;

    internal FfmpegCapture(CapturePipeline pipeline, HardwareTimeline timeline, StreamTarget target, CameraOptions options)
    {
        this.pipeline = pipeline;
        this.timeline = timeline;
        this.target = target;
        stallAfter = TimeSpan.FromSeconds(options.StallSeconds);
        stalled.Token.Register(() => _ = FailAsync(() => Task.FromResult(Frames == 0
            ? $"no frame from the camera within {options.StallSeconds} s"
            : $"the camera stalled: no new frame for {options.StallSeconds} s after {Frames} frames")));
        stalled.CancelAfter(stallAfter);
        progress = WatchProgressAsync();
        _ = WatchExitAsync();
    }

    /// <summary>ffmpeg's process id.</summary>
    public int ProcessId => pipeline.Ffmpeg.Id;

    /// <summary>Every process of the pipeline (rpicam-vid first when it is the source).</summary>
    public IReadOnlyList<int> ProcessIds => [.. pipeline.Processes.Select(p => p.Id)];

    /// <summary>Frames sent so far, as ffmpeg last reported.</summary>
    public long Frames => Interlocked.Read(ref frames);

    public Task<string> Failed => failed.Task;

    public Task StopAsync() => End();

    public async ValueTask DisposeAsync()
    {
        await End();
        await progress;
        stalled.Dispose();
        pipeline.Dispose();
    }

    /// <summary>Stops the pipeline once, whoever asks first; later callers wait for the same stop.</summary>
    private Task End()
    {
        lock (gate)
        {
            return ending ??= StopPipelineAsync();
        }
    }

    private async Task StopPipelineAsync()
    {
        await pipeline.StopAsync();
        timeline.Record(Parts.Capture, "off");
    }

    /// <summary>Ends the capture for <paramref name="reason"/>, unless it is already ending (a stop was asked for).</summary>
    private async Task FailAsync(Func<Task<string>> reason)
    {
        Task stop;
        lock (gate)
        {
            if (ending is not null)
            {
                return;
            }
            stop = ending = StopPipelineAsync();
        }
        var because = await reason();
        try
        {
            await stop;
        }
        catch (HardwareFault e)
        {
            because += $"; {e.Message}";
        }
        failed.TrySetResult(because);
    }

    private async Task WatchExitAsync()
    {
        var exited = await pipeline.FirstExitAsync();
        await FailAsync(() => pipeline.ExplainAsync(exited, target));
    }

    private async Task WatchProgressAsync()
    {
        try
        {
            while (await pipeline.Ffmpeg.OutputText.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("frame=", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan("frame=".Length).Trim(), out var count)
                    && count > Frames)
                {
                    Interlocked.Exchange(ref frames, count);
                    stalled.CancelAfter(stallAfter);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The pipe went away with the process; its exit is watched elsewhere.
        }
    }
}
