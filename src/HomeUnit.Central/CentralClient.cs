using System.Text;
using HomeUnit.Mqtt;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Central;

/// <summary>Where the central's broker is, and the central's mTLS files (all null: plain TCP).</summary>
public sealed record BrokerAddress(string Host, int Port, string? CaFile = null, string? CertFile = null, string? KeyFile = null)
{
    public override string ToString() => $"{Host}:{Port}";
}

/// <summary>
/// The central's side of the broker, for the tool's verbs, the demo and tests: a persistent session that
/// reconnects by itself (so it survives broker restarts) and, unless told not to, keeps every message it receives.
/// </summary>
public sealed class CentralClient : IAsyncDisposable
{
    /// <summary>How long connecting, or a publish waiting for the connection to come back, may take.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(20);

    private readonly MqttOptions options;
    private readonly string clientId;
    private readonly string[] filters;
    private readonly ILogger log;
    private readonly bool keepMessages;
    private readonly List<MqttMessage> received = [];
    private readonly CancellationTokenSource stop = new();
    private readonly TaskCompletionSource subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task loop;
    private volatile IMqttConnection? current;
    private volatile string? lastError;

    private CentralClient(MqttOptions options, string clientId, string[] filters, ILogger log, bool keepMessages)
    {
        this.options = options;
        this.keepMessages = keepMessages;
        this.clientId = clientId;
        this.filters = filters;
        this.log = log;
        loop = Task.Run(RunAsync);
    }

    /// <summary>Connects to <paramref name="broker"/> as the central's tools do: a quick reconnect, a short keepalive.</summary>
    public static Task<CentralClient> ConnectAsync(BrokerAddress broker, string[] filters, string clientId, bool keepMessages, TimeSpan? timeout = null) =>
        ConnectAsync(new MqttOptions
        {
            Host = broker.Host,
            Port = broker.Port,
            CaFile = broker.CaFile,
            CertFile = broker.CertFile,
            KeyFile = broker.KeyFile,
            AllowInsecure = broker.CaFile is null,
            KeepAliveSeconds = 10,
            ReconnectMaxSeconds = 2,
            ConnectTimeoutSeconds = 10,
        }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, filters, clientId, keepMessages, timeout);

    /// <summary>Connects and returns once its subscriptions are in place (a <see cref="TimeoutException"/> if the broker cannot be reached in time).</summary>
    public static async Task<CentralClient> ConnectAsync(MqttOptions options, ILogger log, string[] filters, string clientId = "central", bool keepMessages = true, TimeSpan? timeout = null)
    {
        var central = new CentralClient(options, clientId, filters, log, keepMessages);
        try
        {
            await central.subscribed.Task.WaitAsync(timeout ?? ConnectTimeout);
        }
        catch (TimeoutException)
        {
            await central.DisposeAsync();
            throw new TimeoutException($"the broker {options.Host}:{options.EffectivePort} could not be reached as {clientId}{(central.lastError is { } e ? $": {e}" : "")}");
        }
        return central;
    }

    public IReadOnlyList<MqttMessage> Messages
    {
        get { lock (received) return [.. received]; }
    }

    /// <summary>Raised for each message as it arrives (on the client's thread: do not block).</summary>
    public event Action<MqttMessage>? Received;

    /// <summary>Payloads (UTF-8) of the messages received on <paramref name="topic"/>, in arrival order.</summary>
    public IReadOnlyList<string> Payloads(string topic) =>
        Messages.Where(m => m.Topic == topic).Select(m => Encoding.UTF8.GetString(m.Payload)).ToList();

    public Task PublishAsync(string topic, string payload, bool retain = false) => PublishAsync(topic, Encoding.UTF8.GetBytes(payload), retain);

    public async Task PublishAsync(string topic, byte[] payload, bool retain = false)
    {
        var connection = await ConnectedAsync();
        await connection.PublishAsync(topic, payload, retain, CancellationToken.None);
    }

    /// <summary>The connection, once it is up again: the broker may be restarting.</summary>
    private async Task<IMqttConnection> ConnectedAsync()
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            if (current is { State: MqttConnectionState.Connected } connection)
            {
                return connection;
            }
            if (waited.Elapsed > ConnectTimeout)
            {
                throw new TimeoutException($"the broker {options.Host}:{options.EffectivePort} has not answered for {ConnectTimeout.TotalSeconds:0} s{(lastError is { } e ? $": {e}" : "")}");
            }
            await Task.Delay(20, stop.Token);
        }
    }

    /// <summary>As <see cref="PublishAsync(string, string, bool)"/>, for the tool's verbs: a refusal or a dropped connection is an <see cref="IOException"/>.</summary>
    public async Task DeliverAsync(string topic, string payload, bool retain)
    {
        try
        {
            await PublishAsync(topic, payload, retain);
        }
        catch (MqttException e)
        {
            throw new IOException($"publishing on {topic} failed: {e.Message}", e);
        }
    }

    private async Task RunAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = new MqttConnection(options, options.Broker, clientId, null, log);
                await connection.ConnectAsync(stop.Token);
                foreach (var filter in filters)
                {
                    await connection.SubscribeAsync(filter, stop.Token);
                }
                current = connection;
                subscribed.TrySetResult();
                await foreach (var message in connection.ReadMessagesAsync(stop.Token))
                {
                    if (keepMessages)
                    {
                        lock (received)
                        {
                            received.Add(message);
                        }
                    }
                    try
                    {
                        Received?.Invoke(message);
                    }
                    catch (Exception e)
                    {
                        log.LogWarning("a handler failed on a message on {Topic}: {Error}", message.Topic, e.Message);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (MqttException e)
            {
                // The broker is away: try again shortly.
                lastError = e.Message;
            }
            try
            {
                await Task.Delay(200, stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await loop;
        stop.Dispose();
    }
}
