using System.Buffers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;

namespace HomeUnit.Mqtt;

/// <summary>
/// One MQTT v5 connection through MQTTnet. The library reports failures as results as often as
/// exceptions (a refused CONNACK, a PUBACK with a failure reason), pings only when nothing was sent
/// and never reconnects; this class turns all of that into the plain contract of
/// <see cref="IMqttConnection"/>: every failure is an <see cref="MqttException"/> with a reason, and
/// a broker that stops answering ends the connection.
/// </summary>
public sealed class MqttConnection : IMqttConnection
{
    /// <summary>Room for the topic and properties on top of the largest accepted payload.</summary>
    private const int PacketOverheadBytes = 1024;
    /// <summary>MQTT v5: a CONNACK without Receive Maximum means 65 535.</summary>
    private const int DefaultReceiveMaximum = 65_535;
    private static readonly TimeSpan DisconnectWait = TimeSpan.FromSeconds(2);

    private readonly MqttOptions options;
    private readonly BrokerEndpoint broker;
    private readonly string clientId;
    private readonly MqttWill? will;
    private readonly ILogger log;
    private readonly IMqttClient client = new MqttClientFactory().CreateMqttClient();
    private readonly object gate = new();
    /// <summary>Received, not yet read. Bounded: a reader that falls behind slows the broker down (see <see cref="OnMessageAsync"/>).</summary>
    private readonly Channel<MqttMessage> messages = Channel.CreateBounded<MqttMessage>(new BoundedChannelOptions(1024) { SingleWriter = true });
    private readonly TaskCompletionSource<string> closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource alive = new();
    private MqttConnectionState state = MqttConnectionState.New;
    private int sendWindow = 1;
    private bool closingByClient;
    private bool disposed;
    /// <summary>Why the connection was ended from here (a silent broker), or why TLS refused the broker.</summary>
    private string? failure;

    public MqttConnection(MqttOptions options, BrokerEndpoint broker, string clientId, MqttWill? will, ILogger log)
    {
        this.options = options;
        this.broker = broker;
        this.clientId = clientId;
        this.will = will;
        this.log = log;
        client.ApplicationMessageReceivedAsync += OnMessageAsync;
        client.DisconnectedAsync += OnDisconnectedAsync;
    }

    /// <summary>Closed as soon as MQTTnet knows, even before its disconnection event has run here.</summary>
    public MqttConnectionState State
    {
        get
        {
            lock (gate)
            {
                return state == MqttConnectionState.Connected && !client.IsConnected ? MqttConnectionState.Closed : state;
            }
        }
    }

    public int SendWindow => Volatile.Read(ref sendWindow);

    public Task<string> Closed => closed.Task;

