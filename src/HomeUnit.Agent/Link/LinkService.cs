using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Link.Mosquitto;
using HomeUnit.Protocol;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Link;

public enum LinkState
{
    Connecting,
    Online,
    Offline,
}

/// <summary>The link as health sees it: where it is, since when, and why it last failed.</summary>
public sealed record LinkStatus(LinkState State, DateTimeOffset Since, string? LastError);

/// <summary>A message from the central: <see cref="Topic"/> is <c>grant</c>, <c>command</c> or <c>careplan</c>.</summary>
public sealed record InboundMessage(string Topic, string Payload);

/// <summary>
/// Keeps the device connected to the central and supervises each connection: it creates the
/// client, notices when the connection is refused or ends (libmosquitto's thread can die quietly
/// after a TLS failure or a refused CONNACK), and makes a new one after a growing, jittered delay.
/// While online it keeps the retained <c>status</c> (faults, readiness, the central in charge) up to date, drains the outbox in order
/// (removing a record only on PUBACK) and hands inbound messages to <see cref="Inbound"/>.
/// </summary>
public sealed class LinkService : BackgroundService
{
    /// <summary>Records published before waiting for their acknowledgements.</summary>
    private const int Window = 256;
    private static readonly TimeSpan IdlePoll = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RefusedRetry = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ShutdownBudget = TimeSpan.FromSeconds(5);
    private static readonly string[] InboundTopics = [Topics.Grant, Topics.Command, Topics.CarePlan];
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly MqttOptions options;
    private readonly string deviceId;
    private readonly Outbox outbox;
    private readonly Events events;
    private readonly HealthState health;
    private readonly Supervision? supervision;
    private readonly TimeProvider clock;
    private readonly ILogger<LinkService> log;
    private readonly ILogger<MosquittoConnection> connectionLog;
    private readonly Channel<InboundMessage> inbound = Channel.CreateBounded<InboundMessage>(64);
    private readonly Channel<bool> statusChanged = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private LinkStatus status;
    private DateTimeOffset? lostAt;

    public LinkService(MqttOptions options, string deviceId, Outbox outbox, Events events, HealthState health, TimeProvider clock, ILoggerFactory loggers,
        Supervision? supervision = null)
    {
        this.supervision = supervision;
        this.options = options;
        this.deviceId = deviceId;
        this.outbox = outbox;
        this.events = events;
        this.health = health;
        this.clock = clock;
        log = loggers.CreateLogger<LinkService>();
        connectionLog = loggers.CreateLogger<MosquittoConnection>();
        status = new LinkStatus(LinkState.Connecting, clock.GetUtcNow(), null);
        health.Changed += OnStatusChanged;
        if (supervision is not null)
        {
            supervision.Changed += OnStatusChanged;
        }
    }

    public LinkStatus Status => Volatile.Read(ref status);

    /// <summary>Messages from the central, for the grant, command and care-plan code to route. Already size- and UTF-8-checked.</summary>
    public ChannelReader<InboundMessage> Inbound => inbound.Reader;

    public override void Dispose()
    {
        health.Changed -= OnStatusChanged;
        if (supervision is not null)
        {
            supervision.Changed -= OnStatusChanged;
        }
        base.Dispose();
    }

