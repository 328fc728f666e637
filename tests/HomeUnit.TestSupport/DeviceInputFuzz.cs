using System.Diagnostics;
using System.Text;
using HomeUnit.Protocol;

namespace HomeUnit.TestSupport;

/// <summary>
/// Fuzzes what the unit reads from its own machine: configuration files given to the real <c>homeunit</c>
/// executable, and the kernel files of a running unit (garbage, empty, huge, missing <c>online</c>,
/// <c>brightness</c>, hwmon <c>name</c> and <c>in0_lcrit_alarm</c>).
/// </summary>
public static class DeviceInputFuzz
{
    private static readonly string[] KernelFiles =
    [
        "sys/class/power_supply/mains/online", "sys/class/power_supply/mains/type",
        "sys/class/leds/homeunit-red/brightness", "sys/class/leds/homeunit-green/brightness", "sys/class/leds/homeunit-ir/brightness",
        "sys/class/leds/homeunit-red/max_brightness",
        "sys/class/hwmon/hwmon1/name", "sys/class/hwmon/hwmon1/in0_lcrit_alarm", "sys/class/hwmon/hwmon0/name",
    ];

    /// <summary>
    /// <paramref name="count"/> configuration files, each run as <c>homeunit run --config FILE</c> with a broker port
    /// that makes the configuration invalid whatever the file says: each run must end with the configuration
    /// exit code and a message, no exception, and no state or hardware file created.
    /// </summary>
    public static async Task<FuzzFigures> ConfigurationFilesAsync(int count, int seed)
    {
        var random = new Random(seed);
        var directory = Directory.CreateTempSubdirectory("homeunit-config-fuzz-").FullName;
        var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var problems = new List<string>();
        int refused = 0, exceptions = 0;
        var watch = Stopwatch.StartNew();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var (kind, bytes) = ConfigurationFile(random);
                kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
                var file = Path.Combine(directory, $"config-{i}.json");
                var root = Path.Combine(directory, $"root-{i}");
                var state = Path.Combine(directory, $"state-{i}");
                await File.WriteAllBytesAsync(file, bytes);
                Directory.CreateDirectory(root);
                var (exitCode, output) = await AgentProcess.RunAsync(
                    ["run", "--config", file, "--set", $"Hardware:Root={root}", "--set", $"State:Directory={state}", "--set", "Mqtt:Port=-1"]);
                if (InboundFuzz.Exceptions(output) > 0 || output.Contains("   at ", StringComparison.Ordinal))
                {
                    exceptions++;
                    problems.Add($"{kind}: an exception: {output.Split('\n').FirstOrDefault(l => l.Contains("xception", StringComparison.Ordinal))}");
                }
                if (exitCode == 2 && output.Contains("homeunit: configuration: ", StringComparison.Ordinal))
                {
                    refused++;
                }
                else
                {
                    problems.Add($"{kind}: exit code {exitCode} without a configuration message: {output.Split('\n').FirstOrDefault()}");
                }
                if (Directory.Exists(state) || Directory.EnumerateFileSystemEntries(root).Any())
                {
                    problems.Add($"{kind}: state or hardware files were created");
                }
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
        return new FuzzFigures("configuration", count, kinds, refused, 0, 0, 0, exceptions, 0, 0, watch.Elapsed.TotalSeconds, problems);
    }

