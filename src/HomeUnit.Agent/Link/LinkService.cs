using System.Threading.Channels;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Hosting;
using HomeUnit.Mqtt;
using HomeUnit.Protocol;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Link;

/// <summary>
/// The device's link to the central, put together from its four jobs: the
/// <see cref="ConnectionSupervisor"/> keeps a connection (connect, backoff; the connection itself
/// notices a silent broker), <see cref="Presence"/> keeps the retained status and the will,
/// <see cref="OutboxDrain"/> sends what is stored, and <see cref="InboundFilter"/> checks what
/// arrives. It beats the watchdog heartbeat while it turns, including through long waits that are
/// bounded (a backoff, a connect timeout, a PUBACK on a watched connection).
/// </summary>
public sealed class LinkService : BackgroundService
{
    private const string DrainLoop = nameof(OutboxDrain);
    private static readonly TimeSpan ShutdownBudget = TimeSpan.FromSeconds(5);

    private readonly ConnectionSupervisor supervisor;
    private readonly Presence presence;
    private readonly OutboxDrain drain;
    private readonly InboundFilter inbound;
    private readonly Events events;
    private readonly LoopHeartbeats heartbeats;
    private readonly TimeProvider clock;
    private readonly ILogger<LinkService> log;
    private DateTimeOffset? lostAt;

    public LinkService(MqttOptions options, string deviceId, Outbox outbox, Events events, HealthState health, LoopHeartbeats heartbeats, TimeProvider clock, ILoggerFactory loggers,
        Supervision? supervision = null)
    {
        this.events = events;
        this.heartbeats = heartbeats;
        this.clock = clock;
        log = loggers.CreateLogger<LinkService>();
        presence = new Presence(deviceId, health, supervision, clock, log);
        drain = new OutboxDrain(deviceId, outbox, events, clock, log);
        inbound = new InboundFilter(deviceId, log);
        supervisor = new ConnectionSupervisor(options, options.Broker, deviceId, presence.Will, clock, loggers.CreateLogger<MqttConnection>());
    }

    public LinkStatus Status => supervisor.Status;

    /// <summary>Messages from the central, for the grant, command and care-plan code to route. Already topic-, size- and UTF-8-checked.</summary>
    public ChannelReader<InboundMessage> Inbound => inbound.Accepted;

    public override void Dispose()
    {
        presence.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        try
        {
            await supervisor.RunAsync(SetUpAsync, ServeAsync, Turned, stopping);
        }
        finally
        {
            heartbeats.Forget(nameof(LinkService));
        }
    }

    private void Turned() => heartbeats.Beat(nameof(LinkService));

    /// <summary>A new connection: subscribe, announce online, and say how long the link was down.</summary>
    private async Task SetUpAsync(IMqttConnection connection, CancellationToken stopping)
    {
        foreach (var topic in inbound.Subscriptions)
        {
            await connection.SubscribeAsync(topic, stopping);
        }
        var since = clock.GetUtcNow();
        await presence.AnnounceAsync(connection, since, stopping);
        if (lostAt is { } lost)
        {
            try
            {
                events.Raise(EventType.LinkRestored, Severity.Info, new { downSeconds = Math.Round((since - lost).TotalSeconds, 1), lostAt = Wire.Time(lost) });
            }
            catch (SqliteException e)
            {
                log.LogError("link.restored could not be stored: {Error}", e.Message);
            }
            lostAt = null;
        }
    }

    /// <summary>Runs one established connection until it ends (returns why) or the service stops (says goodbye).</summary>
    private async Task<string> ServeAsync(IMqttConnection connection, CancellationToken stopping)
    {
        var since = clock.GetUtcNow();
        using var serving = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var work = Task.WhenAll(
            DrainAsync(connection, serving.Token),
            presence.KeepUpToDateAsync(connection, since, serving.Token),
            inbound.ReceiveAsync(connection, serving.Token));
        await ConnectionSupervisor.WhileTurningAsync(Task.WhenAny(connection.Closed, work, Task.Delay(Timeout.Infinite, serving.Token)), Turned);
        await serving.CancelAsync();
        await work;
        if (stopping.IsCancellationRequested && connection.State == MqttConnectionState.Connected)
        {
            await SayGoodbyeAsync(connection);
            return "stopped";
        }
        lostAt = clock.GetUtcNow();
        return connection.Closed.IsCompleted ? connection.Closed.Result : "the connection ended";
    }

    private async Task DrainAsync(IMqttConnection connection, CancellationToken token)
    {
        try
        {
            await drain.KeepDrainingAsync(connection, () => heartbeats.Beat(DrainLoop), token);
        }
        finally
        {
            // Not a loop that must turn any more: no connection, nothing to drain.
            heartbeats.Forget(DrainLoop);
        }
    }

    /// <summary>
    /// Clean shutdown: send what is already queued, then the retained offline status, then DISCONNECT.
    /// A plain DISCONNECT makes the broker drop the will, so the offline status must be published here.
    /// </summary>
    private async Task SayGoodbyeAsync(IMqttConnection connection)
    {
        using var budget = new CancellationTokenSource(ShutdownBudget);
        try
        {
            await drain.DrainAsync(connection, untilEmpty: true, Turned, budget.Token);
            await presence.SignOffAsync(connection, budget.Token);
            await connection.DisconnectAsync(budget.Token);
            log.LogInformation("link closed cleanly; status offline published");
        }
        catch (Exception e) when (e is MqttException or OperationCanceledException)
        {
            log.LogWarning("clean shutdown of the link incomplete ({Reason}); the broker publishes the will instead", e.Message);
        }
    }
}
