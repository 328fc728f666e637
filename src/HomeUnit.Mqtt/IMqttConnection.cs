namespace HomeUnit.Mqtt;

/// <summary>Where one connection is in its life. A closed connection is never reused: make a new one.</summary>
public enum MqttConnectionState
{
    New,
    Connecting,
    Connected,
    Closed,
}

/// <summary>A message received from the broker; the payload is the connection's own copy.</summary>
public sealed record MqttMessage(string Topic, byte[] Payload, bool Retained);

/// <summary>What the broker publishes for this client if the connection ends without a DISCONNECT.</summary>
public sealed record MqttWill(string Topic, byte[] Payload, bool Retain);

/// <summary>
/// One MQTT v5 connection (QoS 1 throughout). It lives from <see cref="ConnectAsync"/> until
/// <see cref="Closed"/> completes; it does not reconnect by itself, so everything it had in flight
/// ends with it and the caller decides what to send again. A broker that stops answering (a
/// half-open connection) closes it within about two keepalive periods, whether or not it publishes.
/// Disposing a connection that is still connected ends it with DISCONNECT reason 0x04, so the
/// broker publishes the will: only <see cref="DisconnectAsync"/> is a clean goodbye.
/// </summary>
public interface IMqttConnection : IAsyncDisposable
{
    MqttConnectionState State { get; }

    /// <summary>
    /// How many publishes may await their PUBACK at once: the Receive Maximum the broker announced in
    /// its CONNACK. Callers that keep several in flight stay within it (the library would not).
    /// </summary>
    int SendWindow { get; }

    /// <summary>Completes with the reason once the connection has ended, for whatever cause.</summary>
    Task<string> Closed { get; }

    /// <summary>Received messages, in arrival order, at most the configured payload size each.</summary>
    IAsyncEnumerable<MqttMessage> ReadMessagesAsync(CancellationToken cancellationToken);

    /// <summary>Connects and waits for the broker's CONNACK. Throws <see cref="MqttException"/> when refused or unreachable.</summary>
    Task ConnectAsync(CancellationToken cancellationToken);

    /// <summary>Subscribes with QoS 1 and waits for the SUBACK.</summary>
    Task SubscribeAsync(string topicFilter, CancellationToken cancellationToken);

    /// <summary>
    /// Publishes with QoS 1; the task completes when the broker's PUBACK arrives. Throws
    /// <see cref="MqttException"/> at once when not connected (nothing is queued), and
    /// <see cref="MqttRefusedException"/> when the broker answers with a failure reason code.
    /// </summary>
    Task PublishAsync(string topic, ReadOnlyMemory<byte> payload, bool retain, CancellationToken cancellationToken);

    /// <summary>Ends the connection cleanly (DISCONNECT: the broker drops the will) and waits until it is closed.</summary>
    Task DisconnectAsync(CancellationToken cancellationToken);
}

/// <summary>The connection failed, is not connected, or ended before an acknowledgement arrived.</summary>
public class MqttException(string message) : Exception(message);

/// <summary>The broker answered with an MQTT v5 failure reason code (0x80 or above).</summary>
public sealed class MqttRefusedException(int reasonCode, string message) : MqttException(message)
{
    public int ReasonCode { get; } = reasonCode;
}
