using System.Text;
using HomeUnit.Mqtt;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Central.Simulation;

/// <summary>
/// The central's side of the broker, for the demo and tests: a persistent session that reconnects by
/// itself (so it survives broker restarts) and keeps every message it receives.
/// </summary>
public sealed class CentralClient : IAsyncDisposable
{
    private readonly MqttOptions options;
    private readonly string clientId;
    private readonly string[] filters;
    private readonly ILogger log;
    private readonly List<MqttMessage> received = [];
    private readonly CancellationTokenSource stop = new();
    private readonly TaskCompletionSource subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task loop;
    private volatile IMqttConnection? current;

    private CentralClient(MqttOptions options, string clientId, string[] filters, ILogger log)
    {
        this.options = options;
        this.clientId = clientId;
        this.filters = filters;
        this.log = log;
        loop = Task.Run(RunAsync);
    }

    /// <summary>Connects and returns once its subscriptions are in place.</summary>
    public static async Task<CentralClient> ConnectAsync(MqttOptions options, ILogger log, string[] filters, string clientId = "central")
    {
        var central = new CentralClient(options, clientId, filters, log);
        await central.subscribed.Task.WaitAsync(Eventually.DefaultTimeout);
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

    public Task<MqttMessage> WaitForAsync(Func<MqttMessage, bool> match, string what, TimeSpan? timeout = null) =>
        Eventually.Until(() => Messages.FirstOrDefault(match), what, timeout);

    public Task PublishAsync(string topic, string payload, bool retain = false) => PublishAsync(topic, Encoding.UTF8.GetBytes(payload), retain);

    public async Task PublishAsync(string topic, byte[] payload, bool retain = false)
    {
        var connection = await Eventually.Until(() => current is { State: MqttConnectionState.Connected } c ? c : null, "the central to be connected");
        await connection.PublishAsync(topic, payload, retain, CancellationToken.None);
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
                    lock (received)
                    {
                        received.Add(message);
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
            catch (MqttException)
            {
                // The broker is away: try again shortly.
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
