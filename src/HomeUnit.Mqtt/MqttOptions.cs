namespace HomeUnit.Mqtt;

/// <summary>The link's settings, bound from the configuration section <c>Mqtt</c> (design §6).</summary>
public sealed class MqttOptions
{
    public const string Section = "Mqtt";

    public string Host { get; set; } = "localhost";

    /// <summary>0 means the MQTT default for the transport: 8883 with TLS, 1883 without.</summary>
    public int Port { get; set; }

    /// <summary>
    /// Several brokers, <c>host[:port]</c>, in order of preference (the second path); when set,
    /// <see cref="Host"/> and <see cref="Port"/> are not used. They share the TLS settings below.
    /// </summary>
    public List<string> Brokers { get; set; } = [];

    /// <summary>How long the broker in use may be unreachable before the link moves to the next.</summary>
    public int FailoverSeconds { get; set; } = 60;

    /// <summary>How long the first broker must answer without a miss before the link returns to it (no flapping).</summary>
    public int ReturnAfterSeconds { get; set; } = 60;

    /// <summary>The CA that signed the broker's certificate (PEM).</summary>
    public string? CaFile { get; set; }

    /// <summary>This device's client certificate (PEM); its CN is the device id.</summary>
    public string? CertFile { get; set; }

    /// <summary>The client certificate's private key (PEM, unencrypted, readable only by the agent).</summary>
    public string? KeyFile { get; set; }

    /// <summary>Permits plain TCP (no CA, certificate or key). <c>--simulate</c> sets it by default.</summary>
    public bool AllowInsecure { get; set; }

    public int KeepAliveSeconds { get; set; } = 30;

    /// <summary>How long the broker keeps this device's session (subscriptions, queued messages) while it is away.</summary>
    public int SessionExpirySeconds { get; set; } = 3600;

    /// <summary>Largest inbound payload accepted; larger messages are logged and dropped.</summary>
    public int MaxPayloadBytes { get; set; } = 64 * 1024;

    /// <summary>Most records the outbox holds; beyond it the oldest are dropped and the loss reported.</summary>
    public int OutboxCapacity { get; set; } = 50_000;

    /// <summary>First wait before reconnecting after a failure; doubles up to <see cref="ReconnectMaxSeconds"/>.</summary>
    public int ReconnectMinSeconds { get; set; } = 1;

    public int ReconnectMaxSeconds { get; set; } = 60;

    /// <summary>How long a connection attempt may take, CONNACK included.</summary>
    public int ConnectTimeoutSeconds { get; set; } = 30;

    public bool UsesTls => CaFile is not null || CertFile is not null || KeyFile is not null;

    public int EffectivePort => Port != 0 ? Port : UsesTls ? 8883 : 1883;

    /// <summary>The broker these settings name (the first of <see cref="BrokerList"/>).</summary>
    public BrokerEndpoint Broker => BrokerList[0];

    /// <summary>The brokers in order of preference: <see cref="Brokers"/>, or else the one <see cref="Host"/>.</summary>
    public IReadOnlyList<BrokerEndpoint> BrokerList =>
        Brokers.Count == 0 ? [new BrokerEndpoint(Host, EffectivePort)] : [.. Brokers.Select(b => ParseBroker(b) ?? new BrokerEndpoint(b, EffectivePort))];

    /// <summary>
    /// <c>host</c> or <c>host:port</c> (the default port when absent); null when the host is not a DNS name or
    /// IPv4 address (a URL, or an IPv6 address that the colon would cut) or the port is not one.
    /// </summary>
    private BrokerEndpoint? ParseBroker(string text)
    {
        var at = text.LastIndexOf(':');
        var host = (at < 0 ? text : text[..at]).Trim();
        var port = EffectivePort;
        if (at >= 0 && !int.TryParse(text[(at + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port))
        {
            return null;
        }
        return port is >= 1 and <= 65535 && Uri.CheckHostName(host) is UriHostNameType.Dns or UriHostNameType.IPv4
            ? new BrokerEndpoint(host, port)
            : null;
    }

    /// <summary>Every problem as "Mqtt:Key: what is wrong"; empty when the settings are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Brokers.Count == 0 && string.IsNullOrWhiteSpace(Host))
        {
            errors.Add("Mqtt:Host: is required");
        }
        for (var i = 0; i < Brokers.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(Brokers[i]) || ParseBroker(Brokers[i]) is not { Host.Length: > 0 } broker)
            {
                errors.Add($"Mqtt:Brokers:{i}: '{Brokers[i]}' is not host or host:port");
            }
            else if (BrokerList.Take(i).Contains(broker))
            {
                errors.Add($"Mqtt:Brokers:{i}: {broker} is listed twice");
            }
        }
        RequireRange(errors, nameof(FailoverSeconds), FailoverSeconds, 5, 3600);
        RequireRange(errors, nameof(ReturnAfterSeconds), ReturnAfterSeconds, 5, 3600);
        if (Port is < 0 or > 65535)
        {
            errors.Add($"Mqtt:Port: must be between 1 and 65535, or 0 for the default (was {Port})");
        }
        if (UsesTls)
        {
            RequireFile(errors, nameof(CaFile), CaFile);
            RequireFile(errors, nameof(CertFile), CertFile);
            RequireFile(errors, nameof(KeyFile), KeyFile);
        }
        else if (!AllowInsecure)
        {
            errors.Add("Mqtt:CaFile: mTLS is required (set Mqtt:CaFile, Mqtt:CertFile and Mqtt:KeyFile); plain TCP is allowed only with --simulate or Mqtt:AllowInsecure=true");
        }
        RequireRange(errors, nameof(KeepAliveSeconds), KeepAliveSeconds, 5, 65535);
        RequireRange(errors, nameof(SessionExpirySeconds), SessionExpirySeconds, 0, int.MaxValue);
        RequireRange(errors, nameof(MaxPayloadBytes), MaxPayloadBytes, 1024, 16 * 1024 * 1024);
        RequireRange(errors, nameof(OutboxCapacity), OutboxCapacity, 100, 10_000_000);
        RequireRange(errors, nameof(ReconnectMinSeconds), ReconnectMinSeconds, 1, 3600);
        RequireRange(errors, nameof(ReconnectMaxSeconds), ReconnectMaxSeconds, Math.Max(1, ReconnectMinSeconds), 3600);
        RequireRange(errors, nameof(ConnectTimeoutSeconds), ConnectTimeoutSeconds, 1, 600);
        return errors;
    }

    private static void RequireFile(List<string> errors, string key, string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            errors.Add($"Mqtt:{key}: is required when any of Mqtt:CaFile, Mqtt:CertFile, Mqtt:KeyFile is set (the broker requires mTLS)");
        }
        else if (!File.Exists(path))
        {
            errors.Add($"Mqtt:{key}: file not found: {path}");
        }
    }

    private static void RequireRange(List<string> errors, string key, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add($"Mqtt:{key}: must be between {min} and {max} (was {value})");
        }
    }
}
