using System.Diagnostics;
using System.Text.Json;
using HomeUnit.Agent.Link;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;

namespace HomeUnit.Central.Simulation;

/// <summary>
/// <c>homeunit-central demo</c>: one night check on a simulated unit, told as it happens. The central
/// publishes a care plan and a grant; the unit's light goes green, the test pattern streams to the
/// central's receiver, the local timer ends the look, the light goes red and the audit records arrive.
/// Then a power cut turns into a readiness report that says "send staff".
/// </summary>
public static class Demo
{
    private static readonly Stopwatch Clock = Stopwatch.StartNew();

    public static async Task<int> RunAsync(int lookSeconds)
    {
        Say("central", "starting a local broker (the shipped mosquitto configuration, mTLS) and the unit");
        await using var central = await SimulatedCentral.StartAsync("sim-unit-1", NullLogger.Instance);
        central.Client.Received += message => Report(central, message);
        var unit = central.StartUnit();
        var timeline = new List<(string Part, string State)>();
        unit.Line += line => Narrate(line, timeline);
        try
        {
            await central.WaitForStatusAsync("online", TimeSpan.FromSeconds(90));
            var at = await central.PublishCarePlanAsync();
            Say("central", $"care plan v1 published (retained): check c1 at {at} Europe/Stockholm ±15 min");
            await central.WaitForAuditAsync(AuditType.CarePlanApplied);

            await using var receiver = await SrtReceiver.StartAsync(SimulatedCentral.Passphrase);
            Say("central", $"operator-42 looks in: grant for check c1, {lookSeconds} s, view bed, stream to {receiver.Url}");
            var grant = await central.PublishGrantAsync(receiver, lookSeconds);
            await central.WaitForAuditAsync(AuditType.SessionStarted, grant, TimeSpan.FromSeconds(60));
            var frames = Task.Run(async () =>
            {
                for (var reported = 0; !receiver.Exited.IsCompleted;)
                {
                    await Task.Delay(1000);
                    if (receiver.Frames != reported)
                    {
                        Say("receiver", $"{receiver.Frames} frames decoded");
                        reported = receiver.Frames;
                    }
                }
            });
            await central.WaitForAuditAsync(AuditType.SessionEnded, grant, TimeSpan.FromSeconds(lookSeconds + 60));
            await Task.WhenAny(frames, Task.Delay(3000));
            Say("receiver", $"the look is over: {receiver.Frames} frames were seen, none stored");
            var framesSeen = receiver.Frames;

            Say("demo", "cutting the mains power to the unit (the UPS keeps it running)");
            central.SetKernelFile("sys/class/power_supply/mains/online", "0");
            await central.WaitForEventAsync(EventType.PowerLost);
            Say("central", "asking for a self-test, as before the next check");
            await central.PublishCommandAsync(CommandNames.SelfTest);
            await central.WaitForEventAsync(EventType.Readiness);

            Say("central", "stopping the unit (as systemd would)");
            unit.Terminate();
            await central.WaitForStatusAsync("offline", TimeSpan.FromSeconds(30));
            var broken = AuditChain.Verify(central.AuditRecords);
            Say("central", broken is null
                ? $"audit chain verified at the central: {central.AuditRecords.Count} records, intact"
                : $"audit chain BROKEN: {broken}");
            List<(string Part, string State)> seen;
            lock (timeline)
            {
                seen = [.. timeline];
            }
            return Verdict(LookProblems(seen, framesSeen).Append(broken is null ? null : $"audit chain broken: {broken}"));
        }
        catch (Exception e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]demo failed: {e.Message}[/]");
            Console.WriteLine(unit.Output);
            return 1;
        }
    }

    /// <summary>
    /// What the demo proves, read from the unit's hardware timeline: the safe state (red, lens up) before
    /// the look, green before capture, capture stopped before red, and frames at the receiver.
    /// </summary>
    private static IEnumerable<string?> LookProblems(IReadOnlyList<(string Part, string State)> timeline, int frames)
    {
        int First(Func<(string Part, string State), bool> match) => timeline.ToList().FindIndex(e => match(e));
        int Last(Func<(string Part, string State), bool> match) => timeline.ToList().FindLastIndex(e => match(e));
        var greenOn = First(e => e is ("green", "on"));
        var captureOn = First(e => e.Part == "capture" && e.State.StartsWith("on", StringComparison.Ordinal));
        var captureOff = Last(e => e is ("capture", "off"));
        var redAfter = captureOff < 0 ? -1 : timeline.Skip(captureOff).ToList().FindIndex(e => e is ("red", "on"));
        var lensUpBefore = First(e => e.Part == "servo" && e.State.StartsWith("lens-up", StringComparison.Ordinal));
        var redBefore = First(e => e is ("red", "on"));
        yield return redBefore >= 0 && (greenOn < 0 || redBefore < greenOn) ? null : "no red light before the look";
        yield return lensUpBefore >= 0 && (greenOn < 0 || lensUpBefore < greenOn) ? null : "the lens was not up before the look";
        yield return greenOn >= 0 && captureOn > greenOn ? null : "green was not lit before capture started";
        yield return captureOff > captureOn && redAfter >= 0 ? null : "capture did not stop before the light turned red";
        yield return frames > 0 ? null : "no frame reached the receiver";
    }

    private static int Verdict(IEnumerable<string?> problems)
    {
        var failed = problems.OfType<string>().ToList();
        foreach (var problem in failed)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]demo failed: {problem}[/]");
        }
        Say("demo", failed.Count == 0 ? "ok: safe state, green before capture, frames at the receiver, red after, audit chain intact" : $"{failed.Count} problem(s)");
        return failed.Count == 0 ? 0 : 1;
    }

    /// <summary>The unit's timeline, told in words: what the resident would see.</summary>
    internal static void Narrate(string line) => Narrate(line, null);

    private static void Narrate(string line, List<(string Part, string State)>? timeline)
    {
        if (!line.StartsWith("timeline ", StringComparison.Ordinal))
        {
            return;
        }
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var (part, state) = (parts[2], string.Join(' ', parts[3..]));
        if (timeline is not null)
        {
            lock (timeline)
            {
                timeline.Add((part, state));
            }
        }
        var text = (part, state) switch
        {
            ("green", "on") => "[black on green] light GREEN [/] camera about to start",
            ("red", "on") => "[white on red] light RED [/] camera off",
            ("ir", _) => $"IR light {state}",
            ("servo", var s) when s.EndsWith("pwm-on", StringComparison.Ordinal) => $"lens turning to {s[..^7]}",
            ("servo", var s) => $"lens at {s[..^8]}, servo silent (PWM off)",
            ("capture", var s) when s.StartsWith("on", StringComparison.Ordinal) => $"capture running ({s[3..]}): ffmpeg → SRT, AES-256",
            ("capture", "off") => "capture stopped",
            ("capture", "selftest off") => "self-test: one frame pulled into memory, sent nowhere, stored nowhere (lens up, IR off)",
            _ => null,
        };
        if (text is not null)
        {
            SayMarkup("unit", text);
        }
    }

    internal static void Report(SimulatedCentral central, MqttMessage message)
    {
        var json = SimulatedCentral.Json(message);
        if (message.Topic == central.Topic(Topics.Status))
        {
            var inCharge = json.TryGetProperty("central", out var c) ? $", central in charge: {c.GetString()}" : "";
            Say("status", $"{json.GetProperty("state").GetString()}, ready: {json.GetProperty("ready")}, faults: [{string.Join(", ", json.GetProperty("faults").EnumerateArray())}]{inCharge}");
        }
        else if (message.Topic == central.Topic(Topics.Audit))
        {
            var record = JsonSerializer.Deserialize<AuditRecord>(message.Payload, Wire.Json)!;
            var who = record.Operator is null ? "" : $" operator {record.Operator}";
            var length = record.DurationMs is { } ms ? $" {ms} ms" : "";
            var reason = record.Reason is null ? "" : $" ({record.Reason})";
            var issuer = record.Issuer is null ? "" : $" from {record.Issuer}";
            var standby = record.Central is null ? "" : $" central {record.Central}";
            Say("audit", $"#{record.Seq} {record.Type.Code()}{who}{issuer}{standby}{length}{reason}  hash {record.Hash![..12]}…");
        }
        else if (message.Topic == central.Topic(Topics.Event))
        {
            var deviceEvent = JsonSerializer.Deserialize<DeviceEvent>(message.Payload, Wire.Json)!;
            var data = deviceEvent.Data is null ? "" : " " + JsonSerializer.Serialize(deviceEvent.Data, Wire.Json);
            if (deviceEvent.Type is EventType.Readiness or EventType.PowerLost or EventType.LinkRestored or EventType.HandoverStarted or EventType.HandoverEnded
                || deviceEvent.Severity == Severity.Critical)
            {
                Say("event", $"{deviceEvent.Type.Code()} ({deviceEvent.Severity.Code()}){data}");
            }
        }
    }

    internal static void Say(string who, string text) => SayMarkup(who, Markup.Escape(text));

    private static void SayMarkup(string who, string markup)
    {
        var colour = who switch { "unit" => "yellow", "central" or "primary" => "aqua", "standby" => "blue", "audit" => "fuchsia", "receiver" => "green", _ => "grey" };
        AnsiConsole.MarkupLine($"[grey]{Clock.Elapsed.TotalSeconds,6:F1}s[/] [{colour}]{who,-8}[/] {markup}");
    }
}
