using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace HomeUnit.Central;

/// <summary>
/// <c>homeunit-central receive</c>: the media gateway's side of one look, for an integrator's bench. An SRT
/// listener (AES-256, the grant's passphrase) that decodes the stream in memory and reports frames,
/// resolution and frame rate. Nothing is written anywhere: the decoded frames are only counted.
/// </summary>
public static class Receive
{
    public static async Task<int> RunAsync(string host, int port, string passphrase, int latencyMs, TimeSpan wait, bool json, CancellationToken cancellationToken)
    {
        await using var receiver = await SrtReceiver.StartAsync(passphrase, host: host, port: port, latencyMilliseconds: latencyMs);
        Report(json, new JsonObject { ["kind"] = "listening", ["url"] = receiver.Url },
            $"listening on {receiver.Url} (SRT listener, AES-256); waiting up to {wait.TotalSeconds:0} s for the unit to call");
        var started = DateTime.UtcNow;
        var reportedFrames = 0;
        var reportedStream = false;
        while (!receiver.Exited.IsCompleted && !cancellationToken.IsCancellationRequested)
        {
            if (receiver.Frames == 0 && DateTime.UtcNow - started > wait)
            {
                break;
            }
            if (!reportedStream && receiver.Stream is { } stream)
            {
                reportedStream = true;
                Report(json, new JsonObject { ["kind"] = "stream", ["width"] = stream.Width, ["height"] = stream.Height, ["frameRate"] = stream.FrameRate },
                    $"stream: {stream.Width}x{stream.Height}, {stream.FrameRate.ToString("0.##", CultureInfo.InvariantCulture)} fps");
            }
            if (receiver.Frames != reportedFrames)
            {
                reportedFrames = receiver.Frames;
                Report(json, new JsonObject { ["kind"] = "frames", ["frames"] = reportedFrames }, $"{reportedFrames} frames decoded");
            }
            try
            {
                await Task.WhenAny(receiver.Exited, Task.Delay(1000, cancellationToken));
            }
            catch (OperationCanceledException)
            {
            }
        }
        var frames = receiver.Frames;
        var measured = receiver.FrameSpan is { } span && frames > 1 ? (frames - 1) / TimeSpan.FromTicks((span.Last - span.First) / 100).TotalSeconds : (double?)null;
        var summary = new JsonObject
        {
            ["kind"] = "ended",
            ["frames"] = frames,
            ["width"] = receiver.Stream?.Width,
            ["height"] = receiver.Stream?.Height,
            ["frameRate"] = receiver.Stream?.FrameRate,
            ["measuredFrameRate"] = measured is { } m ? Math.Round(m, 2) : null,
            ["stored"] = 0,
        };
        Report(json, summary, frames == 0
            ? "no picture arrived (no caller, a wrong passphrase, or the look was refused)"
            : $"the look is over: {frames} frames, {receiver.Stream?.Width}x{receiver.Stream?.Height}, measured {measured?.ToString("0.0", CultureInfo.InvariantCulture) ?? "-"} fps; nothing stored");
        return frames > 0 ? 0 : 1;
    }

    private static void Report(bool json, JsonObject line, string text)
    {
        if (json)
        {
            Console.WriteLine(line.ToJsonString());
        }
        else if (Console.IsOutputRedirected)
        {
            Console.WriteLine($"{DateTimeOffset.Now:HH:mm:ss.fff} receiver {text}");
        }
        else
        {
            AnsiConsole.MarkupLineInterpolated($"[grey]{DateTimeOffset.Now:HH:mm:ss.fff}[/] [green]receiver[/] {text}");
        }
    }
}
