using System.Diagnostics;
using HomeUnit.Central;
using HomeUnit.Drivers;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.TestSupport;

/// <summary>
/// <c>homeunit-sim upgrade-rehearsal</c>: a package upgrade on a unit with history, as the package
/// tests run it in a throwaway root. The unit (the old version) applies a care plan and performs a
/// look, so its audit log, replay cache and care plan are not empty; a second look is running when
/// the broker goes away and the upgrade command replaces the package; then, as systemd restarts the
/// service, the old agent gets SIGTERM, <c>safe-state</c> runs and the new version starts, still
/// offline, so the outbox carries what happened. When the broker is back, every audit record arrives
/// in one verified chain, the running look ended as <c>session.aborted</c> with <c>agent-stopping</c>,
/// the hardware timeline ends with capture off and the light red, and the first grant is still
/// refused as replayed.
/// </summary>
public static class UpgradeRehearsal
{
    public static async Task<int> RunAsync(string upgradeCommand)
    {
        var problems = new List<string>();
        void Expect(bool condition, string problem)
        {
            Console.WriteLine($"{(condition ? "ok  " : "FAIL")} {problem}");
            if (!condition)
            {
                problems.Add(problem);
            }
        }

        await using var central = await SimulatedCentral.StartAsync("unit-upgrade", NullLogger.Instance);
        var unit = central.StartUnit();
        try
        {
            await central.WaitForStatusAsync("online", TimeSpan.FromSeconds(120));
            var before = StatusVersion(central);
            await central.PublishCarePlanAsync();
            await central.WaitForAuditAsync(AuditType.CarePlanApplied, timeout: TimeSpan.FromSeconds(60));
            await using (var first = await SrtReceiver.StartAsync(SimulatedCentral.Passphrase))
            {
                var grant = await central.PublishGrantAsync(first, 3);
                await central.WaitForAuditAsync(AuditType.SessionEnded, grant, TimeSpan.FromSeconds(90));
                Console.WriteLine($"old version {before}: care plan applied, one look done ({grant})");
                await using var second = await SrtReceiver.StartAsync(SimulatedCentral.Passphrase);
                var running = await central.PublishGrantAsync(second, 60);
                await central.WaitForAuditAsync(AuditType.SessionStarted, running, TimeSpan.FromSeconds(90));
                await Eventually.True(() => second.Frames > 0, "frames of the running look", TimeSpan.FromSeconds(60));
                var delivered = central.AuditRecords.Count;
                Console.WriteLine($"a look is running ({running}); {delivered} audit records delivered; the broker goes away");
                await central.Broker.StopAsync();

                var upgrade = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", upgradeCommand]))!;
                await upgrade.WaitForExitAsync();
                Expect(upgrade.ExitCode == 0, "the upgrade command succeeded");
                // As systemd restarts the service: SIGTERM, ExecStopPost=safe-state, the new ExecStart.
                unit.Terminate();
                await unit.WaitForExitAsync(TimeSpan.FromSeconds(30));
                var (safeExit, _) = await central.RunUnitVerbAsync("safe-state");
                Expect(safeExit == 0, "safe-state after the stop");
                unit = central.StartUnit();
                await Eventually.True(() => unit.Output.Contains("agent.started", StringComparison.Ordinal), "the new version started", TimeSpan.FromSeconds(120));
                await central.Broker.StartAsync();
                await central.WaitForAuditAsync(AuditType.SessionAborted, running, TimeSpan.FromSeconds(120));
                await Eventually.True(() => central.AuditRecords.Count(r => r.Type == AuditType.AgentStarted) >= 2,
                    "the new version's agent.started record", TimeSpan.FromSeconds(60));
                var after = await Eventually.Until(() => StatusVersion(central) is { } v && v != before ? v : null, "the new version's status", TimeSpan.FromSeconds(60));
                Console.WriteLine($"new version {after} online");

                var records = central.AuditRecords;
                var aborted = records.Single(r => r.Grant == running && r.Type == AuditType.SessionAborted);
                Expect(aborted.Reason == "agent-stopping", $"the running look ended as session.aborted with reason agent-stopping (was {aborted.Reason})");
                Expect(records.Select(r => r.Seq).SequenceEqual(Enumerable.Range(1, records.Count).Select(i => (long)i)),
                    $"every audit record arrived, 1..{records.Count}, none missing");
                Expect(AuditChain.Verify(records) is null, "the audit chain verifies across the upgrade");
                Expect(records.Count(r => r.Type == AuditType.CarePlanApplied) == 1, "the stored care plan survived (the retained one again was not applied anew)");

                var timeline = HardwareTimeline.ReadFile(Path.Combine(central.StateDirectory, "timeline.jsonl"));
                var lastCapture = timeline.LastOrDefault(e => e.Part == Parts.Capture);
                var lastRed = timeline.LastOrDefault(e => e.Part == Parts.Red);
                var lastGreen = timeline.LastOrDefault(e => e.Part == Parts.Green);
                Expect(lastCapture.State == "off" && lastRed.State == "on" && lastGreen.State == "off",
                    $"the camera is off and the light red after the upgrade (capture {lastCapture.State}, red {lastRed.State}, green {lastGreen.State})");
                Expect(lastCapture.Nanoseconds < lastRed.Nanoseconds, "capture stopped before the light turned red");

                await central.PublishGrantAsync(second.Url, 3, jti: grant);
                var refused = await central.WaitForAuditAsync(AuditType.SessionRefused, grant, TimeSpan.FromSeconds(60));
                Expect(refused.Reason == "replayed", $"the first grant again is refused as replayed (was {refused.Reason})");
            }
            unit.Terminate();
            await unit.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception e)
        {
            problems.Add(e.Message);
            Console.WriteLine($"FAIL {e.Message}");
            Console.WriteLine(unit.Output);
        }
        Console.WriteLine(problems.Count == 0 ? "upgrade rehearsal: ok" : $"upgrade rehearsal: {problems.Count} problem(s)");
        return problems.Count == 0 ? 0 : 1;
    }

    private static string? StatusVersion(SimulatedCentral central) =>
        central.Client.Messages.LastOrDefault(m => m.Topic == central.Topic(Topics.Status)) is { } m
            ? SimulatedCentral.Json(m).GetProperty("version").GetString()
            : null;
}