    private static (string Kind, byte[] Bytes) ConfigurationFile(Random random)
    {
        string[] keys = ["DeviceId", "Mqtt:Host", "Mqtt:Port", "Mqtt:KeepAliveSeconds", "Mqtt:MaxPayloadBytes", "Trust:KeysDirectory", "State:Directory",
            "Camera:Source", "Policy:MaxSessionSeconds", "Policy:ClockSkewSeconds", "Servo:LensUp", "Health:IntervalSeconds", "Mqtt:AllowInsecure"];
        string[] values = ["null", "-1", "0", "1e308", "99999999999999999999", "\"\"", "\"abc\"", "true", "[]", "[1,2]", "{}", "{\"a\":{\"b\":1}}",
            "\"" + new string('x', 5000) + "\"", "\"../../../../etc/shadow\"", "\"\\u0000\"", "\"srt://x\"", "-2147483649", "3.5"];
        switch (random.Next(6))
        {
            case 0:
                var bytes = new byte[random.Next(0, 4096)];
                random.NextBytes(bytes);
                return ("random-bytes", bytes);
            case 1:
                return ("deep-json", Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", random.Next(50, 5000))) + "1" + new string('}', random.Next(0, 10))));
            case 2:
                return ("invalid-utf8", [.. "{\"DeviceId\":\""u8, 0xff, 0xc3, 0x28, .. "\"}"u8]);
            case 3:
                return ("truncated", Encoding.UTF8.GetBytes("{\"Mqtt\":{\"Host\":\"broker\",\"Port\":8883"[..random.Next(1, 38)]));
            default:
                var sections = new Dictionary<string, List<string>>();
                for (var n = random.Next(1, 6); n > 0; n--)
                {
                    var key = keys[random.Next(keys.Length)].Split(':');
                    var value = values[random.Next(values.Length)];
                    if (key.Length == 1)
                    {
                        sections.TryAdd("", []);
                        sections[""].Add($"\"{key[0]}\":{value}");
                    }
                    else
                    {
                        sections.TryAdd(key[0], []);
                        sections[key[0]].Add($"\"{key[1]}\":{value}");
                    }
                }
                var members = sections.SelectMany(s => s.Key == "" ? s.Value : [$"\"{s.Key}\":{{{string.Join(',', s.Value)}}}"]);
                return ("wrong-values", Encoding.UTF8.GetBytes("{" + string.Join(',', members) + "}"));
        }
    }

    /// <summary>
    /// <paramref name="count"/> damaged kernel files under the running unit of <paramref name="central"/>, each followed
    /// by a self-test (which reads every part) and then put back. Afterwards the unit must be ready again.
    /// </summary>
    public static async Task<FuzzFigures> KernelFilesAsync(SimulatedCentral central, int count, int seed)
    {
        var agent = central.Agent ?? throw new InvalidOperationException("start the unit first");
        var random = new Random(seed);
        var outputBefore = agent.Output.Length;
        var auditBefore = central.AuditRecords.Count;
        var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var problems = new List<string>();
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var relative = KernelFiles[random.Next(KernelFiles.Length)];
            var path = Path.Combine(central.KernelRoot, relative);
            var original = await File.ReadAllBytesAsync(path);
            var (kind, damage) = KernelFileDamage(random);
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            if (damage is null)
            {
                File.Delete(path);
            }
            else
            {
                await File.WriteAllBytesAsync(path, damage);
            }
            await InboundFuzz.SettleAsync(central);
            await File.WriteAllBytesAsync(path, original);
        }
        await InboundFuzz.SettleAsync(central);
        watch.Stop();

        var last = central.Client.Messages.Last(m => m.Topic == central.Topic(Topics.Event) && SimulatedCentral.Json(m).GetProperty("type").GetString() == "readiness");
        if (!SimulatedCentral.Json(last).GetProperty("data").GetProperty("ready").GetBoolean())
        {
            problems.Add("not ready after every kernel file was put back: " + SimulatedCentral.Text(last));
        }
        if (agent.HasExited)
        {
            problems.Add($"the agent exited with {agent.ExitCode}");
        }
        var audit = central.AuditRecords.Skip(auditBefore).ToList();
        if (audit.Count > 0)
        {
            problems.Add("audit records: " + string.Join(", ", audit.Select(r => r.Type).Distinct()));
        }
        var output = agent.Output[outputBefore..];
        var timeline = Drivers.HardwareTimeline.ReadFile(Path.Combine(central.StateDirectory, "timeline.jsonl"));
        var captures = timeline.Count(e => (e.Part == Drivers.Parts.Capture && e.State.StartsWith("on", StringComparison.Ordinal)) || (e.Part == Drivers.Parts.Green && e.State == "on"));
        // Fault reports: fault and power events, and readiness saying "send staff".
        var faults = central.Client.Messages.Where(m => m.Topic == central.Topic(Topics.Event)).Select(SimulatedCentral.Json)
            .Count(e => e.GetProperty("type").GetString() is { } type
                && (type.EndsWith(".fault", StringComparison.Ordinal) || type.StartsWith("power.", StringComparison.Ordinal)
                    || (type == "readiness" && !e.GetProperty("data").GetProperty("ready").GetBoolean())));
        return new FuzzFigures("kernel-files", count, kinds, 0, 0, faults, 0, InboundFuzz.Exceptions(output), InboundFuzz.Errors(output), captures, watch.Elapsed.TotalSeconds, problems);
    }

    private static (string Kind, byte[]? Bytes) KernelFileDamage(Random random)
    {
        switch (random.Next(8))
        {
            case 0: return ("missing", null);
            case 1: return ("empty", []);
            case 2: return ("huge", Encoding.ASCII.GetBytes(new string('1', 1024 * 1024)));
            case 3:
                var bytes = new byte[random.Next(1, 256)];
                random.NextBytes(bytes);
                return ("garbage", bytes);
            case 4: return ("invalid-utf8", [0xff, 0xfe, 0xc3, 0x28]);
            case 5: return ("out-of-range", Encoding.ASCII.GetBytes(new[] { "-1", "2", "255", "99999999999999999999", "0x1" }[random.Next(5)]));
            case 6: return ("whitespace", Encoding.ASCII.GetBytes(new[] { " ", "\n", "\t1\t", "1\n0\n", "\0" }[random.Next(5)]));
            default: return ("text", Encoding.ASCII.GetBytes(new[] { "online", "Battery", "rpi_volt\nrpi_volt", "cpu_thermal", "nan" }[random.Next(5)]));
        }
    }
}
