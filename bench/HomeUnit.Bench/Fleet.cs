using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using HomeUnit.Central;
using HomeUnit.Agent;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Ledger;
using HomeUnit.Agent.Link;
using HomeUnit.Mqtt;
using HomeUnit.Agent.Session;
using HomeUnit.TestSupport;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Protocol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.Bench;

/// <summary>
/// <c>fleet [--units 100,500,1000] [--look-seconds 5] [--cluster]</c>: N units in this process, each the agent's own
/// composition (<see cref="AgentHost.Build"/>: link with its durable outbox, grants, care plan, audit, session
/// machine, night ledger) on its own state database and kernel tree, with a stand-in camera and without the 2 Hz health readings
/// (N health loops on two shared cores would be the bench, not the burst). One mosquitto with the shipped mTLS
/// configuration — or, with <c>--cluster</c>, two ejabberd nodes with the units spread over both and the central on
/// node 1. Every unit gets its care plan, then the central publishes a grant to every unit at once (the 23:00 burst)
/// and takes the time from each publication to that unit's <c>session.started</c> event and audit record at the
/// central. Prints p50/p99/max per N with the CPU and memory of the broker(s) and of this process (units + central).
/// </summary>
public static class Fleet
{
    private const string Kid = "fleet-central";
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);

    public static async Task<int> RunAsync(string[] args)
    {
        var sizes = new[] { 100, 500, 1000 };
        var lookSeconds = 5;
        var cluster = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--units": sizes = args[++i].Split(',').Select(int.Parse).ToArray(); break;
                case "--look-seconds": lookSeconds = int.Parse(args[++i]); break;
                case "--cluster": cluster = true; break;
                default:
                    Console.Error.WriteLine($"fleet: unknown option {args[i]}");
                    return 2;
            }
        }
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 64), io);
        foreach (var units in sizes)
        {
            await RunOnceAsync(units, lookSeconds, cluster);
        }
        return 0;
    }

    private static async Task RunOnceAsync(int count, int lookSeconds, bool onCluster)
    {
        var work = Directory.CreateTempSubdirectory("homeunit-fleet-").FullName;
        LocalBroker? broker = null;
        EjabberdCluster? cluster = null;
        var hosts = new List<IHost>();
        try
        {
            Func<string, int, MqttOptions> optionsFor;
            int[] brokerPids;
            if (onCluster)
            {
                cluster = await EjabberdCluster.StartAsync();
                optionsFor = (id, node) => cluster.ClientOptions(id, node);
                brokerPids = [cluster.NodePid(0), cluster.NodePid(1)];
            }
            else
            {
                broker = await LocalBroker.LaunchAsync();
                optionsFor = (id, _) => broker.ClientOptions(id);
                brokerPids = [broker.ProcessId!.Value];
            }

            var (privatePem, publicPem) = CentralSigner.CreateKeyPair();
            var key = System.Security.Cryptography.ECDsa.Create();
            key.ImportFromPem(privatePem);
            var signer = new CentralSigner(key, Kid, CentralSigner.DefaultIssuer);
            var trust = Path.Combine(work, "trust");
            Directory.CreateDirectory(trust);
            File.WriteAllText(Path.Combine(trust, Kid + ".pem"), publicPem);

            var central = await CentralClient.ConnectAsync(optionsFor(onCluster ? EjabberdCluster.CentralIdentity : "central", 1), NullLogger.Instance,
                ["homeunit/v1/+/event", "homeunit/v1/+/audit", "homeunit/v1/+/status"]);
            await using var _ = central;
            var started = new ConcurrentDictionary<string, long>();
            var audited = new ConcurrentDictionary<string, long>();
            var online = new ConcurrentDictionary<string, bool>();
            var applied = new ConcurrentDictionary<string, bool>();
            central.Received += message =>
            {
                var now = Stopwatch.GetTimestamp();
                var device = message.Topic.Split('/')[2];
                using var json = JsonDocument.Parse(message.Payload);
                var root = json.RootElement;
                if (message.Topic.EndsWith("/status", StringComparison.Ordinal))
                {
                    if (root.GetProperty("state").GetString() == "online") online[device] = true;
                }
                else if (root.TryGetProperty("type", out var type))
                {
                    var isAudit = message.Topic.EndsWith("/audit", StringComparison.Ordinal);
                    var code = type.GetString();
                    if (isAudit && code == AuditType.SessionStarted.Code()) audited.TryAdd(device, now);
                    else if (!isAudit && code == EventType.SessionStarted.Code()) started.TryAdd(device, now);
                    else if (isAudit && code == AuditType.CarePlanApplied.Code()) applied[device] = true;
                }
            };

            // The units, composed as the daemon composes itself.
            var clock = Stopwatch.StartNew();
            var ids = Enumerable.Range(0, count).Select(i => $"fleet-{i:D4}").ToList();
            // Started 50 at a time: each start drives its lens up and waits for the servo to settle.
            foreach (var batch in ids.Select((id, index) => (id, index)).Chunk(50))
            {
                var composed = batch.Select(u => ComposeUnit(work, u.id, optionsFor(u.id, u.index % 2), trust)).ToList();
                hosts.AddRange(composed);
                await Task.WhenAll(composed.Select(h => h.StartAsync()));
            }
            await Eventually.True(() =>
            {
                if (clock.Elapsed.Seconds % 15 == 0) Console.Error.Write($"\r{online.Count}/{count} online after {clock.Elapsed.TotalSeconds:F0} s ");
                return online.Count == count;
            }, $"{count} units online", Patience);
            var connectSeconds = clock.Elapsed.TotalSeconds;

            // Care plans, retained, as the central keeps them.
            var now = DateTimeOffset.UtcNow;
            var local = TimeZoneInfo.ConvertTime(now, TimeZoneInfo.FindSystemTimeZoneById("Europe/Stockholm"));
            var at = local.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture);
            foreach (var id in ids)
            {
                var plan = new CarePlanPayload(signer.Issuer, id, now.ToUnixTimeSeconds(), 1, "Europe/Stockholm", [new CarePlanCheck("c1", at, 15)], 0, new FollowUpRule(30, 2), []);
                await central.PublishAsync(Topics.For(id, Topics.CarePlan), signer.Sign(plan), retain: true);
            }
            await Eventually.True(() => applied.Count == count, $"{count} care plans applied", Patience);

            // The burst: a grant to every unit at once.
            var grants = ids.ToDictionary(id => id, id => signer.Grant(new GrantSpec(id, "operator-7", SessionKinds.Scheduled, Views.Bed, DateTimeOffset.UtcNow.AddSeconds(-5),
                TimeSpan.FromMinutes(4), lookSeconds, new StreamPayload("srt://127.0.0.1:9", "fleet-look", "fleet-passphrase-0123456789"), "c1"), DateTimeOffset.UtcNow));
            var cpuBefore = (Self: CpuTicks(Environment.ProcessId), Brokers: brokerPids.Sum(CpuTicks));
            var burst = Stopwatch.StartNew();
            var published = new Dictionary<string, long>();
            foreach (var id in ids)
            {
                published[id] = Stopwatch.GetTimestamp();
                await central.PublishAsync(Topics.For(id, Topics.Grant), grants[id]);
            }
            var publishSeconds = burst.Elapsed.TotalSeconds;
            await Eventually.True(() => started.Count == count && audited.Count == count, $"{count} looks started", Patience);
            var burstSeconds = burst.Elapsed.TotalSeconds;
            var cpu = (Self: CpuTicks(Environment.ProcessId) - cpuBefore.Self, Brokers: brokerPids.Sum(CpuTicks) - cpuBefore.Brokers);

            double Ms(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;
            var toStarted = ids.Select(id => Ms(published[id], started[id])).Order().ToList();
            var toAudit = ids.Select(id => Ms(published[id], audited[id])).Order().ToList();
            Footprint.Emit(new
            {
                bench = "fleet", broker = onCluster ? "ejabberd-2-nodes" : "mosquitto", units = count,
                connectSeconds = Math.Round(connectSeconds, 1), publishSeconds = Math.Round(publishSeconds, 2), burstSeconds = Math.Round(burstSeconds, 2),
                grantToStartedMs = new { p50 = P(toStarted, 0.5), p99 = P(toStarted, 0.99), max = Math.Round(toStarted[^1], 1) },
                grantToAuditMs = new { p50 = P(toAudit, 0.5), p99 = P(toAudit, 0.99), max = Math.Round(toAudit[^1], 1) },
                aimP99Ms = 1000, met = P(toAudit, 0.99) <= 1000 && P(toStarted, 0.99) <= 1000,
                cpuSecondsInBurst = new { units = cpu.Self / 100.0, broker = cpu.Brokers / 100.0 },
                rssMb = new { units = Math.Round(RssKb(Environment.ProcessId) / 1024.0, 1), broker = Math.Round(brokerPids.Sum(RssKb) / 1024.0, 1) },
                load = File.ReadAllText("/proc/loadavg").Trim(),
            });
        }
        finally
        {
            await Task.WhenAll(hosts.Select(async h =>
            {
                try
                {
                    await h.StopAsync(TimeSpan.FromSeconds(10));
                }
                catch (Exception)
                {
                    // stopping is best effort here
                }
                h.Dispose();
            }));
            if (broker is not null) await broker.DisposeAsync();
            if (cluster is not null) await cluster.DisposeAsync();
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>One unit through the agent's composition root, its camera a stand-in and its health loops left out.</summary>
    private static IHost ComposeUnit(string work, string id, MqttOptions link, string trust)
    {
        var state = Path.Combine(work, id);
        var kernelRoot = Path.Combine(state, "kernel");
        // The tree with the PWM channel already exported, as the kernel leaves it; no watcher per unit.
        using (var kernel = SimulatedKernel.Create(kernelRoot))
        {
            new KernelFiles(kernelRoot).Write($"{kernel.PwmChipDirectory}/export", "0");
            Eventually.True(() => File.Exists(Path.Combine(kernelRoot, kernel.PwmChipDirectory, "pwm0", "enable")), "pwm0 exported").GetAwaiter().GetResult();
        }
        string[] settings =
        [
            $"DeviceId={id}", $"State:Directory={state}", $"Hardware:Root={kernelRoot}", $"Trust:KeysDirectory={trust}",
            $"Mqtt:Host={link.Host}", $"Mqtt:Port={link.Port}", $"Mqtt:CaFile={link.CaFile}", $"Mqtt:CertFile={link.CertFile}", $"Mqtt:KeyFile={link.KeyFile}",
            "Mqtt:KeepAliveSeconds=60", "Mqtt:ReconnectMaxSeconds=5", "Camera:Source=testsrc", "Servo:SettleMilliseconds=300",
        ];
        var (configuration, problems) = AgentHost.Load(new ConfigurationSources(null, settings, Simulate: false));
        var (options, bindProblems) = AgentHost.Bind(configuration ?? throw new InvalidOperationException(string.Join("; ", problems)));
        if (options is null)
        {
            throw new InvalidOperationException(string.Join("; ", bindProblems));
        }
        return AgentHost.Build(options, configuration, TrustedKeys.Load(trust), simulation: null, new RunFlags(false, false), services =>
        {
            services.Replace(ServiceDescriptor.Singleton(sp =>
            {
                var timeline = sp.GetRequiredService<HardwareTimeline>();
                return new UnitHardware(AgentHost.HardwareSettings(options), timeline, () => new StandInCamera(timeline));
            }));
            // The loops a look needs, in the daemon's order; the health and readiness loops left out.
            services.RemoveAll<IHostedService>();
            services.AddHostedService(sp => sp.GetRequiredService<LinkService>());
            services.AddHostedService<SafetyService>();
            services.AddHostedService<RefusalFlush>();
            services.AddHostedService<HandoverExpiry>();
            services.AddHostedService(sp => sp.GetRequiredService<PrivacyPause>());
            services.AddHostedService(sp => sp.GetRequiredService<CentralMessages>());
            services.AddHostedService(sp => sp.GetRequiredService<NightLedger>());
            // A thousand consoles would measure the terminal.
            services.RemoveAll<Microsoft.Extensions.Logging.ILoggerProvider>();
        });
    }

    private static double P(IReadOnlyList<double> sorted, double p) => Math.Round(sorted[Math.Max(0, (int)Math.Ceiling(p * sorted.Count) - 1)], 1);

    private static long CpuTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11]) + long.Parse(fields[12]);
    }

    private static long RssKb(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]);
    }

    /// <summary>A camera that starts at once and streams nothing: the fleet measures the control path, not video.</summary>
    private sealed class StandInCamera(HardwareTimeline timeline) : ICamera
    {
        public Task<ICapture> StartAsync(StreamTarget target, CancellationToken cancellationToken)
        {
            timeline.Record(Parts.Capture, "on stand-in");
            return Task.FromResult<ICapture>(new StandInCapture(timeline));
        }

        public Task<string?> CheckAsync(CancellationToken cancellationToken) => Task.FromResult<string?>(null);
    }

    private sealed class StandInCapture(HardwareTimeline timeline) : ICapture
    {
        public int ProcessId => 0;

        public Task<string> Failed { get; } = new TaskCompletionSource<string>().Task;

        public Task StopAsync()
        {
            timeline.Record(Parts.Capture, "off");
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
