using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using HomeUnit.Central;
using HomeUnit.TestSupport;
using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Bench;

/// <summary>
/// <c>footprint [--seconds 60] [--starts 5] [--simulate] [--baseline-agent DIR] [--agent-property P=V]… [--agent-env K=V]…</c>: the agent as the
/// package ships it (<c>dotnet publish src/HomeUnit.Agent -c Release -r linux-x64 --self-contained</c>) beside a
/// minimal Generic Host service (<c>bench/MinimalService</c>: READY to systemd, one 2 Hz timer) published the same way.
/// Both run at once, so they share the machine's load: start-up time from exec to READY=1 on their notify socket
/// (median of alternating starts), then CPU and resident memory while idle. The agent runs against a real mosquitto
/// with mTLS, on a kernel tree this process keeps (as the kernel would), not simulating unless <c>--simulate</c>.
/// <c>--agent-property</c> and <c>--agent-env</c> try a lever on the agents only, not the minimal service.
/// <c>--baseline-agent DIR</c> publishes DIR's <c>src/HomeUnit.Agent</c> the same way and runs it beside the other two
/// as <c>baseline</c>, with its own unit and certificate: before and after a change, in the same run. One JSON
/// object a line.
/// </summary>
public static class Footprint
{
    private const string DeviceId = "footprint-unit";
    private const string BaselineDeviceId = "footprint-baseline";
    // Past start-up and the first tier-up of the JIT (methods called at 2 Hz are recompiled after ~15 s).
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = 60;
        var starts = 5;
        var simulate = false;
        string? baseline = null;
        var properties = new List<string>();
        var environment = new Dictionary<string, string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds": seconds = int.Parse(args[++i]); break;
                case "--starts": starts = int.Parse(args[++i]); break;
                case "--simulate": simulate = true; break;
                case "--baseline-agent": baseline = Path.GetFullPath(args[++i]); break;
                case "--agent-property": properties.Add(args[++i]); break;
                case "--agent-env":
                    var (key, value) = Split(args[++i]);
                    environment[key] = value;
                    break;
                default:
                    Console.Error.WriteLine($"footprint: unknown option {args[i]}");
                    return 2;
            }
        }

        // The agent tells READY through Microsoft.Extensions.Hosting.Systemd, which does so only when the parent
        // process is named systemd (/proc/PPID/comm), as on the unit: this process takes that name for its children.
        File.WriteAllText("/proc/self/comm", "systemd");
        var work = Directory.CreateTempSubdirectory("homeunit-footprint-").FullName;
        try
        {
            var root = RepositoryRoot();
            var agentExe = Publish(root, "src/HomeUnit.Agent", Path.Combine(work, "agent"), properties, "homeunit");
            var minimalExe = Publish(root, "bench/MinimalService", Path.Combine(work, "minimal"), [], "MinimalService");
            // The baseline is published and run as the agent is: the same levers, its own unit and certificate.
            var baselineExe = baseline is null ? null : Publish(baseline, "src/HomeUnit.Agent", Path.Combine(work, "baseline"), properties, "homeunit");
            await using var broker = await LocalBroker.LaunchAsync();
            using var kernel = simulate ? null : SimulatedKernel.Create(Path.Combine(work, "unit", "kernel"));
            using var baselineKernel = simulate || baseline is null ? null : SimulatedKernel.Create(Path.Combine(work, "baseline-unit", "kernel"));
            List<Subject> subjects =
            [
                new("minimal", minimalExe, [], new Dictionary<string, string>()),
                new("agent", agentExe, AgentArguments(Path.Combine(work, "unit"), DeviceId, broker, simulate), environment),
            ];
            if (baselineExe is not null)
            {
                // An agent from before the MQTTnet link (e09b3aa) reads the same keys (Mqtt:Host, Port, CaFile,
                // CertFile, KeyFile; Trust:KeysDirectory and its default Trust:Issuer), so only its paths differ.
                subjects.Add(new("baseline", baselineExe, AgentArguments(Path.Combine(work, "baseline-unit"), BaselineDeviceId, broker, simulate), environment));
            }

            Emit(new { bench = "footprint", metric = "setup", simulate, baselineAgent = baseline, agentProperties = properties, agentEnvironment = environment, seconds, starts, load = LoadAverage() });

            var startup = subjects.ToDictionary(s => s.Name, _ => new List<double>());
            for (var i = 0; i < starts; i++)
            {
                foreach (var subject in subjects)
                {
                    await using var run = await subject.StartAsync(work);
                    startup[subject.Name].Add(run.StartupMs);
                }
            }
            foreach (var (name, values) in startup)
            {
                Emit(new { bench = "footprint", process = name, metric = "startup-to-ready-ms", median = Median(values), min = Math.Round(values.Min(), 1), max = Math.Round(values.Max(), 1) });
            }

            // Idle, side by side; each is stopped before the broker is.
            var idle = new List<(Subject Subject, Launched Run)>();
            try
            {
                foreach (var subject in subjects)
                {
                    idle.Add((subject, await subject.StartAsync(work)));
                }
                await Task.Delay(Settle);
                var loadBefore = LoadAverage();
                var cpuBefore = idle.ToDictionary(p => p.Subject.Name, p => p.Run.CpuTicks());
                var clock = Stopwatch.StartNew();
                var rss = subjects.ToDictionary(s => s.Name, _ => new List<long>());
                while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
                {
                    await Task.Delay(TimeSpan.FromSeconds(1));
                    foreach (var (subject, run) in idle)
                    {
                        rss[subject.Name].Add(run.RssKb());
                    }
                }
                var elapsed = clock.Elapsed.TotalSeconds;
                var cpu = idle.ToDictionary(p => p.Subject.Name, p => CpuPercent(p.Run.CpuTicks() - cpuBefore[p.Subject.Name], elapsed));
                foreach (var (subject, run) in idle)
                {
                    var name = subject.Name;
                    Emit(new
                    {
                        bench = "footprint", process = name, metric = "idle", seconds = Math.Round(elapsed, 1),
                        cpuPercentOfCore = cpu[name], rssMbMedian = Math.Round(MedianLong(rss[name]) / 1024.0, 1),
                        rssMbMax = Math.Round(rss[name].Max() / 1024.0, 1), threads = run.Threads(),
                    });
                }
                var loadAfter = LoadAverage();
                // No CPU used by the baseline at all gives no ratio (null: JSON has no NaN).
                (double Memory, double? Cpu, double Startup) Ratios(string of, string to) => (
                    Math.Round(MedianLong(rss[of]) / (double)MedianLong(rss[to]), 2),
                    cpu[to] > 0 ? Math.Round(cpu[of] / cpu[to], 2) : null,
                    Math.Round(Median(startup[of]) / Median(startup[to]), 2));
                var ratios = Ratios("agent", "minimal");
                Emit(new
                {
                    bench = "footprint", metric = "agent-vs-minimal", memory = ratios.Memory, cpu = ratios.Cpu, startup = ratios.Startup,
                    aims = new { memory = 1.3, cpu = 1.5, startup = 1.5 },
                    met = new { memory = ratios.Memory <= 1.3, cpu = ratios.Cpu <= 1.5, startup = ratios.Startup <= 1.5 },
                    loadBefore, loadAfter,
                });
                if (baseline is not null)
                {
                    var before = Ratios("baseline", "minimal");
                    var after = Ratios("agent", "baseline");
                    Emit(new { bench = "footprint", metric = "baseline-vs-minimal", memory = before.Memory, cpu = before.Cpu, startup = before.Startup, loadBefore, loadAfter });
                    Emit(new { bench = "footprint", metric = "agent-vs-baseline", memory = after.Memory, cpu = after.Cpu, startup = after.Startup, loadBefore, loadAfter });
                }
            }
            finally
            {
                foreach (var (_, run) in idle)
                {
                    await run.DisposeAsync();
                }
            }
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static string[] AgentArguments(string unit, string deviceId, LocalBroker broker, bool simulate)
    {
        var trust = Path.Combine(unit, "trust");
        Directory.CreateDirectory(trust);
        File.WriteAllText(Path.Combine(trust, "central.pem"), CentralSigner.CreateKeyPair().PublicPem);
        var tls = broker.ClientOptions(deviceId);
        string[] settings =
        [
            $"DeviceId={deviceId}", $"State:Directory={unit}", $"Hardware:Root={Path.Combine(unit, "kernel")}",
            $"Trust:KeysDirectory={trust}", $"Mqtt:Host={LocalBroker.Host}", $"Mqtt:Port={broker.Port}",
            $"Mqtt:CaFile={tls.CaFile}", $"Mqtt:CertFile={tls.CertFile}", $"Mqtt:KeyFile={tls.KeyFile}",
            "Camera:Source=testsrc",
        ];
        return [
            "run", .. simulate ? new[] { "--simulate" } : [],
            .. settings.SelectMany(s => new[] { "--set", s }),
        ];
    }

    /// <summary>A process the bench runs: its name in the output, and how it is started.</summary>
    private sealed record Subject(string Name, string Exe, string[] Arguments, IDictionary<string, string> Environment)
    {
        public Task<Launched> StartAsync(string work) => Launched.StartAsync(Exe, Arguments, Environment, work);
    }

    /// <summary><c>dotnet publish PROJECT -c Release -r linux-x64 --self-contained</c> in the checkout at <paramref name="root"/>, as the package is built.</summary>
    private static string Publish(string root, string project, string output, IEnumerable<string> properties, string executable)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["publish", Path.Combine(root, project), "-c", "Release", "-r", "linux-x64", "--self-contained", "-o", output, "-nologo", "-v", "q"])
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var property in properties)
        {
            start.ArgumentList.Add("-p:" + property);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"publishing {project} failed:\n{stdout.Result}{stderr.Result}");
        }
        var size = new DirectoryInfo(output).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        Emit(new { bench = "footprint", metric = "published", checkout = root, project, megabytes = Math.Round(size / 1e6, 1) });
        return Path.Combine(output, executable);
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "HomeUnit.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("HomeUnit.sln not found above " + AppContext.BaseDirectory);
    }

    private static (string, string) Split(string setting)
    {
        var at = setting.IndexOf('=');
        return at > 0 ? (setting[..at], setting[(at + 1)..]) : throw new ArgumentException($"'{setting}' is not K=V");
    }

    private static double CpuPercent(long ticks, double seconds) => Math.Round(ticks / 100.0 / seconds * 100, 3);

    private static string LoadAverage() => File.ReadAllText("/proc/loadavg").Trim();

    private static double Median(IReadOnlyList<double> values) => Math.Round(values.Order().ElementAt(values.Count / 2), 1);

    private static long MedianLong(IReadOnlyList<long> values) => values.Order().ElementAt(values.Count / 2);

    internal static void Emit(object line) => Console.WriteLine(JsonSerializer.Serialize(line));

    /// <summary>A process started as systemd would start a Type=notify service: with its own notify socket.</summary>
    private sealed class Launched : IAsyncDisposable
    {
        private readonly Process process;
        private readonly Socket notify;
        private readonly StringBuilder output = new();

        private Launched(Process process, Socket notify)
        {
            this.process = process;
            this.notify = notify;
        }

        public double StartupMs { get; private set; }

        public static async Task<Launched> StartAsync(string exe, IEnumerable<string> arguments, IDictionary<string, string> environment, string work)
        {
            var socketPath = Path.Combine(work, $"notify-{Guid.NewGuid():N}"[..20]);
            var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            notify.Bind(new UnixDomainSocketEndPoint(socketPath));
            var start = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }
            start.Environment["NOTIFY_SOCKET"] = socketPath;
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }
            var clock = Stopwatch.StartNew();
            var process = Process.Start(start)!;
            var launched = new Launched(process, notify);
            process.OutputDataReceived += (_, e) => launched.Append(e.Data);
            process.ErrorDataReceived += (_, e) => launched.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var buffer = new byte[256];
            using var timeout = new CancellationTokenSource(ReadyTimeout);
            try
            {
                while (true)
                {
                    var received = await notify.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                    if (Encoding.UTF8.GetString(buffer, 0, received).Split('\n').Contains("READY=1"))
                    {
                        break;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                await launched.DisposeAsync();
                throw new InvalidOperationException($"{exe} sent no READY=1 within {ReadyTimeout.TotalSeconds} s:\n{launched.Output}");
            }
            launched.StartupMs = clock.Elapsed.TotalMilliseconds;
            return launched;
        }

        private string Output
        {
            get { lock (output) return output.ToString(); }
        }

        private void Append(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (output)
            {
                if (output.Length < 64_000) output.AppendLine(line);
            }
        }

        /// <summary>utime + stime in clock ticks (fields 14 and 15 of /proc/PID/stat).</summary>
        public long CpuTicks()
        {
            var stat = File.ReadAllText($"/proc/{process.Id}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11]) + long.Parse(fields[12]);
        }

        public long RssKb() => StatusField("VmRSS:");

        public long Threads() => StatusField("Threads:");

        private long StatusField(string name)
        {
            var line = File.ReadLines($"/proc/{process.Id}/status").First(l => l.StartsWith(name, StringComparison.Ordinal));
            return long.Parse(line[name.Length..].Trim().Split(' ')[0]);
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                Process.Start("kill", ["-TERM", process.Id.ToString()])!.WaitForExit();
                try
                {
                    await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
                }
                catch (TimeoutException)
                {
                    process.Kill(entireProcessTree: true);
                }
            }
            process.Dispose();
            notify.Dispose();
        }
    }
}
