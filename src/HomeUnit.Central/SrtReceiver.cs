using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HomeUnit.Drivers;

namespace HomeUnit.Central;

/// <summary>
/// The central's side of a look, as design §5 describes it: an ffmpeg SRT listener that decodes what it receives
/// in memory and prints one framemd5 line per decoded frame (nothing is written to a file). Each line is stamped
/// (monotonic nanoseconds, the timeline's clock) as it arrives; the stream's resolution and frame rate are read
/// from ffmpeg's description of its input. ffmpeg exits when the sender disconnects.
/// </summary>
public sealed partial class SrtReceiver : IAsyncDisposable
{
    private readonly Process process;
    private readonly List<long> frameTimes = [];
    private readonly StringBuilder errors = new();
    private readonly string passphrase;
    private readonly Task output;
    private readonly Task error;
    private volatile StreamInfo? stream;

    private SrtReceiver(Process process, string host, int port, string passphrase)
    {
        this.process = process;
        this.passphrase = passphrase;
        Host = host;
        Port = port;
        output = ReadFramesAsync();
        error = ReadErrorsAsync();
        Exited = process.WaitForExitAsync();
    }

    public string Host { get; }

    public int Port { get; }

    public string Url => $"srt://{Host}:{Port}";

    /// <summary>The picture's size and nominal frame rate, once ffmpeg has opened the stream.</summary>
    public StreamInfo? Stream => stream;

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

    private static readonly TimeSpan ListenTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Starts a listener (on a free port when <paramref name="port"/> is 0) and returns once its socket is bound.</summary>
    public static async Task<SrtReceiver> StartAsync(string passphrase, string ffmpeg = "/usr/bin/ffmpeg", int latencyMilliseconds = 120, string host = "127.0.0.1", int port = 0)
    {
        if (port == 0)
        {
            port = FreeUdpPort(host);
        }
        var start = new ProcessStartInfo(ffmpeg)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])[
            // info, for the input's description (size, rate); the passphrase is an option, not in the URL ffmpeg prints.
            "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
            "-f", "mpegts", "-probesize", "32", "-analyzeduration", "1", "-flags", "low_delay",
            "-passphrase", passphrase,
            "-i", $"srt://{host}:{port}?mode=listener&pbkeylen=32&latency={latencyMilliseconds * 1000}",
            "-f", "framemd5", "-"])
        {
            start.ArgumentList.Add(argument);
        }
        var receiver = new SrtReceiver(Process.Start(start)!, host, port, passphrase);
        var waited = Stopwatch.StartNew();
        while (!receiver.IsListening() && !receiver.Exited.IsCompleted)
        {
            if (waited.Elapsed > ListenTimeout)
            {
                await receiver.DisposeAsync();
                throw new TimeoutException($"the SRT receiver did not listen on {host}:{port} within {ListenTimeout.TotalSeconds:0} s");
            }
            await Task.Delay(20);
        }
        return receiver.Exited.IsCompleted
            ? throw new InvalidOperationException($"the SRT receiver exited: {receiver.Errors}")
            : receiver;
    }

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
        var address = IPAddress.Parse(Host).GetAddressBytes();
        var local = $"{address[3]:X2}{address[2]:X2}{address[1]:X2}{address[0]:X2}:{Port.ToString("X4", CultureInfo.InvariantCulture)}";
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
            if (stream is null && StreamLine().Match(line) is { Success: true } m)
            {
                stream = new StreamInfo(int.Parse(m.Groups["w"].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups["h"].Value, CultureInfo.InvariantCulture),
                    double.Parse(m.Groups["fps"].Value, CultureInfo.InvariantCulture));
            }
            lock (errors)
            {
                errors.AppendLine(line.Replace(passphrase, "***", StringComparison.Ordinal));
            }
        }
    }

    public static int FreeUdpPort(string host = "127.0.0.1")
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(host), 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    // ffmpeg's description of the input: "Stream #0:0[0x100]: Video: h264 (High) (...), yuv420p(progressive), 640x480, 15 fps, ..."
    [System.Text.RegularExpressions.GeneratedRegex(@"^\s*Stream #0:\d+.*: Video: .*?, (?<w>\d{2,5})x(?<h>\d{2,5})\b.*?, (?<fps>\d+(?:\.\d+)?) fps")]
    private static partial System.Text.RegularExpressions.Regex StreamLine();
}

/// <summary>A stream's picture: its size in pixels and the frame rate it declares.</summary>
public sealed record StreamInfo(int Width, int Height, double FrameRate);
