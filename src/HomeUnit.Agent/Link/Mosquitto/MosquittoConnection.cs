using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Link.Mosquitto;

/// <summary>
/// One MQTT v5 connection through libmosquitto. It runs the network loop on its own thread, so
/// the end of that loop (a refused CONNACK, a TLS failure, a lost socket) is always observed
/// rather than dying silently inside the library; it never reconnects by itself.
/// Native callbacks only copy what they are given and post it to a channel; one dispatcher task
/// applies those events (acknowledgements, state, messages) in order.
/// </summary>
public sealed class MosquittoConnection : IMqttConnection
{
    private const int LoopTimeoutMilliseconds = 1000;
    private const int QoS = 1;
    /// <summary>Room for the topic and properties on top of the largest accepted payload.</summary>
    private const int PacketOverheadBytes = 1024;
    /// <summary>MQTT v5 DISCONNECT reason codes: 0 drops the will, 4 asks the broker to publish it.</summary>
    private const int NormalDisconnection = 0;
    private const int DisconnectWithWill = 4;
    private static readonly TimeSpan DisconnectWait = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ThreadExitWait = TimeSpan.FromSeconds(5);

    private readonly MqttOptions options;
    private readonly string clientId;
    private readonly ILogger log;
    private readonly object gate = new();
    private readonly GCHandle self;
    private readonly nint client;
    private readonly Channel<NativeEvent> events = Channel.CreateUnbounded<NativeEvent>(new UnboundedChannelOptions { SingleReader = true });
    /// <summary>Unread messages beyond this are dropped (and logged) rather than stalling acknowledgements.</summary>
    private readonly Channel<MqttMessage> messages = Channel.CreateBounded<MqttMessage>(new BoundedChannelOptions(1024) { SingleWriter = true });
    private readonly Dictionary<int, TaskCompletionSource> publishes = [];
    private readonly Dictionary<int, TaskCompletionSource> subscriptions = [];
    private readonly TaskCompletionSource connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource threadEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MqttConnectionState state = MqttConnectionState.New;
    /// <summary>This object, plus the network thread while it runs: the last one out destroys the native client.</summary>
    private int owners = 1;
    private volatile bool stopRequested;
    private volatile bool closingByClient;
    private bool disposed;
    private string? refusal;
    private string? lastNativeError;

    static MosquittoConnection() => Native.mosquitto_lib_init();

    public MosquittoConnection(MqttOptions options, string clientId, MqttWill? will, ILogger log)
    {
        this.options = options;
        this.clientId = clientId;
        this.log = log;
        self = GCHandle.Alloc(this);
        client = Native.mosquitto_new(clientId, cleanSession: false, GCHandle.ToIntPtr(self));
        if (client == 0)
        {
            self.Free();
            throw new MqttException($"cannot create an MQTT client with id '{clientId}'");
        }
        try
        {
            Configure(will);
        }
        catch
        {
            DestroyNative();
            throw;
        }
        _ = Task.Run(DispatchAsync);
    }

    public MqttConnectionState State
    {
        get { lock (gate) { return state; } }
    }

    public Task<string> Closed => closed.Task;

    public IAsyncEnumerable<MqttMessage> ReadMessagesAsync(CancellationToken cancellationToken) =>
        messages.Reader.ReadAllAsync(cancellationToken);

    private unsafe void Configure(MqttWill? will)
    {
        Check(Native.mosquitto_int_option(client, Native.OptionProtocolVersion, Native.ProtocolV5), "select MQTT v5");
        Check(Native.mosquitto_int_option(client, Native.OptionTcpNoDelay, 1), "set TCP_NODELAY");
        // Publishing from other threads only queues the packet; the network thread writes it.
        Check(Native.mosquitto_threaded_set(client, true), "enable threaded use");
        Native.mosquitto_connect_v5_callback_set(client, &OnConnect);
        Native.mosquitto_disconnect_v5_callback_set(client, &OnDisconnect);
        Native.mosquitto_publish_v5_callback_set(client, &OnPublish);
        Native.mosquitto_message_v5_callback_set(client, &OnMessage);
        Native.mosquitto_subscribe_callback_set(client, &OnSubscribe);
        Native.mosquitto_log_callback_set(client, &OnLog);
        if (options.UsesTls)
        {
            Check(Native.mosquitto_tls_set(client, options.CaFile, null, options.CertFile, options.KeyFile, 0),
                "use the TLS files (Mqtt:CaFile, Mqtt:CertFile, Mqtt:KeyFile must be readable, certificate and key set together)");
        }
        if (will is not null)
        {
            fixed (byte* payload = will.Payload)
            {
                Check(Native.mosquitto_will_set_v5(client, will.Topic, will.Payload.Length, payload, QoS, will.Retain, 0), "set the last will");
            }
        }
    }

