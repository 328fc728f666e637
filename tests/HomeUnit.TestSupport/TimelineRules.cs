using HomeUnit.Drivers;

namespace HomeUnit.TestSupport;

/// <summary>The light's promise (P3) read from a hardware timeline, for the tests and the demo alike.</summary>
public static class TimelineRules
{
    /// <summary>
    /// Every entry after which capture is on while green is not lit, or both colours are dark (the
    /// make-before-break switch lights the new colour first, so a settled light is never dark).
    /// </summary>
    public static IEnumerable<string> LightViolations(IEnumerable<(string Part, string State)> timeline)
    {
        var state = new Dictionary<string, string>();
        foreach (var (part, value) in timeline)
        {
            state[part] = value;
            if (state.TryGetValue(Parts.Capture, out var capture) && capture.StartsWith("on", StringComparison.Ordinal)
                && state.GetValueOrDefault(Parts.Green) != "on")
            {
                yield return $"capture on while green is not lit, at {part} {value}";
            }
            if (state.GetValueOrDefault(Parts.Green) == "off" && state.GetValueOrDefault(Parts.Red) == "off")
            {
                yield return $"both lights dark, at {part} {value}";
            }
        }
    }
}
