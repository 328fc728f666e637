using System.Diagnostics;
using System.Text.Json;
using HomeUnit.Central;
using HomeUnit.Drivers;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging;

namespace HomeUnit.TestSupport;

/// <summary>How long the night lasts and which random faults it draws.</summary>
public sealed record NightOptions(TimeSpan Duration, int Seed, string DeviceId = "unit-soak");

/// <summary>What one night of faults did to the unit, and every promise it broke (none, if it passed).</summary>
public sealed record NightReport(IReadOnlyDictionary<string, int> Steps, IReadOnlyDictionary<string, long> Figures, IReadOnlyList<string> Violations)
{
    public bool Passed => Violations.Count == 0;
}

/// <summary>
/// A night of faults, scripted: the real unit process on a real broker, each fault once in a fixed order and then
/// drawn at random until the night is over — looks, broker restarts, <c>kill -9</c> of the agent (idle and mid-look),
/// ffmpeg killed mid-look, mains flips, clock loss, a full state disk, a look asked for while another runs. Then it
/// checks what the promises say from the records, not from logs: every audit record the unit holds reached the
/// central, no id with two contents, the chain verifies at both ends, the timeline shows capture only inside an
/// accepted grant's window and never past its limit, every started look has its end record, and the unit is online
/// and ready.
/// </summary>
public sealed class NightOfFaults
{
    /// <summary>How far past its limit a look may run: the stop itself (SIGTERM, then SIGKILL after 1 s).</summary>
    private static readonly TimeSpan StopAllowance = TimeSpan.FromSeconds(1.5);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private const long MegabytesOfStateDisk = 64;

    private static readonly string[] Script =
    [
        Steps.Look, Steps.KillMidLook, Steps.BrokerRestart, Steps.FfmpegKilledMidLook, Steps.PowerFlip,
        Steps.ClockLoss, Steps.StorageFull, Steps.LookWhileAnotherRuns, Steps.KillIdle, Steps.BrokerRestartMidLook,
    ];

    private readonly NightOptions options;
    private readonly ILogger log;
    private readonly Random random;
    private readonly Dictionary<string, int> steps = [];
    private readonly List<string> violations = [];
    private readonly List<GrantIssued> grants = [];
    private readonly List<(long At, int Pid)> kills = [];
    private readonly SimulatedCentral central;
    private readonly string stateDirectory;
    private readonly bool stateOnTmpfs;
    private long carePlanVersion;
    private DateTimeOffset carePlanAt;

    private NightOfFaults(NightOptions options, ILogger log, SimulatedCentral central, string stateDirectory, bool stateOnTmpfs)
    {
        this.stateDirectory = stateDirectory;
        this.options = options;
        this.log = log;
        this.central = central;
        this.stateOnTmpfs = stateOnTmpfs;
        random = new Random(options.Seed);
    }

    private static class Steps
    {
        public const string Look = "look";
        public const string KillMidLook = "kill-9-mid-look";
        public const string KillIdle = "kill-9-idle";
        public const string BrokerRestart = "broker-restart";
        public const string BrokerRestartMidLook = "broker-restart-mid-look";
        public const string FfmpegKilledMidLook = "ffmpeg-killed-mid-look";
        public const string PowerFlip = "power-flip";
        public const string ClockLoss = "clock-loss";
        public const string StorageFull = "storage-full";
        public const string LookWhileAnotherRuns = "look-while-another-runs";
    }

    /// <summary>A grant the central sent: its id, limit and window on the timeline's clock.</summary>
    private sealed record GrantIssued(string Jti, int MaxSeconds, long PublishedAt, long ExpiresAt);

    public static async Task<NightReport> RunAsync(NightOptions options, ILogger log)
    {
        var central = await SimulatedCentral.StartAsync(options.DeviceId, log);
        // The state directory on a small tmpfs of its own, so "storage full" fills a real file system (the simulated
        // kernel tree stays outside it); without the right to mount, that step is skipped.
        var stateDirectory = central.StateDirectory + "-disk";
        var tmpfs = Mount(stateDirectory);
        try
        {
            var night = new NightOfFaults(options, log, central, stateDirectory, tmpfs);
            return await night.RunAsync();
        }
        catch (Exception e)
        {
            log.LogError("night: {Error}\nthe unit's last output:\n{Output}", e.Message,
                string.Join("\n", (central.Agent?.Output ?? "").Split('\n').TakeLast(40)));
            throw;
        }
        finally
        {
            await central.DisposeAsync();
            if (tmpfs)
            {
                Run("umount", "-l", stateDirectory);
            }
        }
    }

