using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HomeUnit.Drivers;

namespace HomeUnit.Central.Simulation;

/// <summary>
/// The central's side of a look, as design §5 describes it: an ffmpeg SRT listener on 127.0.0.1 that decodes what
/// it receives and prints one framemd5 line per decoded frame. Each line is stamped (monotonic nanoseconds, the
/// timeline's clock) as it arrives. ffmpeg exits when the sender disconnects.
/// </summary>
public sealed class SrtReceiver : IAsyncDisposable
{
    private readonly Process process;
    private readonly List<long> frameTimes = [];
    private readonly StringBuilder errors = new();
    private readonly Task output;
    private readonly Task error;

    private SrtReceiver(Process process, int port)
    {
        this.process = process;
        Port = port;
        output = ReadFramesAsync();
        error = ReadErrorsAsync();
        Exited = process.WaitForExitAsync();
    }

    public int Port { get; }

    public string Url => $"srt://127.0.0.1:{Port}";

    public Task Exited { get; }

    public int Frames
    {
        get
        {
            lock (frameTimes)
            {
                return frameTimes.Count;
            }
        }
    }

    /// <summary>When the first and the last frame were decoded, or null before the first.</summary>
    public (long First, long Last)? FrameSpan
    {
        get
        {
            lock (frameTimes)
            {
                return frameTimes.Count == 0 ? null : (frameTimes[0], frameTimes[^1]);
            }
        }
    }

    public string Errors
    {
        get
        {
            lock (errors)
            {
                return errors.ToString();
            }
        }
    }

    /// <summary>Starts a listener on a free port and returns once its socket is bound.</summary>
    public static async Task<SrtReceiver> StartAsync(string passphrase, string ffmpeg = "/usr/bin/ffmpeg", int latencyMilliseconds = 120)
    {
        var port = FreeUdpPort();
        var start = new ProcessStartInfo(ffmpeg)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])[
            "-hide_banner", "-nostdin", "-loglevel", "error",
            "-f", "mpegts", "-probesize", "32", "-analyzeduration", "1", "-flags", "low_delay",
            "-i", $"srt://127.0.0.1:{port}?mode=listener&passphrase={passphrase}&pbkeylen=32&latency={latencyMilliseconds * 1000}",
            "-f", "framemd5", "-"])
        {
            start.ArgumentList.Add(argument);
        }
        var receiver = new SrtReceiver(Process.Start(start)!, port);
        await Eventually.True(() => receiver.IsListening() || receiver.Exited.IsCompleted, "the SRT receiver to listen");
        return receiver.Exited.IsCompleted
            ? throw new InvalidOperationException($"the SRT receiver exited: {receiver.Errors}")
            : receiver;
    }

    public Task WaitForFramesAsync(int count, TimeSpan timeout) =>
        Eventually.True(() => Frames >= count, $"{count} frames at the receiver", timeout);

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill();
        }
        await process.WaitForExitAsync();
        await Task.WhenAll(output, error);
        process.Dispose();
    }

    private bool IsListening()
    {
        // /proc/net/udp lists bound sockets as "0100007F:PORT" (hex, host byte order for the address).
        var local = $"0100007F:{Port.ToString("X4", CultureInfo.InvariantCulture)}";
        return File.ReadLines("/proc/net/udp").Any(line => line.Contains(local, StringComparison.Ordinal));
    }

    private async Task ReadFramesAsync()
    {
        while (await process.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.Length > 0 && line[0] != '#')
            {
                var at = HardwareTimeline.Now();
                lock (frameTimes)
                {
                    frameTimes.Add(at);
                }
            }
        }
    }

    private async Task ReadErrorsAsync()
    {
        while (await process.StandardError.ReadLineAsync() is { } line)
        {
            lock (errors)
            {
                errors.AppendLine(line);
            }
        }
    }

    public static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
