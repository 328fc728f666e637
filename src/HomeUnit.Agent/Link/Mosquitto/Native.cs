using System.Runtime.InteropServices;

namespace HomeUnit.Agent.Link.Mosquitto;

/// <summary>
/// The parts of libmosquitto (Debian <c>libmosquitto1</c>, 2.0.x) the link uses. Every pointer
/// stays inside this folder. Strings going in are UTF-8; strings coming back from
/// <c>mosquitto_strerror</c>/<c>mosquitto_reason_string</c> are static memory and are read, never freed.
/// </summary>
internal static unsafe partial class Native
{
    private const string Library = "libmosquitto.so.1";

    public const int Success = 0;
    public const int ErrNoConnection = 4;
    public const int ErrErrno = 14;

    public const int OptionProtocolVersion = 1;
    public const int OptionTcpNoDelay = 11;
    public const int ProtocolV5 = 5;

    public const int PropertySessionExpiryInterval = 17;
    public const int PropertyMaximumPacketSize = 39;

    /// <summary>Log levels worth keeping: they carry the TLS and connection failure reasons.</summary>
    public const int LogErrorOrWarning = 0x08 | 0x04;

    /// <summary>Layout of <c>struct mosquitto_message</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Message
    {
        public int Mid;
        public nint Topic;
        public nint Payload;
        public int PayloadLength;
        public int Qos;
        public byte Retain;
    }

    [LibraryImport(Library)]
    public static partial int mosquitto_lib_init();

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint mosquitto_new(string id, [MarshalAs(UnmanagedType.I1)] bool cleanSession, nint userData);

    [LibraryImport(Library)]
    public static partial void mosquitto_destroy(nint mosq);

    [LibraryImport(Library)]
    public static partial int mosquitto_int_option(nint mosq, int option, int value);

    [LibraryImport(Library)]
    public static partial int mosquitto_threaded_set(nint mosq, [MarshalAs(UnmanagedType.I1)] bool threaded);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mosquitto_tls_set(nint mosq, string? caFile, string? caPath, string? certFile, string? keyFile, nint passwordCallback);

    [LibraryImport(Library)]
    public static partial int mosquitto_will_set_v5(nint mosq, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int payloadLength, byte* payload, int qos, [MarshalAs(UnmanagedType.I1)] bool retain, nint properties);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int mosquitto_connect_bind_v5(nint mosq, [MarshalAs(UnmanagedType.LPUTF8Str)] string host, int port, int keepAlive, nint bindAddress, nint properties);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int mosquitto_loop(nint mosq, int timeoutMilliseconds, int maxPackets);

    [LibraryImport(Library)]
    public static partial int mosquitto_disconnect_v5(nint mosq, int reasonCode, nint properties);

    [LibraryImport(Library)]
    public static partial int mosquitto_publish_v5(nint mosq, out int mid, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int payloadLength, byte* payload, int qos, [MarshalAs(UnmanagedType.I1)] bool retain, nint properties);

    [LibraryImport(Library)]
    public static partial int mosquitto_subscribe_v5(nint mosq, out int mid, [MarshalAs(UnmanagedType.LPUTF8Str)] string filter, int qos, int options, nint properties);

    [LibraryImport(Library)]
    public static partial int mosquitto_property_add_int32(ref nint properties, int identifier, uint value);

    [LibraryImport(Library)]
    public static partial void mosquitto_property_free_all(ref nint properties);

    [LibraryImport(Library)]
    public static partial nint mosquitto_strerror(int error);

    [LibraryImport(Library)]
    public static partial nint mosquitto_reason_string(int reasonCode);

    [LibraryImport(Library)]
    public static partial void mosquitto_connect_v5_callback_set(nint mosq, delegate* unmanaged[Cdecl]<nint, nint, int, int, nint, void> callback);

    [LibraryImport(Library)]
    public static partial void mosquitto_disconnect_v5_callback_set(nint mosq, delegate* unmanaged[Cdecl]<nint, nint, int, nint, void> callback);

    [LibraryImport(Library)]
    public static partial void mosquitto_publish_v5_callback_set(nint mosq, delegate* unmanaged[Cdecl]<nint, nint, int, int, nint, void> callback);

    [LibraryImport(Library)]
    public static partial void mosquitto_message_v5_callback_set(nint mosq, delegate* unmanaged[Cdecl]<nint, nint, Message*, nint, void> callback);

    [LibraryImport(Library)]
    public static partial void mosquitto_subscribe_callback_set(nint mosq, delegate* unmanaged[Cdecl]<nint, nint, int, int, int*, void> callback);

    [LibraryImport(Library)]
    public static partial void mosquitto_log_callback_set(nint mosq, delegate* unmanaged[Cdecl]<nint, nint, int, byte*, void> callback);

    /// <summary>Text of a libmosquitto error code (static memory: copied, not freed).</summary>
    public static string ErrorText(int error) => Marshal.PtrToStringUTF8(mosquitto_strerror(error)) ?? $"error {error}";

    /// <summary>Text of an MQTT v5 reason code (static memory: copied, not freed).</summary>
    public static string ReasonText(int reasonCode) =>
        $"{Marshal.PtrToStringUTF8(mosquitto_reason_string(reasonCode)) ?? "unknown reason"} (0x{reasonCode:x2})";
}