    private void OnStatusChanged() => statusChanged.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            SetStatus(LinkState.Connecting, Status.LastError);
            string reason;
            try
            {
                await using var connection = new MosquittoConnection(options, deviceId, Will(), connectionLog);
                await ConnectAsync(connection, stopping);
                failures = 0;
                reason = await ServeAsync(connection, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                reason = e.Message;
            }
            if (stopping.IsCancellationRequested)
            {
                break;
            }
            if (Status.State == LinkState.Online)
            {
                lostAt = clock.GetUtcNow();
            }
            SetStatus(LinkState.Offline, reason);
            var delay = Backoff(failures++);
            log.LogWarning("link to {Host}:{Port} down, next attempt in {Delay:0.0} s: {Reason}", options.Host, options.EffectivePort, delay.TotalSeconds, reason);
            try
            {
                await Task.Delay(delay, clock, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        SetStatus(LinkState.Offline, "stopped");
    }

    private async Task ConnectAsync(IMqttConnection connection, CancellationToken stopping)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.ConnectTimeoutSeconds));
        try
        {
            await connection.ConnectAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            throw new MqttException($"no answer from {options.Host}:{options.EffectivePort} within {options.ConnectTimeoutSeconds} s");
        }
    }

    /// <summary>Runs one established connection until it ends (returns why) or the service stops.</summary>
    private async Task<string> ServeAsync(IMqttConnection connection, CancellationToken stopping)
    {
        var since = clock.GetUtcNow();
        foreach (var topic in InboundTopics)
        {
            await connection.SubscribeAsync(Topics.For(deviceId, topic), stopping);
        }
        while (statusChanged.Reader.TryRead(out _))
        {
            // Older changes are covered by the status published now.
        }
        await PublishStatusAsync(connection, "online", since, stopping);
        SetStatus(LinkState.Online, null);
        if (lostAt is { } lost)
        {
            var down = since - lost;
            try
            {
                events.Raise(EventType.LinkRestored, Severity.Info, new { downSeconds = Math.Round(down.TotalSeconds, 1), lostAt = Wire.Time(lost) });
            }
            catch (SqliteException e)
            {
                log.LogError("link.restored could not be stored: {Error}", e.Message);
            }
            lostAt = null;
        }

        using var serving = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var work = Task.WhenAll(
            KeepDrainingAsync(connection, serving.Token),
            KeepStatusAsync(connection, since, serving.Token),
            ReceiveAsync(connection, serving.Token));
        await Task.WhenAny(connection.Closed, work, Task.Delay(Timeout.Infinite, serving.Token));
        await serving.CancelAsync();
        await work;
        if (stopping.IsCancellationRequested && connection.State == MqttConnectionState.Connected)
        {
            await SayGoodbyeAsync(connection);
            return "stopped";
        }
        return connection.Closed.IsCompleted ? connection.Closed.Result : "the connection ended";
    }

    /// <summary>Clean shutdown: send what is already queued, then the retained offline status, then DISCONNECT.</summary>
    private async Task SayGoodbyeAsync(IMqttConnection connection)
    {
        using var budget = new CancellationTokenSource(ShutdownBudget);
        try
        {
            await DrainAsync(connection, untilEmpty: true, budget.Token);
            await PublishStatusAsync(connection, "offline", clock.GetUtcNow(), budget.Token);
            await connection.DisconnectAsync(budget.Token);
            log.LogInformation("link closed cleanly; status offline published");
        }
        catch (Exception e) when (e is MqttException or OperationCanceledException)
        {
            log.LogWarning("clean shutdown of the link incomplete ({Reason}); the broker publishes the will instead", e.Message);
        }
    }

    /// <summary>
    /// Drains while connected. A storage fault (health reports it) must not cost the connection: the
    /// status, commands and a stop still need it, so the drain waits and tries the outbox again.
    /// </summary>
    private async Task KeepDrainingAsync(IMqttConnection connection, CancellationToken token)
    {
        while (!token.IsCancellationRequested && connection.State == MqttConnectionState.Connected)
        {
            try
            {
                await DrainAsync(connection, untilEmpty: false, token);
                return;
            }
            catch (SqliteException e)
            {
                log.LogError("outbox unreadable ({Error}); the link stays up and tries again", e.Message);
                try
                {
                    await Task.Delay(IdlePoll, clock, token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Publishes the outbox in order with up to <see cref="Window"/> records awaiting PUBACK, topping
    /// the window up as acknowledgements come back (a steady stream, so no Nagle/delayed-ACK stalls),
    /// and removes acknowledged records in batches (a crash between PUBACK and removal only means a
    /// duplicate, which the central drops by id). A record the broker refuses stays, with those
    /// after it, and is retried later: nothing is lost silently. Ends when the connection does.
    /// </summary>
    private async Task DrainAsync(IMqttConnection connection, bool untilEmpty, CancellationToken token)
    {
        var inFlight = new Queue<(OutboxItem Item, Task Acknowledged)>();
        var acknowledged = new List<long>();
        long sentThrough = 0;
        var caughtUp = false;
        try
        {
            while (!token.IsCancellationRequested)
            {
                // Read more when half the window is free, unless the last read already reached the end.
                if (inFlight.Count == 0 || (inFlight.Count <= Window / 2 && !caughtUp))
                {
                    var more = outbox.Peek(Window - inFlight.Count, after: sentThrough);
                    caughtUp = more.Count < Window - inFlight.Count;
                    foreach (var item in more)
                    {
                        inFlight.Enqueue((item, connection.PublishAsync(Topics.For(deviceId, item.Topic), Encoding.UTF8.GetBytes(item.Payload), retain: false, token)));
                        sentThrough = item.Seq;
                    }
                }
                if (inFlight.Count == 0)
                {
                    Remove(acknowledged);
                    if (untilEmpty)
                    {
                        return;
                    }
                    await outbox.WaitForWorkAsync(IdlePoll, token);
                    continue;
                }
                var (head, headAcknowledged) = inFlight.Peek();
                if (acknowledged.Count >= Window)
                {
                    Remove(acknowledged);
                }
                try
                {
                    await headAcknowledged;
                    inFlight.Dequeue();
                    acknowledged.Add(head.Seq);
                }
                catch (MqttException e)
                {
                    Remove(acknowledged);
                    if (connection.State != MqttConnectionState.Connected)
                    {
                        return;
                    }
                    log.LogError("outbox record {Id} ({Topic}) not accepted: {Reason}; retrying in {Delay} s", head.Id, head.Topic, e.Message, RefusedRetry.TotalSeconds);
                    // Start again from the refused record; those after it may go twice (the central drops duplicates by id).
                    inFlight.Clear();
                    sentThrough = 0;
                    await Task.Delay(RefusedRetry, clock, token);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopping or reconnecting: what was not acknowledged stays in the outbox.
        }
        finally
        {
            Remove(acknowledged);
        }
    }

    /// <summary>Deletes acknowledged records; then, with room made, reports any overflow (so the report does not push out a record).</summary>
    private void Remove(List<long> acknowledged)
    {
        if (acknowledged.Count == 0)
        {
            return;
        }
        outbox.Remove(acknowledged);
        acknowledged.Clear();
        if (outbox.TakeDroppedCount() is var dropped and > 0)
        {
            events.Raise(EventType.OutboxOverflow, Severity.Warning, new { dropped });
        }
    }

    /// <summary>Republishes the retained status whenever the unit's faults or the central in charge change.</summary>
    private async Task KeepStatusAsync(IMqttConnection connection, DateTimeOffset since, CancellationToken token)
    {
        try
        {
            await foreach (var _ in statusChanged.Reader.ReadAllAsync(token))
            {
                try
                {
                    await PublishStatusAsync(connection, "online", since, token);
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

    /// <summary>Checks each inbound message and passes it on. Bad input is logged (never its content) and dropped.</summary>
    private async Task ReceiveAsync(IMqttConnection connection, CancellationToken token)
    {
        var prefix = Topics.Prefix(deviceId);
        try
        {
            await foreach (var message in connection.ReadMessagesAsync(token))
            {
                var topic = message.Topic.StartsWith(prefix, StringComparison.Ordinal) ? message.Topic[prefix.Length..] : null;
                if (topic is null || !InboundTopics.Contains(topic))
                {
                    log.LogWarning("dropped a message on unexpected topic {Topic}", message.Topic);
                    continue;
                }
                if (message.Payload.Length == 0)
                {
                    log.LogInformation("ignored an empty {Topic} message (a cleared retained message)", topic);
                    continue;
                }
                string payload;
                try
                {
                    payload = StrictUtf8.GetString(message.Payload);
                }
                catch (DecoderFallbackException)
                {
                    log.LogWarning("dropped a {Length}-byte {Topic} message: not UTF-8", message.Payload.Length, topic);
                    continue;
                }
                await inbound.Writer.WriteAsync(new InboundMessage(topic, payload), token);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private Task PublishStatusAsync(IMqttConnection connection, string state, DateTimeOffset since, CancellationToken token) =>
        connection.PublishAsync(Topics.For(deviceId, Topics.Status), StatusPayload(state, since), retain: true, token);

    private byte[] StatusPayload(string state, DateTimeOffset since)
    {
        var online = state == "online";
        var deviceStatus = new DeviceStatus(state, AgentVersion.Text, Wire.Time(since), online && health.Ready, online ? health.Faults : [],
            supervision?.Current.Central.Issuer);
        return JsonSerializer.SerializeToUtf8Bytes(deviceStatus, Wire.Json);
    }

    /// <summary>The retained offline status the broker publishes if this connection dies. Its <c>since</c> is when the connection was made.</summary>
    private MqttWill Will() => new(Topics.For(deviceId, Topics.Status), StatusPayload("offline", clock.GetUtcNow()), Retain: true);

    /// <summary>Doubles from the minimum up to the maximum, ±20 % so a fleet does not reconnect in step.</summary>
    private TimeSpan Backoff(int failures)
    {
        var seconds = Math.Min(options.ReconnectMaxSeconds, options.ReconnectMinSeconds * Math.Pow(2, Math.Min(failures, 16)));
        return TimeSpan.FromSeconds(seconds * (0.8 + 0.4 * Random.Shared.NextDouble()));
    }

    private void SetStatus(LinkState state, string? lastError)
    {
        var current = Status;
        if (current.State != state || current.LastError != lastError)
        {
            Volatile.Write(ref status, new LinkStatus(state, current.State == state ? current.Since : clock.GetUtcNow(), lastError));
        }
    }
}
