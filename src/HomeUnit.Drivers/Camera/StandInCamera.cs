using System.Diagnostics;

namespace HomeUnit.Drivers.Camera;

/// <summary>A capture stand-in: a process that runs until stopped, for the state machine before the stream exists.</summary>
public sealed class StandInCamera(HardwareTimeline timeline) : ICamera
{
    public Task<ICapture> StartAsync(StreamTarget target, CancellationToken cancellationToken)
    {
        var process = Process.Start(new ProcessStartInfo("sleep", "86400") { UseShellExecute = false })!;
        timeline.Record(Parts.Capture, $"on pid={process.Id}");
        return Task.FromResult<ICapture>(new Capture(process, timeline));
    }

    public Task<string?> CheckAsync(CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    private sealed class Capture(Process process, HardwareTimeline timeline) : ICapture
    {
        public int ProcessId => process.Id;

        public Task<string> Failed { get; } = new TaskCompletionSource<string>().Task;

        public async Task StopAsync()
        {
            process.Kill();
            await process.WaitForExitAsync();
            timeline.Record(Parts.Capture, "off");
        }

        public ValueTask DisposeAsync()
        {
            process.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