    private async Task<NightReport> RunAsync()
    {
        var clock = Stopwatch.StartNew();
        await StartUnitAsync();
        await PublishCarePlanAsync();
        foreach (var step in Script)
        {
            await StepAsync(step);
        }
        while (clock.Elapsed < options.Duration)
        {
            await StepAsync(Script[random.Next(Script.Length)]);
        }
        return await CheckAsync(clock.Elapsed);
    }

    private async Task StepAsync(string step)
    {
        if (step == Steps.StorageFull && !stateOnTmpfs)
        {
            step = Steps.Look;
        }
        steps[step] = steps.GetValueOrDefault(step) + 1;
        log.LogInformation("night: {Step} ({Faults})", step, LastStatus()?.GetProperty("faults").ToString());
        if (DateTimeOffset.UtcNow - carePlanAt > TimeSpan.FromMinutes(10))
        {
            await PublishCarePlanAsync();
        }
        switch (step)
        {
            case Steps.Look:
                await LookAsync(maxSeconds: random.Next(2, 5));
                break;
            case Steps.KillMidLook:
                await LookAsync(maxSeconds: 30, during: async () =>
                {
                    await Task.Delay(random.Next(0, 1500));
                    await KillAgentAsync();
                });
                break;
            case Steps.KillIdle:
                await Task.Delay(random.Next(0, 2000));
                await KillAgentAsync();
                break;
            case Steps.BrokerRestart:
                await RestartBrokerAsync();
                break;
            case Steps.BrokerRestartMidLook:
                await LookAsync(maxSeconds: 4, during: RestartBrokerAsync);
                break;
            case Steps.FfmpegKilledMidLook:
                await LookAsync(maxSeconds: 30, during: async () =>
                {
                    await Task.Delay(random.Next(200, 1500));
                    if (OpenCapturePid() is { } pid)
                    {
                        Run("kill", "-9", pid.ToString());
                    }
                });
                break;
            case Steps.PowerFlip:
                await ExpectEventAsync(EventType.PowerLost, () => central.SetKernelFile("sys/class/power_supply/mains/online", "0"));
                await Task.Delay(random.Next(500, 3000));
                await ExpectEventAsync(EventType.PowerRestored, () => central.SetKernelFile("sys/class/power_supply/mains/online", "1"));
                break;
            case Steps.ClockLoss:
                var marker = Path.Combine(central.KernelRoot, "run/systemd/timesync/synchronized");
                await ExpectEventAsync(EventType.ClockUnsynced, () => File.Delete(marker));
                await RefusedLookAsync(RefusalReason.ClockUnsynced);
                await ExpectEventAsync(EventType.ClockSynced, () => File.WriteAllText(marker, ""));
                break;
            case Steps.StorageFull:
                await StorageFullAsync();
                break;
            case Steps.LookWhileAnotherRuns:
                await LookAsync(maxSeconds: 4, during: () => RefusedLookAsync(RefusalReason.Busy));
                break;
        }
        await WaitOnlineAsync();
    }

    /// <summary>A look to a real receiver; <paramref name="during"/> runs once capture has started.</summary>
    private async Task LookAsync(int maxSeconds, Func<Task>? during = null)
    {
        await using var receiver = await SrtReceiver.StartAsync(SimulatedCentral.Passphrase);
        var jti = await PublishGrantAsync(receiver.Url, maxSeconds);
        var started = await WaitForRecordAsync(r => r.Grant == jti && r.Type is AuditType.SessionStarted or AuditType.SessionRefused);
        if (started.Type == AuditType.SessionRefused)
        {
            Violation($"grant {jti} was refused ({started.Reason}) in a quiet moment");
            return;
        }
        if (during is not null)
        {
            await during();
        }
        await WaitOnlineAsync();
        await WaitForRecordAsync(r => r.Grant == jti && r.Type is AuditType.SessionEnded or AuditType.SessionAborted);
    }

    /// <summary>A grant that must be refused for <paramref name="reason"/>, and no capture for it.</summary>
    private async Task RefusedLookAsync(RefusalReason reason)
    {
        var jti = await PublishGrantAsync("srt://127.0.0.1:9", 5);
        var record = await WaitForRecordAsync(r => r.Grant == jti && r.Type is AuditType.SessionRefused or AuditType.SessionAccepted);
        if (record.Type != AuditType.SessionRefused || record.Reason != reason.Code())
        {
            Violation($"grant {jti} should have been refused as {reason.Code()}, was {record.Type.Code()} {record.Reason}");
        }
    }

