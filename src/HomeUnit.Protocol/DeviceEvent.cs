namespace HomeUnit.Protocol;

/// <summary>How the centre should act on an event.</summary>
public static class Severity
{
    public const string Info = "info";
    public const string Warning = "warning";
    /// <summary>The unit cannot do its job: send staff for a physical visit.</summary>
    public const string Critical = "critical";
}

/// <summary>An event sent to the central (design §4).</summary>
public sealed record DeviceEvent(string Id, long Seq, string At, string Type, string Severity, object? Data);

/// <summary>
/// The retained presence message. <see cref="Central"/> is the <c>iss</c> of the central in charge;
/// <see cref="Path"/> names the broker the unit is connected through.
/// </summary>
public sealed record DeviceStatus(string State, string Version, string Since, bool Ready, IReadOnlyList<string> Faults,
    string? Central = null, string? Path = null);
