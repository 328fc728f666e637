using System.ComponentModel;
using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Drivers.Camera;

/// <summary>
/// The processes of one run of the camera: ffmpeg alone (v4l2, testsrc), or rpicam-vid whose H.264 the agent
/// copies into ffmpeg's stdin through memory (rpicam). Nothing passes through a file or a named pipe.
/// </summary>
internal sealed class CapturePipeline : IDisposable
{
    private readonly CameraOptions options;
    private readonly Task pump;

    private CapturePipeline(CameraOptions options, ChildProcess ffmpeg, ChildProcess? camera)
    {
        this.options = options;
        Ffmpeg = ffmpeg;
        Camera = camera;
        pump = camera is null ? Task.CompletedTask : PumpAsync(camera, ffmpeg);
    }

    public ChildProcess Ffmpeg { get; }

    /// <summary>rpicam-vid, when it is the source.</summary>
    public ChildProcess? Camera { get; }

    public IReadOnlyList<ChildProcess> Processes => Camera is null ? [Ffmpeg] : [Camera, Ffmpeg];

    public static async Task<CapturePipeline> StartAsync(CameraOptions options, IReadOnlyList<string> ffmpegArguments)
    {
        var ffmpeg = await StartAsync(options, options.FfmpegPath, ffmpegArguments);
        if (options.Source != CameraSources.Rpicam)
        {
            return new CapturePipeline(options, ffmpeg, null);
        }
        try
        {
            return new CapturePipeline(options, ffmpeg, await StartAsync(options, options.RpicamPath, FfmpegArguments.Rpicam(options)));
        }
        catch
        {
            await ffmpeg.StopAsync();
            ffmpeg.Dispose();
            throw;
        }
    }

    /// <summary>The first process to exit, once it has.</summary>
    public async Task<ChildProcess> FirstExitAsync()
    {
        var exited = await Task.WhenAny(Processes.Select(p => p.Exited));
        return Processes.First(p => p.Exited == exited);
    }

    /// <summary>Stops every process at once; returns when all are gone.</summary>
    public async Task StopAsync()
    {
        await Task.WhenAll(Processes.Select(p => p.StopAsync()));
        await pump;
    }

    /// <summary>Why <paramref name="exited"/> ended, from its exit code and last stderr lines.</summary>
    public async Task<string> ExplainAsync(ChildProcess exited, StreamTarget? target) =>
        FfmpegFailure.Explain(exited.Name, await exited.Exited, await exited.ErrorTailAsync(), target, options.Device);

    public void Dispose()
    {
        foreach (var process in Processes)
        {
            process.Dispose();
        }
    }

    private static async Task<ChildProcess> StartAsync(CameraOptions options, string program, IReadOnlyList<string> arguments)
    {
        try
        {
            return await ChildProcess.StartAsync(options.SetprivPath, program, arguments);
        }
        catch (Win32Exception e)
        {
            throw new HardwareFault($"cannot start {Path.GetFileName(program)}: {e.Message}", e);
        }
    }

    private static async Task PumpAsync(ChildProcess camera, ChildProcess ffmpeg)
    {
        try
        {
            await camera.Output.CopyToAsync(ffmpeg.Input);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // One side has gone; the capture notices by the exit.
        }
        ffmpeg.CloseInput();
    }
}
