using System.Diagnostics;
using System.Text.Json;

namespace HomeUnit.Drivers;

/// <summary>One hardware transition: which part, its new state, and when (monotonic nanoseconds).</summary>
public readonly record struct TimelineEntry(long Nanoseconds, string Part, string State)
{
    public override string ToString() => $"{Nanoseconds / 1e9,14:F6} {Part,-8} {State}";
}

/// <summary>Part names written into the timeline.</summary>
public static class Parts
{
    public const string Red = "red";
    public const string Green = "green";
    public const string Ir = "ir";
    public const string Servo = "servo";
    public const string Capture = "capture";
    public const string Button = "button";
}

/// <summary>
/// Every LED, IR, servo and capture transition, in the order it happened, stamped with
/// CLOCK_MONOTONIC so entries written by different processes on one boot compare. The safety
/// promises are proven by reading this, not by reading log text. Optionally appended to a file
/// (one JSON object a line, flushed per entry) so that it outlives a killed agent.
/// </summary>
public sealed class HardwareTimeline
{
    private readonly object gate = new();
    private readonly List<TimelineEntry> entries = [];
    private readonly string? filePath;

    public HardwareTimeline(string? filePath = null)
    {
        this.filePath = filePath;
    }

    public event Action<TimelineEntry>? Recorded;

    public static long Now() => (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));

    public void Record(string part, string state)
    {
        TimelineEntry entry;
        lock (gate)
        {
            entry = new TimelineEntry(Now(), part, state);
            entries.Add(entry);
            if (filePath is not null)
            {
                File.AppendAllText(filePath, JsonSerializer.Serialize(entry) + "\n");
            }
        }
        Recorded?.Invoke(entry);
    }

    public IReadOnlyList<TimelineEntry> Snapshot()
    {
        lock (gate)
        {
            return [.. entries];
        }
    }

    public static IReadOnlyList<TimelineEntry> ReadFile(string path) =>
        File.Exists(path)
            ? File.ReadLines(path).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<TimelineEntry>(l)).ToList()
            : [];
}
