namespace HomeUnit.Protocol;

/// <summary>An event sent to the central (design §4).</summary>
public sealed record DeviceEvent(string Id, long Seq, string At, EventType Type, Severity Severity, object? Data);

/// <summary>
/// The retained presence message. <see cref="Central"/> is the <c>iss</c> of the central in charge;
/// <see cref="Path"/> names the broker the unit is connected through.
/// </summary>
public sealed record DeviceStatus(string State, string Version, string Since, bool Ready, IReadOnlyList<UnitFault> Faults,
    string? Central = null, string? Path = null);
