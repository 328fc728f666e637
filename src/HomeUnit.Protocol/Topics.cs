namespace HomeUnit.Protocol;

/// <summary>The MQTT topics of design §4, all below <c>homeunit/v1/{deviceId}/</c>.</summary>
public static class Topics
{
    public const string Status = "status";
    public const string Grant = "grant";
    public const string Command = "command";
    public const string CarePlan = "careplan";
    public const string Event = "event";
    public const string Audit = "audit";

    public static string Prefix(string deviceId) => $"homeunit/v1/{deviceId}/";

    public static string For(string deviceId, string topic) => Prefix(deviceId) + topic;
}
