using HomeUnit.Drivers;

namespace HomeUnit.Tests.Infrastructure;

/// <summary>Reads the hardware timeline the way the safety promises are stated.</summary>
public static class TimelineAssert
{
    public static int IndexOf(IReadOnlyList<TimelineEntry> timeline, string part, string statePrefix, int from = 0)
    {
        for (var i = from; i < timeline.Count; i++)
        {
            if (timeline[i].Part == part && timeline[i].State.StartsWith(statePrefix, StringComparison.Ordinal))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>The state of every part after each entry, replayed from the start.</summary>
    public static IEnumerable<(TimelineEntry Entry, IReadOnlyDictionary<string, string> State)> Replay(IReadOnlyList<TimelineEntry> timeline)
    {
        var state = new Dictionary<string, string>();
        foreach (var entry in timeline)
        {
            state[entry.Part] = entry.State;
            yield return (entry, new Dictionary<string, string>(state));
        }
    }

    /// <summary>
    /// P3 over a whole timeline: whenever capture is on, green is lit; whenever capture is off and the
    /// light has settled (not in the middle of a make-before-break switch), exactly one colour is lit.
    /// </summary>
    public static void GreenWheneverCapturing(IReadOnlyList<TimelineEntry> timeline)
    {
        foreach (var (entry, state) in Replay(timeline))
        {
            var capturing = state.TryGetValue(Parts.Capture, out var c) && c.StartsWith("on", StringComparison.Ordinal);
            if (capturing)
            {
                Assert.True(state.GetValueOrDefault(Parts.Green) == "on", $"capture on while green is not lit, at {entry}");
            }
            Assert.False(state.GetValueOrDefault(Parts.Green) == "off" && state.GetValueOrDefault(Parts.Red) == "off",
                $"both lights dark at {entry}");
        }
    }
}