    public IAsyncEnumerable<MqttMessage> ReadMessagesAsync(CancellationToken cancellationToken) =>
        messages.Reader.ReadAllAsync(cancellationToken);

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (state != MqttConnectionState.New || disposed)
            {
                throw new InvalidOperationException("a connection connects once; create a new one");
            }
            state = MqttConnectionState.Connecting;
        }
        MqttClientConnectResult result;
        try
        {
            result = await client.ConnectAsync(ClientOptions(), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Close("the connection attempt was abandoned");
            throw;
        }
        catch (Exception e)
        {
            var reason = Volatile.Read(ref failure) ?? Describe(e);
            Close(reason);
            throw new MqttException(reason);
        }
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            var reason = $"the broker refused the connection: {ReasonCodes.Text((int)result.ResultCode)}";
            Close(reason);
            throw new MqttRefusedException((int)result.ResultCode, reason);
        }
        Volatile.Write(ref sendWindow, result.ReceiveMaximum is > 0 and var max ? max : DefaultReceiveMaximum);
        lock (gate)
        {
            if (state != MqttConnectionState.Connecting)
            {
                throw new MqttException(closed.Task.IsCompleted ? closed.Task.Result : "the connection ended while connecting");
            }
            state = MqttConnectionState.Connected;
        }
        log.LogInformation("MQTT {ClientId}: connected to {Broker} (session present: {Present}, receive maximum {Window})",
            clientId, broker, result.IsSessionPresent, SendWindow);
        _ = WatchBrokerAsync(alive.Token);
    }

    private MqttClientOptions ClientOptions()
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(broker.Host, broker.Port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(clientId)
            .WithCleanStart(false)
            .WithSessionExpiryInterval((uint)options.SessionExpirySeconds)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(options.KeepAliveSeconds))
            .WithTimeout(TimeSpan.FromSeconds(options.ConnectTimeoutSeconds))
            // The broker drops larger messages for us; OnMessageAsync still checks the payload itself.
            .WithMaximumPacketSize((uint)(options.MaxPayloadBytes + PacketOverheadBytes));
        if (will is not null)
        {
            builder.WithWillTopic(will.Topic)
                .WithWillPayload(will.Payload)
                .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithWillRetain(will.Retain);
        }
        if (options.UsesTls)
        {
            builder.WithTlsOptions(Tls());
        }
        return builder.Build();
    }

    /// <summary>mTLS from the PEM files: trust only the configured CA, and the broker's certificate must name the host.</summary>
    private MqttClientTlsOptions Tls()
    {
        X509Certificate2Collection authority = [];
        List<X509Certificate2> certificates = [];
        try
        {
            // ImportFromPemFile, not CreateFromPemFile: a CA file holds certificates and no key.
            authority.ImportFromPemFile(options.CaFile!);
            // Without a certificate (configuration validation refuses that) the broker's refusal is what tells.
            if (options.CertFile is not null)
            {
                using var pem = X509Certificate2.CreateFromPemFile(options.CertFile, options.KeyFile);
                // A key only in memory cannot be used by TLS on every platform; a PKCS#12 round trip makes it stable.
                certificates.Add(X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new MqttException($"cannot use the TLS files (Mqtt:CaFile, Mqtt:CertFile, Mqtt:KeyFile must be readable PEM, certificate and key a pair): {e.Message}");
        }
        if (authority.Count == 0)
        {
            throw new MqttException($"Mqtt:CaFile holds no certificate: {options.CaFile}");
        }
        return new MqttClientTlsOptionsBuilder()
            .UseTls()
            .WithTargetHost(broker.Host)
            .WithClientCertificates(certificates)
            .WithCertificateValidationHandler(args => Validate(args, authority))
            .Build();
    }

    /// <summary>The only place the reason for refusing the broker's certificate is known: it is kept for the connect error.</summary>
    private bool Validate(MqttClientCertificateValidationEventArgs args, X509Certificate2Collection authority)
    {
        var problem = BrokerCertificate.Problem(args.Certificate, args.Chain, args.SslPolicyErrors, authority, broker.Host);
        if (problem is not null)
        {
            Volatile.Write(ref failure, $"TLS: {problem}");
        }
        return problem is null;
    }

    /// <summary>
    /// Half-open detection. MQTTnet pings only after a keepalive period with nothing sent, so a broker
    /// that freezes while this side keeps publishing is never noticed. Here a ping goes every keepalive
    /// period regardless, and one unanswered for a period ends the connection: a silent broker is
    /// noticed within two periods.
    /// </summary>
    private async Task WatchBrokerAsync(CancellationToken token)
    {
        var period = TimeSpan.FromSeconds(options.KeepAliveSeconds);
        try
        {
            while (true)
            {
                await Task.Delay(period, token);
                using var answer = CancellationTokenSource.CreateLinkedTokenSource(token);
                answer.CancelAfter(period);
                try
                {
                    await client.PingAsync(answer.Token);
                }
                catch (Exception) when (!token.IsCancellationRequested)
                {
                    Abort($"the broker did not answer a ping within {options.KeepAliveSeconds} s");
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The connection ended.
        }
    }

    /// <summary>
    /// Ends a connection whose broker is silent. No DISCONNECT: writes to a frozen broker block, and the
    /// broker should publish the will. Closing the socket fails every publish still awaiting its PUBACK.
    /// </summary>
    private void Abort(string reason)
    {
        Volatile.Write(ref failure, reason);
        log.LogWarning("MQTT {ClientId}: {Reason}; closing the connection", clientId, reason);
        Close(reason);
        client.Dispose();
    }

    public async Task PublishAsync(string topic, ReadOnlyMemory<byte> payload, bool retain, CancellationToken cancellationToken)
    {
        if (State != MqttConnectionState.Connected)
        {
            // Nothing is queued while disconnected: the caller's outbox is the only queue.
            throw new MqttException($"not connected ({State}); nothing was sent");
        }
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(new ReadOnlySequence<byte>(payload))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag(retain)
            .Build();
        MQTTnet.MqttClientPublishResult result;
        try
        {
            // Started in call order: MQTTnet writes packets under a FIFO lock, so records go out in the order asked.
            result = await client.PublishAsync(message, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new MqttException(Failed(e));
        }
        // A PUBACK with a failure reason is a result, not an exception, in MQTTnet.
        if (!result.IsSuccess)
        {
            throw new MqttRefusedException((int)result.ReasonCode, $"the broker refused the publish: {ReasonCodes.Text((int)result.ReasonCode)}");
        }
    }

    public async Task SubscribeAsync(string topicFilter, CancellationToken cancellationToken)
    {
        if (State != MqttConnectionState.Connected)
        {
            throw new MqttException($"not connected ({State}); cannot subscribe");
        }
        MqttClientSubscribeResult result;
        try
        {
            result = await client.SubscribeAsync(
                new MqttClientSubscribeOptionsBuilder().WithTopicFilter(topicFilter, MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new MqttException(Failed(e));
        }
        if (result.Items.FirstOrDefault(i => (int)i.ResultCode >= 0x80) is { } refused)
        {
            throw new MqttRefusedException((int)refused.ResultCode, $"the broker refused the subscription: {ReasonCodes.Text((int)refused.ResultCode)}");
        }
    }

    public Task DisconnectAsync(CancellationToken cancellationToken) =>
        DisconnectAsync(MqttClientDisconnectOptionsReason.NormalDisconnection, cancellationToken);

    /// <summary>0 (normal) makes the broker drop the will; 4 asks it to publish the will.</summary>
    private async Task DisconnectAsync(MqttClientDisconnectOptionsReason reason, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (state is MqttConnectionState.New or MqttConnectionState.Closed)
            {
                return;
            }
            closingByClient = true;
        }
        try
        {
            await client.DisconnectAsync(new MqttClientDisconnectOptions { Reason = reason }, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            Close(Describe(e));
            throw new MqttException($"DISCONNECT not sent: {Describe(e)}");
        }
        Close("closed by this client");
    }

    public async ValueTask DisposeAsync()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }
            disposed = true;
        }
        if (State == MqttConnectionState.Connected)
        {
            try
            {
                using var wait = new CancellationTokenSource(DisconnectWait);
                await DisconnectAsync(MqttClientDisconnectOptionsReason.DisconnectWithWillMessage, wait.Token);
            }
            catch (Exception e) when (e is MqttException or OperationCanceledException)
            {
                // Closing the socket below makes the broker publish the will all the same.
            }
        }
        Close("the connection was disposed");
        client.Dispose();
    }

    /// <summary>
    /// Copies each message for <see cref="ReadMessagesAsync"/>. When the reader falls behind this waits,
    /// which holds back the PUBACK and so, within the broker's in-flight window, the broker: nothing is
    /// dropped for speed. (MQTTnet runs this apart from its receive loop, so acknowledgements of this
    /// side's publishes still arrive meanwhile.)
    /// </summary>
    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs args)
    {
        var message = args.ApplicationMessage;
        if (message.Payload.Length > options.MaxPayloadBytes)
        {
            log.LogWarning("MQTT {ClientId}: dropped a {Length}-byte message on {Topic} (limit {Limit} bytes)",
                clientId, message.Payload.Length, message.Topic, options.MaxPayloadBytes);
            return;
        }
        try
        {
            await messages.Writer.WriteAsync(new MqttMessage(message.Topic, message.Payload.ToArray(), message.Retain), alive.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            // The connection ended; the broker sends the message again on the next one (QoS 1, no PUBACK).
            args.AutoAcknowledge = false;
        }
    }

    private Task OnDisconnectedAsync(MqttClientDisconnectedEventArgs args)
    {
        bool byClient;
        lock (gate)
        {
            byClient = closingByClient;
        }
        string reason;
        if (Volatile.Read(ref failure) is { } known)
        {
            reason = known;
        }
        else if (byClient)
        {
            reason = "closed by this client";
        }
        else if (args.Reason != MqttClientDisconnectReason.NormalDisconnection)
        {
            reason = $"the broker closed the connection: {ReasonCodes.Text((int)args.Reason)}{(args.ReasonString is { Length: > 0 } text ? $" ({text})" : "")}";
        }
        else if (args.Exception is not null)
        {
            reason = Describe(args.Exception);
        }
        else
        {
            // After a broker crash MQTTnet may report a normal disconnection with no exception.
            reason = "the broker closed the connection";
        }
        if (args.ClientWasConnected)
        {
            log.LogInformation("MQTT {ClientId}: connection to {Broker} closed: {Reason}", clientId, broker, reason);
        }
        Close(reason);
        return Task.CompletedTask;
    }

    /// <summary>Ends this connection's life once: no more publishes, no more messages, <see cref="Closed"/> completes.</summary>
    private void Close(string reason)
    {
        lock (gate)
        {
            state = MqttConnectionState.Closed;
        }
        alive.Cancel();
        messages.Writer.TryComplete();
        closed.TrySetResult(reason);
    }

    /// <summary>
    /// Why an operation failed. A transport failure (a broken pipe, a DISCONNECT from the broker) ends
    /// the connection here and now, before MQTTnet's own disconnection event, so no caller sees it as
    /// connected after its publish failed.
    /// </summary>
    private string Failed(Exception e)
    {
        var reason = Ended(e);
        if (e is MQTTnet.Exceptions.MqttCommunicationException or IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            Close(reason);
            client.Dispose();
        }
        return reason;
    }

    /// <summary>Why an operation failed: the connection's end if it has ended, else the library's own words.</summary>
    private string Ended(Exception e) =>
        Volatile.Read(ref failure) ?? (closed.Task.IsCompleted ? $"the connection ended before the broker acknowledged ({closed.Task.Result})" : Describe(e));

    /// <summary>The innermost message: MQTTnet wraps socket and TLS errors in its own exceptions.</summary>
    private static string Describe(Exception e)
    {
        while (e.InnerException is not null && e is not System.Net.Sockets.SocketException)
        {
            e = e.InnerException;
        }
        return e.Message;
    }
}
