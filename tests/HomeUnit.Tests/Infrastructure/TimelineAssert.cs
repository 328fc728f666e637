using HomeUnit.Drivers;
using HomeUnit.TestSupport;

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

    /// <summary>P3 over a whole timeline (<see cref="TimelineRules.LightViolations"/>): green whenever capture is on, never both dark.</summary>
    public static void GreenWheneverCapturing(IReadOnlyList<TimelineEntry> timeline) =>
        Assert.Empty(TimelineRules.LightViolations(timeline.Select(e => (e.Part, e.State))));
}
