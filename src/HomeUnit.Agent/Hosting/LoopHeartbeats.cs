using System.Collections.Concurrent;
using System.Diagnostics;

namespace HomeUnit.Agent.Hosting;

/// <summary>
/// Each long-running loop beats here every turn. systemd's watchdog is fed only while every loop has
/// beaten recently, so a stuck loop turns into a restart instead of a silent hang.
/// </summary>
public sealed class LoopHeartbeats
{
    private readonly ConcurrentDictionary<string, long> lastBeat = new();

    public void Beat(string loop) => lastBeat[loop] = Stopwatch.GetTimestamp();

    /// <summary>The loop has ended on purpose (for example a drain whose connection is gone): no longer watched.</summary>
    public void Forget(string loop) => lastBeat.TryRemove(loop, out _);

    /// <summary>The loops that have not beaten within <paramref name="limit"/> (empty when all are healthy).</summary>
    public IReadOnlyList<string> Stale(TimeSpan limit) =>
        [.. lastBeat.Where(beat => Stopwatch.GetElapsedTime(beat.Value) > limit).Select(beat => beat.Key).Order()];
}
