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

    public static async Task<int> RunAsync(bool fast)
    {
        var lookSeconds = fast ? 4 : 8;
        Say("central", "starting a local broker (the shipped mosquitto configuration, mTLS) and the unit");
        await using var central = await SimulatedCentral.StartAsync("sim-unit-1", NullLogger.Instance);
        central.Client.Received += message => Report(central, message);
        var unit = central.StartUnit();
        unit.Line += line => Narrate(line);
        try
        {
            await central.WaitForStatusAsync("online", TimeSpan.FromSeconds(90));
            var at = await central.PublishCarePlanAsync();
            Say("central", $"care plan v1 published (retained): check c1 at {at} Europe/Stockholm ±15 min");
            await central.WaitForAuditAsync(AuditTypes.CarePlanApplied);

            await using var receiver = await SrtReceiver.StartAsync(SimulatedCentral.Passphrase);
            Say("central", $"operator-42 looks in: grant for check c1, {lookSeconds} s, view bed, stream to {receiver.Url}");
            var grant = await central.PublishGrantAsync(receiver, lookSeconds);
            await central.WaitForAuditAsync(AuditTypes.SessionStarted, grant, TimeSpan.FromSeconds(60));
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
            await central.WaitForAuditAsync(AuditTypes.SessionEnded, grant, TimeSpan.FromSeconds(lookSeconds + 60));
            await Task.WhenAny(frames, Task.Delay(3000));
            Say("receiver", $"the look is over: {receiver.Frames} frames were seen, none stored");

            Say("demo", "cutting the mains power to the unit (the UPS keeps it running)");
            central.SetKernelFile("sys/class/power_supply/mains/online", "0");
            await central.WaitForEventAsync("power.lost");
            Say("central", "asking for a self-test, as before the next check");
            await central.PublishCommandAsync(CommandNames.SelfTest);
            await central.WaitForEventAsync("readiness");

            Say("central", "stopping the unit (as systemd would)");
            unit.Terminate();
            await central.WaitForStatusAsync("offline", TimeSpan.FromSeconds(30));
            var broken = AuditChain.Verify(central.AuditRecords);
            Say("central", broken is null
                ? $"audit chain verified at the central: {central.AuditRecords.Count} records, intact"
                : $"audit chain BROKEN: {broken}");
            return broken is null ? 0 : 1;
        }
        catch (Exception e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]demo failed: {e.Message}[/]");
            Console.WriteLine(unit.Output);
            return 1;
        }
    }

    /// <summary>The unit's timeline, told in words: what the resident would see.</summary>
    private static void Narrate(string line)
    {
        if (!line.StartsWith("timeline ", StringComparison.Ordinal))
        {
            return;
        }
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var (part, state) = (parts[2], string.Join(' ', parts[3..]));
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

    private static void Report(SimulatedCentral central, MqttMessage message)
    {
        var json = SimulatedCentral.Json(message);
        if (message.Topic == central.Topic(Topics.Status))
        {
            Say("status", $"{json.GetProperty("state").GetString()}, ready: {json.GetProperty("ready")}, faults: [{string.Join(", ", json.GetProperty("faults").EnumerateArray())}]");
        }
        else if (message.Topic == central.Topic(Topics.Audit))
        {
            var record = JsonSerializer.Deserialize<AuditRecord>(message.Payload, Wire.Json)!;
            var who = record.Operator is null ? "" : $" operator {record.Operator}";
            var length = record.DurationMs is { } ms ? $" {ms} ms" : "";
            var reason = record.Reason is null ? "" : $" ({record.Reason})";
            Say("audit", $"#{record.Seq} {record.Type}{who}{length}{reason}  hash {record.Hash![..12]}…");
        }
        else if (message.Topic == central.Topic(Topics.Event))
        {
            var type = json.GetProperty("type").GetString();
            var severity = json.GetProperty("severity").GetString();
            var data = json.TryGetProperty("data", out var d) ? " " + d.GetRawText() : "";
            if (type is "readiness" or "power.lost" or "link.restored" || severity == Severity.Critical)
            {
                Say("event", $"{type} ({severity}){data}");
            }
        }
    }

    private static void Say(string who, string text) => SayMarkup(who, Markup.Escape(text));

    private static void SayMarkup(string who, string markup)
    {
        var colour = who switch { "unit" => "yellow", "central" => "aqua", "audit" => "fuchsia", "receiver" => "green", _ => "grey" };
        AnsiConsole.MarkupLine($"[grey]{Clock.Elapsed.TotalSeconds,6:F1}s[/] [{colour}]{who,-8}[/] {markup}");
    }
}
