using HomeUnit.TestSupport;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using HomeUnit.Agent;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.State;
using HomeUnit.Mqtt;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.Bench;

/// <summary>
/// The MQTT link against a local mosquitto (plain TCP on 127.0.0.1, no subscribers):
/// publish→PUBACK latency through <see cref="MqttConnection"/> against a hand-written MQTT
/// client on a bare socket, and outbox drain throughput against pipelined publishes without the
/// outbox and against <c>mosquitto_pub -l</c>, all measured in the same run.
/// </summary>
public static class LinkBench
{
    private const int LatencySamples = 2000;
    private const int Warmup = 200;
    private const int Records = 5000;
    private const string Topic = "homeunit/v1/bench-1/event";

    public static async Task<int> RunAsync()
    {
        var directory = Directory.CreateTempSubdirectory("homeunit-bench-");
        var port = LocalBroker.FreePort();
        using var broker = StartBroker(directory.FullName, port);
        try
        {
            await WaitListeningAsync(port);
            var options = new MqttOptions { Host = "127.0.0.1", Port = port, AllowInsecure = true };
            var payload = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(
                new DeviceEvent(Guid.NewGuid().ToString(), 1, Wire.Time(DateTimeOffset.UtcNow), EventType.Readiness, Severity.Info, new { n = 1 }), Wire.Json));

            var ours = await ConnectionLatencyAsync(options, payload);
            var raw = RawSocketLatency(port, payload);
            Print(new
            {
                bench = "link.publish_ack_latency",
                n = LatencySamples,
                payload_bytes = payload.Length,
                median_us = Percentile(ours, 0.5),
                p95_us = Percentile(ours, 0.95),
                baseline = "bare-socket MQTT v5 client",
                baseline_median_us = Percentile(raw, 0.5),
                baseline_p95_us = Percentile(raw, 0.95),
                ratio_median = Math.Round(Percentile(ours, 0.5) / Percentile(raw, 0.5), 2),
                ratio_p95 = Math.Round(Percentile(ours, 0.95) / Percentile(raw, 0.95), 2),
            });

            var outbox = await OutboxThroughputAsync(options, Path.Combine(directory.FullName, "state"), payload);
            var pipelined = await PipelinedThroughputAsync(options, payload);
            var mosquittoPub = await MosquittoPubThroughputAsync(port, payload);
            Print(new
            {
                bench = "link.outbox_throughput",
                n = Records,
                records_per_s = Math.Round(outbox),
                baseline_pipelined_publishes_per_s = Math.Round(pipelined),
                baseline_mosquitto_pub_per_s = Math.Round(mosquittoPub),
                ratio_vs_pipelined = Math.Round(outbox / pipelined, 2),
                ratio_vs_mosquitto_pub = Math.Round(outbox / mosquittoPub, 2),
            });
            return 0;
        }
        finally
        {
            broker.Kill();
            broker.WaitForExit();
            directory.Delete(recursive: true);
        }
    }

    private static async Task<double[]> ConnectionLatencyAsync(MqttOptions options, byte[] payload)
    {
        await using var connection = new MqttConnection(options, options.Broker, "bench-1", null, NullLogger.Instance);
        await connection.ConnectAsync(CancellationToken.None);
        var samples = new double[LatencySamples];
        for (var i = -Warmup; i < LatencySamples; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await connection.PublishAsync(Topic, payload, retain: false, CancellationToken.None);
            if (i >= 0)
            {
                samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            }
        }
        return samples;
    }

    /// <summary>The least a client can do: one blocking socket, PUBLISH QoS 1 written by hand, read the PUBACK.</summary>
    private static double[] RawSocketLatency(int port, byte[] payload)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(IPAddress.Loopback, port);
        var clientId = "bench-raw"u8;
        Send(socket, 0x10, [0, 4, .. "MQTT"u8, 5, 0x02, 0, 60, 0, 0, (byte)clientId.Length, .. clientId]);
        Receive(socket); // CONNACK
        var topic = Encoding.UTF8.GetBytes(Topic);
        var samples = new double[LatencySamples];
        for (var i = -Warmup; i < LatencySamples; i++)
        {
            var packetId = (ushort)(i + Warmup + 1);
            var start = Stopwatch.GetTimestamp();
            Send(socket, 0x32, [(byte)(topic.Length >> 8), (byte)topic.Length, .. topic, (byte)(packetId >> 8), (byte)packetId, 0, .. payload]);
            var ack = Receive(socket);
            if (i >= 0)
            {
                samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            }
            if (BinaryPrimitives.ReadUInt16BigEndian(ack) != packetId)
            {
                throw new InvalidOperationException("PUBACK for another packet");
            }
        }
        return samples;
    }

    private static void Send(Socket socket, byte header, byte[] body)
    {
        var packet = new List<byte> { header };
        var length = body.Length;
        do
        {
            var digit = (byte)(length % 128);
            length /= 128;
            packet.Add(length > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (length > 0);
        packet.AddRange(body);
        socket.Send(packet.ToArray());
    }

    /// <summary>Reads one packet and returns its body.</summary>
    private static byte[] Receive(Socket socket)
    {
        var one = new byte[1];
        socket.Receive(one);
        int length = 0, shift = 0;
        do
        {
            socket.Receive(one);
            length |= (one[0] & 0x7f) << shift;
            shift += 7;
        }
        while ((one[0] & 0x80) != 0);
        var body = new byte[length];
        for (var read = 0; read < length;)
        {
            read += socket.Receive(body, read, length - read, SocketFlags.None);
        }
        return body;
    }

    /// <summary>Records waiting in a real outbox (SQLite, synchronous=FULL) drained by the link service until every one is acknowledged and removed.</summary>
    private static async Task<double> OutboxThroughputAsync(MqttOptions options, string stateDirectory, byte[] payload)
    {
        var database = new StateDatabase(stateDirectory, Records * 2);
        var outbox = new Outbox(database);
        var text = Encoding.UTF8.GetString(payload);
        for (var i = 0; i < Records; i++)
        {
            outbox.Enqueue(Topics.Event, Guid.NewGuid().ToString(), text);
        }
        var events = new Events(database, TimeProvider.System, NullLogger<Events>.Instance);
        using var link = new LinkService(options, "bench-1", outbox, events, new HealthState(), new LoopHeartbeats(), TimeProvider.System, NullLoggerFactory.Instance);
        await link.StartAsync(CancellationToken.None);
        while (link.Status.State != LinkState.Online)
        {
            await Task.Delay(1);
        }
        var watch = Stopwatch.StartNew();
        while (outbox.Count() > 0)
        {
            await Task.Delay(5);
        }
        var seconds = watch.Elapsed.TotalSeconds;
        await link.StopAsync(CancellationToken.None);
        return Records / seconds;
    }

    /// <summary>Every record handed to the connection at once and all acknowledgements awaited: no SQLite, no window.</summary>
    private static async Task<double> PipelinedThroughputAsync(MqttOptions options, byte[] payload)
    {
        await using var connection = new MqttConnection(options, options.Broker, "bench-2", null, NullLogger.Instance);
        await connection.ConnectAsync(CancellationToken.None);
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Records).Select(_ => connection.PublishAsync(Topic, payload, retain: false, CancellationToken.None)));
        return Records / watch.Elapsed.TotalSeconds;
    }

    private static async Task<double> MosquittoPubThroughputAsync(int port, byte[] payload)
    {
        var start = new ProcessStartInfo("mosquitto_pub", ["-h", "127.0.0.1", "-p", port.ToString(), "-V", "5", "-q", "1", "-i", "bench-3", "-t", Topic, "-l"])
        {
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        var lines = string.Concat(Enumerable.Repeat(Encoding.UTF8.GetString(payload) + "\n", Records));
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(lines);
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        return Records / watch.Elapsed.TotalSeconds;
    }

    private static Process StartBroker(string directory, int port)
    {
        var configuration = Path.Combine(directory, "mosquitto.conf");
        File.WriteAllText(configuration, $"""
            {(Environment.UserName == "root" ? "user root" : "")}
            listener {port} 127.0.0.1
            allow_anonymous true
            persistence false
            log_dest none
            """);
        var start = new ProcessStartInfo(File.Exists("/usr/sbin/mosquitto") ? "/usr/sbin/mosquitto" : "mosquitto", ["-c", configuration])
        {
            UseShellExecute = false,
        };
        return Process.Start(start)!;
    }

    private static async Task WaitListeningAsync(int port)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(20);
            }
        }
    }

    private static double Percentile(double[] samples, double p)
    {
        var sorted = samples.Order().ToArray();
        return Math.Round(sorted[(int)Math.Min(sorted.Length - 1, Math.Floor(p * sorted.Length))], 1);
    }

    private static void Print(object figures) => Console.WriteLine(JsonSerializer.Serialize(figures));
}