    private async Task StorageFullAsync()
    {
        // The event cannot be stored on a full disk; the retained status (not queued) says it — or, if the disk
        // filled while the agent was starting and it could not start, its will says offline. Either sends staff (P7).
        var filler = Path.Combine(stateDirectory, "filler");
        await ExpectStatusFaultAsync("storage", orOffline: true, () =>
        {
            try
            {
                using var stream = new FileStream(filler, FileMode.Create, FileAccess.Write);
                var block = new byte[1 << 20];
                while (true)
                {
                    stream.Write(block);
                }
            }
            catch (IOException)
            {
                // ENOSPC: the disk is full.
            }
        });
        // No durable audit, no camera: the look must not happen (refused for the fault, or its record could not be written).
        var jti = await PublishGrantAsync("srt://127.0.0.1:9", 5);
        await Task.Delay(TimeSpan.FromSeconds(2));
        File.Delete(filler);
        await RestartIfExitedAsync();
        await ExpectStatusFaultAsync(null, orOffline: false, () => { });
        if (central.AuditRecords.Any(r => r.Grant == jti && r.Type == AuditType.SessionStarted))
        {
            Violation($"a look started for grant {jti} while the state disk was full");
        }
    }

    private async Task KillAgentAsync()
    {
        var pid = central.Agent!.Id;
        var capture = OpenCapturePid();
        central.Agent.KillHard();
        kills.Add((HardwareTimeline.Now(), pid));
        if (capture is { } c)
        {
            try
            {
                await Eventually.True(() => !AgentProcess.IsAlive(c), "the capture process to die with the agent", TimeSpan.FromSeconds(2));
            }
            catch (TimeoutException)
            {
                Violation($"capture process {c} outlived the killed agent by 2 s");
            }
        }
        central.Agent.Dispose();
        await StartUnitAsync();
    }

    private async Task RestartBrokerAsync()
    {
        await central.Broker.StopAsync();
        await Task.Delay(random.Next(0, 3000));
        await central.Broker.StartAsync();
    }

    private async Task StartUnitAsync()
    {
        var before = central.Client.Messages.Count;
        central.StartUnit($"State:Directory={stateDirectory}", "Health:MinFreeMegabytes=8");
        await Eventually.True(() => central.Client.Messages.Skip(before).Any(m => IsStatus(m, "online")), "the unit online", Patience);
    }

    /// <summary>As systemd does (Restart=always): an agent that exited is started again.</summary>
    private async Task RestartIfExitedAsync()
    {
        if (central.Agent is { HasExited: true } exited)
        {
            steps["agent-exited-and-restarted"] = steps.GetValueOrDefault("agent-exited-and-restarted") + 1;
            log.LogWarning("night: the agent had exited ({Code}); starting it again as systemd would", exited.ExitCode);
            exited.Dispose();
            await StartUnitAsync();
        }
    }

    private Task WaitOnlineAsync() =>
        Eventually.True(() => LastStatus() is { } s && s.GetProperty("state").GetString() == "online", "the unit online", Patience);

    private JsonElement? LastStatus() =>
        central.Client.Messages.LastOrDefault(m => m.Topic == central.Topic(Topics.Status)) is { } m ? SimulatedCentral.Json(m) : null;

    private bool IsStatus(HomeUnit.Mqtt.MqttMessage message, string state) =>
        message.Topic == central.Topic(Topics.Status) && SimulatedCentral.Json(message).GetProperty("state").GetString() == state;

    private async Task PublishCarePlanAsync()
    {
        await central.PublishCarePlanAsync(++carePlanVersion);
        carePlanAt = DateTimeOffset.UtcNow;
        await WaitForRecordAsync(r => r.Type == AuditType.CarePlanApplied && r.Version == carePlanVersion);
    }

    private async Task<string> PublishGrantAsync(string url, int maxSeconds)
    {
        var published = HardwareTimeline.Now();
        var jti = await central.PublishGrantAsync(url, maxSeconds);
        // SimulatedCentral's window: nbf 5 s ago, exp 2 min after nbf.
        grants.Add(new GrantIssued(jti, maxSeconds, published, published + (long)TimeSpan.FromSeconds(115).TotalNanoseconds));
        return jti;
    }

    private Task<AuditRecord> WaitForRecordAsync(Func<AuditRecord, bool> match) =>
        Eventually.Until(() => central.AuditRecords.FirstOrDefault(match), "an audit record", Patience);

