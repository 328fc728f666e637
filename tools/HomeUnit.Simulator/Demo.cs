using System.Globalization;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;
using HomeUnit.Central;
using HomeUnit.TestSupport;

namespace HomeUnit.Simulator;

/// <summary>
/// <c>homeunit-sim demo</c>: a night of supervision on a simulated unit, told as it happens. The central
/// publishes a care plan with two checks a few minutes apart; a scheduled look streams to the central's receiver
/// (frames counted); the operator does not see the resident, so a follow-up look follows within the plan's window;
/// a look at a time the plan does not allow is refused; then the mains power fails, the readiness self-test before
/// the next check says <c>ready: false</c>, and the centre is told to send staff. What the centre sees is shown by
/// the same view as <c>homeunit-central watch</c>, which checks the audit chain as records arrive.
/// </summary>
public static class Demo
{
    private const string DeviceId = "sim-unit-1";
    private const string Zone = "Europe/Stockholm";

    public static async Task<int> RunAsync(bool fast, int lookSeconds, CancellationToken cancellationToken)
    {
        Say("demo", fast ? $"a short night (--fast): looks of {lookSeconds} s, the self-test asked for at once" : "a night of supervision, in about five minutes (--fast for one of about 20 seconds)");
        Say("central", "starting a local broker (the shipped mosquitto configuration, mTLS) and the unit on simulated hardware");
        SimulatedCentral central;
        try
        {
            central = await SimulatedCentral.StartAsync(DeviceId, NullLogger.Instance);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]demo failed: the local broker did not start: {e.Message}[/]");
            return ExitCodes.Failed;
        }
        await using var _ = central;
        var watch = new Watch(DeviceId, json: false, Console.Out);
        central.Client.Received += message => watch.Show(message.Topic, message.Payload);
        // The readiness self-test runs a minute before each check (5 by default), so the night fits in the demo.
        var unit = central.StartUnit("Health:ReadinessLeadMinutes=1");
        var timeline = new List<(string Part, string State)>();
        unit.Line += line => Narrate(line, timeline);
        return await UntilDoneAsync(RunNightAsync(central, unit, timeline, lookSeconds, fast), unit, cancellationToken);
    }

    /// <summary>
    /// The demo's outcome, or 130 at Ctrl+C (the central's dispose then stops the unit and the broker);
    /// a failure shows the unit's output.
    /// </summary>
    internal static async Task<int> UntilDoneAsync(Task<int> demo, AgentProcess unit, CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAny(demo, Task.Delay(Timeout.Infinite, cancellationToken));
            if (!demo.IsCompleted)
            {
                Say("demo", "interrupted: stopping the unit and the broker");
                return 130;
            }
            return await demo;
        }
        catch (Exception e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]demo failed: {e.Message}[/]");
            Console.WriteLine(unit.Output);
            return ExitCodes.Failed;
        }
    }

    private static async Task<int> RunNightAsync(SimulatedCentral central, AgentProcess unit, List<(string Part, string State)> timeline, int lookSeconds, bool fast)
    {
        await central.WaitForStatusAsync("online", TimeSpan.FromSeconds(90));

        // Check c1 now (±2 min); check c2 three minutes later (±1 min): its readiness self-test runs a minute before it.
        var zone = TimeZoneInfo.FindSystemTimeZoneById(Zone);
        var now = TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, zone);
        var minute = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, now.Offset);
        var (c1, c2) = (Hm(minute), Hm(minute.AddMinutes(3)));
        var plan = new CarePlanPayload(central.Signer.Issuer, DeviceId, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 1, Zone,
            [new CarePlanCheck("c1", c1, 2), new CarePlanCheck("c2", c2, 1)], 0, new FollowUpRule(30, 2), [],
            PrivacyPause: new PrivacyPauseRule(1));
        await central.Client.PublishAsync(central.Topic(Topics.CarePlan), central.Signer.Sign(plan), retain: true);
        Say("central", $"care plan v1 published (retained): check c1 at {c1} ±2 min, c2 at {c2} ±1 min ({Zone}); follow-ups within 30 min, at most 2; the resident may pause the camera for 1 min");
        Say("central", $"  = homeunit-central careplan --version 1 --check c1@{c1}/2 --check c2@{c2}/1 --follow-up 30/2 --broker …");
        await central.WaitForAuditAsync(AuditType.CarePlanApplied);

        var frames = await LookAsync(central, "c1", SessionKinds.Scheduled, lookSeconds, "the scheduled look for check c1");
        Say("operator", frames > 0
            ? "operator-42 cannot see the resident in bed: a follow-up look, within the plan's 30 minutes"
            : "no picture arrived: a follow-up look, within the plan's 30 minutes");
        // As at the centre, the follow-up is there for a look that showed nothing: the night needs a picture from either
        // (under emulation, the first ffmpeg may take most of a short look to start).
        frames += await LookAsync(central, "c1", SessionKinds.FollowUp, lookSeconds, "the follow-up look for check c1");

        Say("central", $"a look for check c2 now, minutes before its window ({c2} ±1 min) opens: the unit must refuse it");
        var early = await central.PublishGrantAsync("srt://127.0.0.1:9", lookSeconds, SessionKinds.Scheduled, "c2");
        var refused = await central.WaitForAuditAsync(AuditType.SessionRefused, early);
        Say("central", $"refused as {refused.Reason}: the camera stayed off; the operator waits for the check's window");

        Say("demo", "cutting the unit's mains power (the UPS keeps it running)");
        central.SetKernelFile("sys/class/power_supply/mains/online", "0");
        await central.WaitForEventAsync(EventType.PowerLost);
        if (fast)
        {
            Say("central", "asking for the readiness self-test now (homeunit-central command selftest)");
            await central.PublishCommandAsync(CommandNames.SelfTest);
        }
        else
        {
            Say("demo", $"waiting for the unit's own self-test a minute before check c2 at {c2}");
        }
        var readiness = SimulatedCentral.Json(await central.WaitForEventAsync(EventType.Readiness, TimeSpan.FromMinutes(4)));
        var data = readiness.GetProperty("data");
        if (!data.GetProperty("ready").GetBoolean())
        {
            var problems = data.GetProperty("parts").EnumerateObject().Where(p => p.Value.GetString() != "ok").Select(p => $"{p.Name}: {p.Value.GetString()}");
            SayMarkup("centre", $"[white on red] SEND STAFF [/] the unit is not ready for check c2 at {c2} ({Markup.Escape(string.Join("; ", problems))}): a night patrol visits instead of the look");
        }

        if (fast)
        {
            Say("demo", $"(--fast skips the wait for check c2's window to close; the full demo shows the unit raising check.missed)");
        }
        else
        {
            await ShowLedgerAsync(central, c2);
        }
        // After c2's window: a pause that overlapped it would make c2 skipped (paused by the resident), not missed.
        await ShowPrivacyPauseAsync(central, lookSeconds, fast);

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
        var verdict = Verdict(LookProblems(seen, frames).Append(broken is null ? null : $"audit chain broken: {broken}"));
        Say("demo", "done: the unit and the broker are stopped, nothing was stored");
        return verdict;
    }

    /// <summary>
    /// The unit's own ledger of the night: check c2 had no look (staff were sent instead), so when its window
    /// closes the unit itself raises <c>check.missed</c> (critical), with what it knows of why.
    /// </summary>
    private static async Task ShowLedgerAsync(SimulatedCentral central, string c2)
    {
        Say("demo", $"nobody looks at check c2: its window closes a minute after {c2}, and the unit itself will say so");
        var missed = SimulatedCentral.Json(await central.WaitForEventAsync(EventType.CheckMissed, TimeSpan.FromMinutes(5))).GetProperty("data");
        var causes = string.Join(", ", missed.GetProperty("causes").EnumerateArray().Select(c => c.GetString()));
        SayMarkup("centre", $"[white on red] CHECK MISSED [/] check {Markup.Escape(missed.GetProperty("check").GetString()!)} of night {Markup.Escape(missed.GetProperty("night").GetString()!)}: no look in its window ({Markup.Escape(causes)}); the night patrol's visit stands in for it");
    }

    /// <summary>
    /// The resident presses the unit's privacy button: the camera is paused and a look in the pause is refused.
    /// The pause ends by itself after the care plan's minute (with --fast, at a second press).
    /// </summary>
    private static async Task ShowPrivacyPauseAsync(SimulatedCentral central, int lookSeconds, bool fast)
    {
        Say("demo", "the resident presses the privacy button on the unit (echo 1, then 0, > sim/privacy-button)");
        await central.PressPrivacyButtonAsync();
        var paused = SimulatedCentral.Json(await central.WaitForEventAsync(EventType.PrivacyPaused)).GetProperty("data");
        Say("centre", $"privacy.paused: the resident has paused the camera until {paused.GetProperty("until").GetString()}; the centre calls or visits by its own routine");
        Say("central", "operator-42 tries a follow-up look for check c1 during the pause");
        var grant = await central.PublishGrantAsync("srt://127.0.0.1:9", lookSeconds, SessionKinds.FollowUp, "c1");
        var refused = await central.WaitForAuditAsync(AuditType.SessionRefused, grant);
        Say("central", $"refused as {refused.Reason}: the camera stayed off");
        if (fast)
        {
            Say("demo", "the resident presses the button again: the pause ends");
            await central.PressPrivacyButtonAsync();
        }
        else
        {
            Say("demo", "waiting for the pause to end by itself (the care plan allows 1 minute)");
        }
        var resumed = SimulatedCentral.Json(await central.WaitForEventAsync(EventType.PrivacyResumed, TimeSpan.FromMinutes(2))).GetProperty("data");
        Say("centre", $"privacy.resumed ({resumed.GetProperty("reason").GetString()}): looks are possible again");
    }

    /// <summary>One look: a grant for the check, the light, lens and stream as the unit reports them, the frames counted at the receiver.</summary>
    private static async Task<int> LookAsync(SimulatedCentral central, string check, string kind, int seconds, string what)
    {
        await using var receiver = await SrtReceiver.StartAsync(SimulatedCentral.Passphrase);
        Say("central", $"operator-42 looks in: {what}, {seconds} s, view bed, stream to {receiver.Url}");
        Say("central", $"  = homeunit-central grant --kind {kind} --check {check} --max-seconds {seconds} --stream-url {receiver.Url} --broker …");
        var grant = await central.PublishGrantAsync(receiver, seconds, kind, check);
        await central.WaitForAuditAsync(AuditType.SessionStarted, grant, TimeSpan.FromSeconds(60));
        var counting = Task.Run(async () =>
        {
            for (var reported = 0; !receiver.Exited.IsCompleted;)
            {
                await Task.WhenAny(receiver.Exited, Task.Delay(1000));
                if (receiver.Frames != reported)
                {
                    reported = receiver.Frames;
                    Say("receiver", $"{reported} frames decoded{(receiver.Stream is { } s ? $" ({s.Width}x{s.Height}, {s.FrameRate.ToString("0.##", CultureInfo.InvariantCulture)} fps)" : "")}");
                }
            }
        });
        await central.WaitForAuditAsync(AuditType.SessionEnded, grant, TimeSpan.FromSeconds(seconds + 60));
        await Task.WhenAny(counting, Task.Delay(3000));
        Say("receiver", $"the look is over: {receiver.Frames} frames seen, none stored");
        return receiver.Frames;
    }

    private static string Hm(DateTimeOffset at) => at.ToString("HH:mm", CultureInfo.InvariantCulture);

    /// <summary>
    /// What the demo proves, read from the unit's hardware timeline: the safe state (red, lens up) before
    /// the look, green whenever capture is on and the light never dark (<see cref="TimelineRules"/>),
    /// capture stopped before red, and frames at the receiver.
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
        yield return captureOn >= 0 ? null : "capture never started";
        foreach (var violation in TimelineRules.LightViolations(timeline))
        {
            yield return violation;
        }
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
        return failed.Count == 0 ? ExitCodes.Ok : ExitCodes.Failed;
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
            ("red", var s) when s.StartsWith("blink paused", StringComparison.Ordinal) => "[white on red] light RED, beating [/] camera paused by the resident (a short dark beat every 2 s, never green)",
            ("red", var s) when s.StartsWith("blink refused", StringComparison.Ordinal) => "light flickers red: the care plan allows no pause",
            ("button", "pressed") => "privacy button pressed",
            _ => null,
        };
        if (text is not null)
        {
            SayMarkup("unit", text);
        }
    }

    internal static void Say(string who, string text) => SayMarkup(who, Markup.Escape(text));

    private static void SayMarkup(string who, string markup)
    {
        var colour = who switch { "unit" => "yellow", "central" or "primary" or "operator" => "aqua", "standby" => "blue", "receiver" => "green", "centre" => "red", _ => "grey" };
        var stamp = DateTimeOffset.Now.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
        AnsiConsole.MarkupLine($"[grey]{stamp}[/] [bold {colour}]{who,-8}[/] {markup}");
    }
}
