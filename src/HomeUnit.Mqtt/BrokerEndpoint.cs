namespace HomeUnit.Mqtt;

/// <summary>One broker to connect to. With TLS its certificate must name <see cref="Host"/>.</summary>
public sealed record BrokerEndpoint(string Host, int Port)
{
    public override string ToString() => $"{Host}:{Port}";
}