    /// <summary>Does <paramref name="act"/> and waits for the unit to report <paramref name="eventType"/> once more.</summary>
    private async Task ExpectEventAsync(EventType eventType, Action act)
    {
        var before = Events(eventType);
        act();
        try
        {
            await Eventually.True(() => Events(eventType) > before, $"event {eventType.Code()}", Patience);
        }
        catch (TimeoutException)
        {
            Violation($"the unit did not report {eventType.Code()} within {Patience.TotalSeconds} s");
        }
    }

    /// <summary>Does <paramref name="act"/> and waits until the retained status lists <paramref name="fault"/> (or, for null, no fault).</summary>
    private async Task ExpectStatusFaultAsync(string? fault, bool orOffline, Action act)
    {
        act();
        try
        {
            await Eventually.True(() => LastStatus() is { } s && s.GetProperty("faults").EnumerateArray().Select(f => f.GetString()).ToList() is var faults
                && ((fault is null ? faults.Count == 0 : faults.Contains(fault)) || (orOffline && s.GetProperty("state").GetString() == "offline" && central.Agent!.HasExited)),
                $"status faults {(fault ?? "none")}", Patience);
        }
        catch (TimeoutException)
        {
            Violation($"the status did not show {(fault is null ? "no fault" : fault)} within {Patience.TotalSeconds} s: {LastStatus()}");
        }
    }

    private void Violation(string what)
    {
        log.LogWarning("night: VIOLATION {What}", what);
        violations.Add(what);
    }

    private int Events(EventType type) =>
        central.Client.Messages.Count(m => m.Topic == central.Topic(Topics.Event) && SimulatedCentral.Json(m).GetProperty("type").GetString() == type.Code());

    private int? OpenCapturePid()
    {
        int? pid = null;
        foreach (var entry in Timeline())
        {
            if (entry.Part != Parts.Capture)
            {
                continue;
            }
            pid = entry.State.StartsWith("on pid=", StringComparison.Ordinal) ? int.Parse(entry.State["on pid=".Length..]) : null;
        }
        return pid is { } p && AgentProcess.IsAlive(p) ? p : null;
    }

    private IReadOnlyList<TimelineEntry> Timeline() => HardwareTimeline.ReadFile(Path.Combine(stateDirectory, "timeline.jsonl"));

    private async Task<NightReport> CheckAsync(TimeSpan elapsed)
    {
        await WaitOnlineAsync();
        await central.PublishCommandAsync(CommandNames.SelfTest);
        var unitRecords = await UnitRecordsWhenDeliveredAsync();
        var received = central.Client.Messages.Where(m => m.Topic == central.Topic(Topics.Audit))
            .Select(m => JsonSerializer.Deserialize<AuditRecord>(m.Payload, Wire.Json)!).ToList();
        var distinct = received.DistinctBy(r => (r.Seq, r.Hash)).OrderBy(r => r.Seq).ToList();

        foreach (var seq in distinct.GroupBy(r => r.Seq).Where(g => g.Count() > 1).Select(g => g.Key))
        {
            Violation($"audit seq {seq} arrived with two different contents");
        }
        var lost = unitRecords.Select(r => r.Seq).Except(distinct.Select(r => r.Seq)).ToList();
        if (lost.Count > 0)
        {
            Violation($"{lost.Count} audit record(s) never reached the central: seq {string.Join(", ", lost.Take(10))}");
        }
        if (AuditChain.Verify(distinct) is { } centralBreak)
        {
            Violation($"the chain does not verify at the central: {centralBreak}");
        }
        var (verifyExit, verifyOutput) = await AgentProcess.RunAsync(["audit", "verify", "--set", $"State:Directory={stateDirectory}"]);
        if (verifyExit != 0)
        {
            Violation($"homeunit audit verify failed at the unit: {verifyOutput.Trim()}");
        }
        foreach (var started in distinct.Where(r => r.Type == AuditType.SessionStarted))
        {
            if (!distinct.Any(r => r.Grant == started.Grant && r.Type is AuditType.SessionEnded or AuditType.SessionAborted))
            {
                Violation($"look {started.Grant} started but has no end record");
            }
        }
        var captures = CheckTimeline(distinct);

        var readiness = await Eventually.Until(
            () => central.Client.Messages.LastOrDefault(m => m.Topic == central.Topic(Topics.Event) && SimulatedCentral.Json(m).GetProperty("type").GetString() == "readiness"),
            "a readiness report", Patience);
        var status = LastStatus();
        if (status?.GetProperty("state").GetString() != "online" || status?.GetProperty("ready").GetBoolean() != true)
        {
            Violation($"the unit is not online and ready at the end: {status}");
        }
        if (!SimulatedCentral.Json(readiness).GetProperty("data").GetProperty("ready").GetBoolean())
        {
            Violation($"the last readiness report says not ready: {SimulatedCentral.Text(readiness)}");
        }

        var figures = new Dictionary<string, long>
        {
            ["seconds"] = (long)elapsed.TotalSeconds,
            ["auditRecordsAtUnit"] = unitRecords.Count,
            ["auditMessagesReceived"] = received.Count,
            ["auditDuplicatesDropped"] = received.Count - distinct.Count,
            ["looksStarted"] = distinct.Count(r => r.Type == AuditType.SessionStarted),
            ["looksAborted"] = distinct.Count(r => r.Type == AuditType.SessionAborted),
            ["looksRefused"] = distinct.Count(r => r.Type == AuditType.SessionRefused),
            ["capturesOnTimeline"] = captures,
            ["agentKills"] = kills.Count,
        };
        return new NightReport(steps, figures, violations);
    }

