namespace HomeUnit.Mqtt;

/// <summary>MQTT v5 reason codes as the specification names them, for logs and the status's reason.</summary>
public static class ReasonCodes
{
    private static readonly Dictionary<int, string> Names = new()
    {
        [0x00] = "Success",
        [0x04] = "Disconnect with Will Message",
        [0x10] = "No matching subscribers",
        [0x80] = "Unspecified error",
        [0x81] = "Malformed Packet",
        [0x82] = "Protocol Error",
        [0x83] = "Implementation specific error",
        [0x84] = "Unsupported Protocol Version",
        [0x85] = "Client Identifier not valid",
        [0x86] = "Bad User Name or Password",
        [0x87] = "Not authorized",
        [0x88] = "Server unavailable",
        [0x89] = "Server busy",
        [0x8A] = "Banned",
        [0x8B] = "Server shutting down",
        [0x8C] = "Bad authentication method",
        [0x8D] = "Keep Alive timeout",
        [0x8E] = "Session taken over",
        [0x8F] = "Topic Filter invalid",
        [0x90] = "Topic Name invalid",
        [0x91] = "Packet Identifier in use",
        [0x93] = "Receive Maximum exceeded",
        [0x95] = "Packet too large",
        [0x96] = "Message rate too high",
        [0x97] = "Quota exceeded",
        [0x98] = "Administrative action",
        [0x99] = "Payload format invalid",
        [0x9A] = "Retain not supported",
        [0x9B] = "QoS not supported",
        [0x9C] = "Use another server",
        [0x9D] = "Server moved",
        [0x9F] = "Connection rate exceeded",
    };

    /// <summary>"Not authorized (0x87)".</summary>
    public static string Text(int code) => $"{Names.GetValueOrDefault(code, "unknown reason")} (0x{code:x2})";
}