    private static void Check(int rc, string what)
    {
        if (rc != Native.Success)
        {
            throw new MqttException($"cannot {what}: {Native.ErrorText(rc)}");
        }
    }

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (state != MqttConnectionState.New || disposed)
            {
                throw new InvalidOperationException("a connection connects once; create a new one");
            }
            state = MqttConnectionState.Connecting;
            owners++;
        }
        new Thread(RunNetwork) { IsBackground = true, Name = $"mqtt {clientId}" }.Start();
        try
        {
            await connected.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            stopRequested = true;
            throw;
        }
    }

    /// <summary>The network thread: connect, then loop until the connection ends or a stop is requested.</summary>
    private void RunNetwork()
    {
        var rc = Native.Success;
        string? systemError = null;
        try
        {
            var properties = nint.Zero;
            try
            {
                Check(Native.mosquitto_property_add_int32(ref properties, Native.PropertySessionExpiryInterval, (uint)options.SessionExpirySeconds), "set the session expiry");
                Check(Native.mosquitto_property_add_int32(ref properties, Native.PropertyMaximumPacketSize, (uint)(options.MaxPayloadBytes + PacketOverheadBytes)), "set the maximum packet size");
                rc = Native.mosquitto_connect_bind_v5(client, options.Host, options.EffectivePort, options.KeepAliveSeconds, 0, properties);
                systemError = rc == Native.ErrErrno ? Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()) : null;
            }
            finally
            {
                Native.mosquitto_property_free_all(ref properties);
            }
            while (rc == Native.Success && !stopRequested)
            {
                rc = Native.mosquitto_loop(client, LoopTimeoutMilliseconds, 1);
                systemError = rc == Native.ErrErrno ? Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()) : null;
            }
            Post(new LoopEnded(rc, systemError, null));
        }
        catch (Exception e)
        {
            Post(new LoopEnded(rc, systemError, e.Message));
        }
        finally
        {
            events.Writer.TryComplete();
            bool last;
            lock (gate)
            {
                last = --owners == 0;
            }
            if (last)
            {
                DestroyNative();
            }
            threadEnded.TrySetResult();
        }
    }

    public unsafe Task PublishAsync(string topic, ReadOnlyMemory<byte> payload, bool retain, CancellationToken cancellationToken)
    {
        var acknowledged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Publish and register under one lock: the dispatcher takes it too, so a PUBACK that
        // arrives before mosquitto_publish_v5 returns is matched only once the mid is registered.
        lock (gate)
        {
            if (state != MqttConnectionState.Connected)
            {
                // Never hand libmosquitto a publish while disconnected: it would keep it in RAM.
                return Task.FromException(new MqttException($"not connected ({state}); nothing was sent"));
            }
            int rc, mid;
            fixed (byte* bytes = payload.Span)
            {
                rc = Native.mosquitto_publish_v5(client, out mid, topic, payload.Length, bytes, QoS, retain, 0);
            }
            if (rc != Native.Success)
            {
                return Task.FromException(new MqttException($"publish to {topic} failed: {Native.ErrorText(rc)}"));
            }
            publishes[mid] = acknowledged;
        }
        return acknowledged.Task.WaitAsync(cancellationToken);
    }

    public Task SubscribeAsync(string topicFilter, CancellationToken cancellationToken)
    {
        var acknowledged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (gate)
        {
            if (state != MqttConnectionState.Connected)
            {
                return Task.FromException(new MqttException($"not connected ({state}); cannot subscribe"));
            }
            var rc = Native.mosquitto_subscribe_v5(client, out var mid, topicFilter, QoS, 0, 0);
            if (rc != Native.Success)
            {
                return Task.FromException(new MqttException($"subscribe to {topicFilter} failed: {Native.ErrorText(rc)}"));
            }
            subscriptions[mid] = acknowledged;
        }
        return acknowledged.Task.WaitAsync(cancellationToken);
    }

    public Task DisconnectAsync(CancellationToken cancellationToken) =>
        DisconnectAsync(NormalDisconnection, cancellationToken);

    private async Task DisconnectAsync(int reasonCode, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (state == MqttConnectionState.New)
            {
                return;
            }
            closingByClient = true;
            if (state == MqttConnectionState.Connected)
            {
                // The loop sends the DISCONNECT and then ends by itself.
                Native.mosquitto_disconnect_v5(client, reasonCode, 0);
            }
            else
            {
                stopRequested = true;
            }
        }
        await closed.Task.WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        bool started;
        lock (gate)
        {
            if (disposed)
            {
                return;
            }
            disposed = true;
            started = state != MqttConnectionState.New;
        }
        if (started)
        {
            try
            {
                await DisconnectAsync(DisconnectWithWill, CancellationToken.None).WaitAsync(DisconnectWait);
            }
            catch (TimeoutException)
            {
                // The loop is told to stop below.
            }
            stopRequested = true;
            try
            {
                await threadEnded.Task.WaitAsync(ThreadExitWait);
            }
            catch (TimeoutException)
            {
                // Stuck in a blocking TCP connect: the thread destroys the client itself when it returns.
                log.LogWarning("MQTT {ClientId}: network thread still connecting; it will release the client when it returns", clientId);
            }
        }
        else
        {
            events.Writer.TryComplete();
            messages.Writer.TryComplete();
            closed.TrySetResult("never connected");
        }
        bool last;
        lock (gate)
        {
            state = MqttConnectionState.Closed;
            FailPending("the connection was disposed");
            last = --owners == 0;
        }
        if (last)
        {
            DestroyNative();
        }
    }

    private void DestroyNative()
    {
        Native.mosquitto_destroy(client);
        self.Free();
    }

    private void Post(NativeEvent nativeEvent) => events.Writer.TryWrite(nativeEvent);

    /// <summary>Applies the native events in the order they happened. Runs until the network thread has ended.</summary>
    private async Task DispatchAsync()
    {
        await foreach (var nativeEvent in events.Reader.ReadAllAsync())
        {
            try
            {
                Apply(nativeEvent);
            }
            catch (Exception e)
            {
                log.LogError(e, "MQTT {ClientId}: failed to handle {Event}", clientId, nativeEvent.GetType().Name);
            }
        }
    }

    private void Apply(NativeEvent nativeEvent)
    {
        switch (nativeEvent)
        {
            case ConnAck { Reason: 0 } ack:
                lock (gate)
                {
                    state = MqttConnectionState.Connected;
                }
                log.LogInformation("MQTT {ClientId}: connected to {Host}:{Port} (session present: {Present})",
                    clientId, options.Host, options.EffectivePort, (ack.Flags & 1) == 1);
                connected.TrySetResult();
                break;
            case ConnAck ack:
                refusal = $"the broker refused the connection: {Native.ReasonText(ack.Reason)}";
                break;
            case Disconnected disconnected:
                lock (gate)
                {
                    state = MqttConnectionState.Closed;
                    FailPending($"the connection ended (code {disconnected.Code}) before the broker acknowledged");
                }
                break;
            case PubAck ack:
                Acknowledge(publishes, ack.Mid, ack.Reason, "publish");
                break;
            case SubAck ack:
                Acknowledge(subscriptions, ack.Mid, ack.Granted.FirstOrDefault(g => g >= 0x80), "subscription");
                break;
            case Received received:
                if (!messages.Writer.TryWrite(received.Message))
                {
                    log.LogWarning("MQTT {ClientId}: inbound queue full, dropped a message on {Topic}", clientId, received.Message.Topic);
                }
                break;
            case Oversized oversized:
                log.LogWarning("MQTT {ClientId}: dropped a {Length}-byte message on {Topic} (limit {Limit} bytes)",
                    clientId, oversized.Length, oversized.Topic, options.MaxPayloadBytes);
                break;
            case NativeLog line:
                lastNativeError = line.Text;
                log.LogDebug("libmosquitto {ClientId}: {Text}", clientId, line.Text);
                break;
            case LoopEnded ended:
                var reason = Describe(ended);
                lock (gate)
                {
                    state = MqttConnectionState.Closed;
                    FailPending(reason);
                }
                messages.Writer.TryComplete();
                // A failed attempt is the caller's to report; the end of an established connection is news.
                log.Log(connected.Task.IsCompletedSuccessfully ? LogLevel.Information : LogLevel.Debug,
                    "MQTT {ClientId}: connection to {Host}:{Port} closed: {Reason}", clientId, options.Host, options.EffectivePort, reason);
                connected.TrySetException(new MqttException(reason));
                closed.TrySetResult(reason);
                break;
        }
    }

    private void Acknowledge(Dictionary<int, TaskCompletionSource> pending, int mid, int reason, string what)
    {
        TaskCompletionSource? waiting;
        lock (gate)
        {
            pending.Remove(mid, out waiting);
        }
        if (reason >= 0x80)
        {
            waiting?.TrySetException(new MqttRefusedException(reason, $"the broker refused the {what}: {Native.ReasonText(reason)}"));
        }
        else
        {
            waiting?.TrySetResult();
        }
    }

    private string Describe(LoopEnded ended)
    {
        if (refusal is not null)
        {
            return refusal;
        }
        if (ended.Exception is not null)
        {
            return ended.Exception;
        }
        if (stopRequested || closingByClient || ended.Rc == Native.Success)
        {
            return "closed by this client";
        }
        var text = ended.Rc == Native.ErrErrno && ended.SystemError is not null ? ended.SystemError : Native.ErrorText(ended.Rc);
        return lastNativeError is null ? text : $"{text} ({lastNativeError})";
    }

    /// <summary>Fails everything awaiting an acknowledgement. Called with <see cref="gate"/> held.</summary>
    private void FailPending(string reason)
    {
        foreach (var waiting in publishes.Values.Concat(subscriptions.Values))
        {
            waiting.TrySetException(new MqttException(reason));
        }
        publishes.Clear();
        subscriptions.Clear();
    }

    private static MosquittoConnection? From(nint userData) => GCHandle.FromIntPtr(userData).Target as MosquittoConnection;

    // The callbacks run on the network thread inside libmosquitto. Each copies what it needs
    // and posts it; none blocks, and no exception may cross back into C.

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnConnect(nint mosq, nint userData, int reason, int flags, nint properties)
    {
        try { From(userData)?.Post(new ConnAck(reason, flags)); }
        catch (Exception) { /* Nothing to report to: the loop's end still closes the connection. */ }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnDisconnect(nint mosq, nint userData, int code, nint properties)
    {
        try { From(userData)?.Post(new Disconnected(code)); }
        catch (Exception) { /* As above. */ }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnPublish(nint mosq, nint userData, int mid, int reason, nint properties)
    {
        try { From(userData)?.Post(new PubAck(mid, reason)); }
        catch (Exception) { /* As above. */ }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnSubscribe(nint mosq, nint userData, int mid, int count, int* granted)
    {
        try { From(userData)?.Post(new SubAck(mid, new ReadOnlySpan<int>(granted, count).ToArray())); }
        catch (Exception) { /* As above. */ }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnMessage(nint mosq, nint userData, Native.Message* message, nint properties)
    {
        try
        {
            if (From(userData) is not { } connection)
            {
                return;
            }
            var topic = Marshal.PtrToStringUTF8(message->Topic) ?? "";
            if (message->PayloadLength > connection.options.MaxPayloadBytes)
            {
                connection.Post(new Oversized(topic, message->PayloadLength));
                return;
            }
            var payload = new ReadOnlySpan<byte>((void*)message->Payload, message->PayloadLength).ToArray();
            connection.Post(new Received(new MqttMessage(topic, payload, message->Retain != 0)));
        }
        catch (Exception) { /* As above. */ }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnLog(nint mosq, nint userData, int level, byte* text)
    {
        try
        {
            if ((level & Native.LogErrorOrWarning) != 0)
            {
                From(userData)?.Post(new NativeLog(Marshal.PtrToStringUTF8((nint)text) ?? ""));
            }
        }
        catch (Exception) { /* As above. */ }
    }

    private abstract record NativeEvent;
    private sealed record ConnAck(int Reason, int Flags) : NativeEvent;
    private sealed record Disconnected(int Code) : NativeEvent;
    private sealed record PubAck(int Mid, int Reason) : NativeEvent;
    private sealed record SubAck(int Mid, int[] Granted) : NativeEvent;
    private sealed record Received(MqttMessage Message) : NativeEvent;
    private sealed record Oversized(string Topic, int Length) : NativeEvent;
    private sealed record NativeLog(string Text) : NativeEvent;
    private sealed record LoopEnded(int Rc, string? SystemError, string? Exception) : NativeEvent;
}