    /// <summary>The unit's own records (read from its database by the <c>audit list</c> verb), once the central has them all or patience runs out.</summary>
    private async Task<IReadOnlyList<AuditRecord>> UnitRecordsWhenDeliveredAsync()
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var (exit, output) = await AgentProcess.RunAsync(["audit", "list", "--json", "--set", $"State:Directory={stateDirectory}"]);
            var records = exit != 0 ? [] : output.Split('\n').Where(l => l.StartsWith('{'))
                .Select(l => JsonSerializer.Deserialize<AuditRecord>(l, Wire.Json)!).ToList();
            var delivered = central.AuditRecords.Select(r => r.Seq).ToHashSet();
            if ((records.Count > 0 && records.All(r => delivered.Contains(r.Seq))) || watch.Elapsed > Patience)
            {
                return records;
            }
            await Task.Delay(500);
        }
    }

    /// <summary>
    /// P1 and P5 from the timeline: each capture starts after a grant was published and before its window closed,
    /// belongs to a grant the unit accepted, and ends (an off entry, or the agent's kill) within its limit; P3: green
    /// is lit whenever capture is on. Self-test frames go into memory only and are not looks.
    /// </summary>
    private int CheckTimeline(IReadOnlyList<AuditRecord> records)
    {
        var accepted = records.Where(r => r.Type == AuditType.SessionAccepted).Select(r => r.Grant).ToHashSet();
        var timeline = Timeline();
        var captures = 0;
        string? green = null;
        long? onAt = null;
        for (var i = 0; i < timeline.Count; i++)
        {
            var entry = timeline[i];
            if (entry.Part == Parts.Green)
            {
                green = entry.State;
            }
            if (entry.Part != Parts.Capture || entry.State.StartsWith("selftest", StringComparison.Ordinal))
            {
                continue;
            }
            if (entry.State.StartsWith("on", StringComparison.Ordinal))
            {
                captures++;
                if (green != "on")
                {
                    Violation($"capture on while green is not lit, at {entry}");
                }
                var grant = grants.LastOrDefault(g => g.PublishedAt <= entry.Nanoseconds);
                if (grant is null || entry.Nanoseconds > grant.ExpiresAt || !accepted.Contains(grant.Jti))
                {
                    Violation($"capture on at {entry} outside any accepted grant's window");
                }
                onAt = entry.Nanoseconds;
                var end = timeline.Skip(i + 1).Where(e => e.Part == Parts.Capture).Select(e => (long?)e.Nanoseconds).FirstOrDefault();
                var killed = kills.Where(k => k.At > entry.Nanoseconds).Select(k => (long?)k.At).FirstOrDefault();
                var stoppedAt = new[] { end, killed }.Where(t => t is not null).Min();
                if (grant is not null && stoppedAt is { } stop
                    && stop - entry.Nanoseconds > (TimeSpan.FromSeconds(grant.MaxSeconds) + StopAllowance).TotalNanoseconds)
                {
                    Violation($"capture from {entry} ran {(stop - entry.Nanoseconds) / 1e9:F2} s, past its {grant.MaxSeconds} s limit");
                }
            }
        }
        return captures;
    }

    private static bool Mount(string directory)
    {
        Directory.CreateDirectory(directory);
        return Run("mount", "-t", "tmpfs", "-o", $"size={MegabytesOfStateDisk}m", "tmpfs", directory) == 0;
    }

    private static int Run(string program, params string[] arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            process.WaitForExit();
            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }
}
