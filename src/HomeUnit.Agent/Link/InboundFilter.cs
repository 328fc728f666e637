using System.Text;
using System.Threading.Channels;
using HomeUnit.Mqtt;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Link;

/// <summary>A message from the central: <see cref="Topic"/> is <c>grant</c>, <c>command</c> or <c>careplan</c>.</summary>
public sealed record InboundMessage(string Topic, string Payload);

/// <summary>
/// What the central may send this unit, checked before anything reads it: only the unit's own
/// <c>grant</c>, <c>command</c> and <c>careplan</c> topics, non-empty, strict UTF-8 (the size limit is
/// the connection's). Bad input is logged — never its content — and dropped.
/// </summary>
public sealed class InboundFilter(string deviceId, ILogger log)
{
    private static readonly string[] Topics = [Protocol.Topics.Grant, Protocol.Topics.Command, Protocol.Topics.CarePlan];
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Channel<InboundMessage> accepted = Channel.CreateBounded<InboundMessage>(64);

    /// <summary>Messages that passed, for the grant, command and care-plan code to route.</summary>
    public ChannelReader<InboundMessage> Accepted => accepted.Reader;

    public IEnumerable<string> Subscriptions => Topics.Select(topic => Protocol.Topics.For(deviceId, topic));

    private Task previous = Task.CompletedTask;

    /// <summary>
    /// Filters one connection's messages until its queue is empty after it ended, or <paramref name="token"/> is
    /// cancelled. The unit has acknowledged what is queued, so the broker will not send it again: it is handed on
    /// even when the connection is gone, and before the next connection's messages (which wait meanwhile).
    /// </summary>
    public Task ReceiveAsync(IMqttConnection connection, CancellationToken token) => previous = ReceiveAfterAsync(previous, connection, token);

    private async Task ReceiveAfterAsync(Task before, IMqttConnection connection, CancellationToken token)
    {
        try
        {
            await before.WaitAsync(token);
            await foreach (var message in connection.ReadMessagesAsync(token))
            {
                if (Check(message) is { } passed)
                {
                    await accepted.Writer.WriteAsync(passed, token);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private InboundMessage? Check(MqttMessage message)
    {
        var prefix = Protocol.Topics.Prefix(deviceId);
        var topic = message.Topic.StartsWith(prefix, StringComparison.Ordinal) ? message.Topic[prefix.Length..] : null;
        if (topic is null || !Topics.Contains(topic))
        {
            log.LogWarning("dropped a message on unexpected topic {Topic}", message.Topic);
            return null;
        }
        if (message.Payload.Length == 0)
        {
            log.LogInformation("ignored an empty {Topic} message (a cleared retained message)", topic);
            return null;
        }
        try
        {
            return new InboundMessage(topic, StrictUtf8.GetString(message.Payload));
        }
        catch (DecoderFallbackException)
        {
            log.LogWarning("dropped a {Length}-byte {Topic} message: not UTF-8", message.Payload.Length, topic);
            return null;
        }
    }
}
