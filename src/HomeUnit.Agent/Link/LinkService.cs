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
/// With several brokers (<c>Mqtt:Brokers</c>) the <see cref="PathSelector"/> decides which one the
/// supervisor keeps a connection to: the next after <c>Mqtt:FailoverSeconds</c> unreachable, the first
/// again once it has answered probes for <c>Mqtt:ReturnAfterSeconds</c>. Each connection has its own
/// will on its own broker; the outbox drains, in order, to whichever is connected.
/// </summary>
public sealed class LinkService : BackgroundService
{
    private const string DrainLoop = nameof(OutboxDrain);
    private static readonly TimeSpan PathCheck = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ShutdownBudget = TimeSpan.FromSeconds(5);

    private readonly MqttOptions options;
    private readonly string deviceId;
    private readonly IReadOnlyList<BrokerEndpoint> brokers;
    private readonly PathSelector paths;
    private readonly ILogger<MqttConnection> connectionLog;
    private ConnectionSupervisor supervisor;
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
        this.options = options;
        this.deviceId = deviceId;
        this.events = events;
        this.heartbeats = heartbeats;
        this.clock = clock;
        log = loggers.CreateLogger<LinkService>();
        presence = new Presence(deviceId, health, supervision, clock, log);
        drain = new OutboxDrain(deviceId, outbox, events, clock, log);
        inbound = new InboundFilter(deviceId, log);
        connectionLog = loggers.CreateLogger<MqttConnection>();
        brokers = options.BrokerList;
        paths = new PathSelector(brokers.Count, TimeSpan.FromSeconds(options.FailoverSeconds), TimeSpan.FromSeconds(options.ReturnAfterSeconds), clock);
        supervisor = Supervise(brokers[0]);
    }

    public LinkStatus Status => Volatile.Read(ref supervisor).Status;

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
            while (!stopping.IsCancellationRequested)
            {
                using var onThisPath = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                var path = Volatile.Read(ref supervisor);
                presence.Path = path.Broker.ToString();
                var running = path.RunAsync(SetUpAsync, ServeAsync, Turned, onThisPath.Token);
                if (brokers.Count > 1)
                {
                    await WatchPathAsync(path, running, onThisPath, stopping);
                }
                await running;
                if (!stopping.IsCancellationRequested)
                {
                    Volatile.Write(ref supervisor, Supervise(brokers[paths.Current]));
                }
            }
        }
        finally
        {
            heartbeats.Forget(nameof(LinkService));
        }
    }

    private ConnectionSupervisor Supervise(BrokerEndpoint broker) => new(options, broker, deviceId, presence.Will, clock, connectionLog);

    /// <summary>
    /// Watches the path in use until it is time to leave it (then ends its connection, saying goodbye
    /// if it is up) or the service stops: reports to the <see cref="PathSelector"/> what the supervisor
    /// sees, and while on another path probes the first broker.
    /// </summary>
    private async Task WatchPathAsync(ConnectionSupervisor path, Task running, CancellationTokenSource onThisPath, CancellationToken stopping)
    {
        var nextProbe = clock.GetUtcNow();
        while (!running.IsCompleted && !stopping.IsCancellationRequested)
        {
            try
            {
                await Task.WhenAny(running, Task.Delay(PathCheck, clock, stopping));
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var online = path.Status.State == LinkState.Online;
            if (online)
            {
                paths.Connected();
            }
            else
            {
                paths.Unreachable();
            }
            var from = path.Broker;
            if (paths.MoveOnIfDue())
            {
                log.LogWarning("broker {From} unreachable for {Seconds} s: moving to {To}", from, options.FailoverSeconds, brokers[paths.Current]);
            }
            else if (online && paths.ProbingFirst && clock.GetUtcNow() >= nextProbe)
            {
                nextProbe = clock.GetUtcNow() + ProbeInterval;
                paths.FirstAnswered(await AnswersAsync(brokers[0], stopping));
                if (!paths.ReturnIfDue())
                {
                    continue;
                }
                log.LogInformation("broker {First} has answered for {Seconds} s: returning to it from {From}", brokers[0], options.ReturnAfterSeconds, from);
            }
            else
            {
                continue;
            }
            await onThisPath.CancelAsync();
            return;
        }
    }

    /// <summary>Whether the broker accepts a TCP connection (a probe that touches no MQTT session).</summary>
    private async Task<bool> AnswersAsync(BrokerEndpoint broker, CancellationToken stopping)
    {
        using var probe = new System.Net.Sockets.TcpClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(ProbeInterval);
        try
        {
            await probe.ConnectAsync(broker.Host, broker.Port, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return false;
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
                events.Raise(EventType.LinkRestored, Severity.Info, new { downSeconds = Math.Round((since - lost).TotalSeconds, 1), lostAt = Wire.Time(lost), path = presence.Path });
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
        // Not tied to this connection: what the unit has acknowledged is handed on after it ends too.
        var handingOn = inbound.ReceiveAsync(connection, stopping);
        var work = Task.WhenAll(
            DrainAsync(connection, serving.Token),
            presence.KeepUpToDateAsync(connection, since, serving.Token));
        await ConnectionSupervisor.WhileTurningAsync(Task.WhenAny(connection.Closed, work, Task.Delay(Timeout.Infinite, serving.Token)), Turned);
        await serving.CancelAsync();
        await work;
        if (stopping.IsCancellationRequested)
        {
            await handingOn;
        }
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
