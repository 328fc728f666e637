using System.Text.Json;
using System.Threading.Channels;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Hosting;
using HomeUnit.Mqtt;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Link;

/// <summary>
/// The unit's retained <c>status</c>: <c>online</c> while connected and republished whenever the faults
/// or the central in charge change, <c>offline</c> as the will (the broker publishes it if the connection dies) and before a
/// clean stop (a DISCONNECT makes the broker drop the will, so the unit says it itself).
/// </summary>
public sealed class Presence : IDisposable
{
    private readonly string deviceId;
    private readonly HealthState health;
    private readonly Supervision? supervision;
    private readonly TimeProvider clock;
    private readonly ILogger log;
    private readonly Channel<bool> changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public Presence(string deviceId, HealthState health, Supervision? supervision, TimeProvider clock, ILogger log)
    {
        this.deviceId = deviceId;
        this.health = health;
        this.supervision = supervision;
        this.clock = clock;
        this.log = log;
        health.Changed += OnChanged;
        if (supervision is not null)
        {
            supervision.Changed += OnChanged;
        }
    }

    public void Dispose()
    {
        health.Changed -= OnChanged;
        if (supervision is not null)
        {
            supervision.Changed -= OnChanged;
        }
    }

    private void OnChanged() => changed.Writer.TryWrite(true);

    /// <summary>The retained offline status the broker publishes if this connection dies. Its <c>since</c> is when the connection was made.</summary>
    public MqttWill Will() => new(Topics.For(deviceId, Topics.Status), Payload("offline", clock.GetUtcNow()), Retain: true);

    /// <summary>Publishes <c>online</c> on a new connection; changes before it are covered by it.</summary>
    public Task AnnounceAsync(IMqttConnection connection, DateTimeOffset since, CancellationToken token)
    {
        while (changed.Reader.TryRead(out _))
        {
        }
        return PublishAsync(connection, "online", since, token);
    }

    /// <summary>Republishes <c>online</c> whenever the unit's faults or the central in charge change, until the connection is given up.</summary>
    public async Task KeepUpToDateAsync(IMqttConnection connection, DateTimeOffset since, CancellationToken token)
    {
        try
        {
            await foreach (var _ in changed.Reader.ReadAllAsync(token))
            {
                try
                {
                    await PublishAsync(connection, "online", since, token);
                }
                catch (MqttException e)
                {
                    log.LogWarning("status not published: {Reason}", e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    /// <summary>The clean goodbye's retained <c>offline</c>.</summary>
    public Task SignOffAsync(IMqttConnection connection, CancellationToken token) =>
        PublishAsync(connection, "offline", clock.GetUtcNow(), token);

    private Task PublishAsync(IMqttConnection connection, string state, DateTimeOffset since, CancellationToken token) =>
        connection.PublishAsync(Topics.For(deviceId, Topics.Status), Payload(state, since), retain: true, token);

    private byte[] Payload(string state, DateTimeOffset since)
    {
        var online = state == "online";
        var status = new DeviceStatus(state, AgentVersion.Text, Wire.Time(since), online && health.Ready, online ? health.Faults : [],
            supervision?.Current.Central.Issuer);
        return JsonSerializer.SerializeToUtf8Bytes(status, Wire.Json);
    }
}
