namespace HomeUnit.Protocol;

/// <summary>An event sent to the central (design §4).</summary>
public sealed record DeviceEvent(string Id, long Seq, string At, EventType Type, Severity Severity, object? Data);

/// <summary>The <c>parts</c> of a <c>readiness</c> event: each part's verdict, <see cref="Ok"/> or what is wrong.</summary>
public static class ReadinessParts
{
    public const string Ok = "ok";
    public const string Camera = "camera";
    public const string Servo = "servo";
    public const string Lights = "lights";
    public const string Power = "power";
    public const string Clock = "clock";
    public const string Storage = "storage";
}

/// <summary>
/// The retained presence message. <see cref="Central"/> is the <c>iss</c> of the central in charge;
/// <see cref="Path"/> names the broker the unit is connected through.
/// </summary>
public sealed record DeviceStatus(string State, string Version, string Since, bool Ready, IReadOnlyList<UnitFault> Faults,
    string? Central = null, string? Path = null);
