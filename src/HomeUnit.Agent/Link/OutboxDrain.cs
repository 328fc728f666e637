using System.Text;
using HomeUnit.Mqtt;
using HomeUnit.Protocol;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Link;

/// <summary>
/// Publishes the outbox in order while connected, removing a record only on its PUBACK. MQTTnet does
/// not resend unacknowledged publishes when a session resumes, so every new connection starts again
/// from the oldest record still stored (a record may then arrive twice; the central drops it by id).
/// </summary>
public sealed class OutboxDrain(string deviceId, Outbox outbox, Events events, TimeProvider clock, ILogger log)
{
    /// <summary>Most records awaiting PUBACK at once, within the broker's Receive Maximum.</summary>
    private const int MaxWindow = 256;
    private static readonly TimeSpan IdlePoll = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RefusedRetry = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Drains until the connection ends or <paramref name="token"/> is cancelled. A storage fault
    /// (health reports it) must not cost the connection: the status, commands and a stop still need
    /// it, so the drain waits and tries the outbox again. <paramref name="turned"/> beats every turn.
    /// </summary>
    public async Task KeepDrainingAsync(IMqttConnection connection, Action turned, CancellationToken token)
    {
        while (!token.IsCancellationRequested && connection.State == MqttConnectionState.Connected)
        {
            try
            {
                await DrainAsync(connection, untilEmpty: false, turned, token);
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
    /// Publishes in order with up to a window of records awaiting PUBACK, topping the window up as
    /// acknowledgements come back (a steady stream, so no Nagle/delayed-ACK stalls), and removes
    /// acknowledged records in batches (a crash between PUBACK and removal only means a duplicate).
    /// The window leaves one place of the broker's Receive Maximum for the status. A record the broker
    /// refuses stays, with those after it, and is retried later: nothing is lost silently.
    /// With <paramref name="untilEmpty"/> it returns once everything stored has been acknowledged.
    /// </summary>
    public async Task DrainAsync(IMqttConnection connection, bool untilEmpty, Action turned, CancellationToken token)
    {
        var window = Math.Clamp(connection.SendWindow - 1, 1, MaxWindow);
        var inFlight = new Queue<(OutboxItem Item, Task Acknowledged)>();
        // Read ahead in large batches, whatever the window: a small Receive Maximum must not mean a query every few records.
        var readAhead = new Queue<OutboxItem>();
        var acknowledged = new List<long>();
        long readThrough = 0;
        var caughtUp = false;
        try
        {
            while (!token.IsCancellationRequested)
            {
                turned();
                if (readAhead.Count == 0 && (inFlight.Count == 0 || !caughtUp))
                {
                    var more = outbox.Peek(MaxWindow, after: readThrough);
                    caughtUp = more.Count < MaxWindow;
                    foreach (var item in more)
                    {
                        readAhead.Enqueue(item);
                        readThrough = item.Seq;
                    }
                }
                while (inFlight.Count < window && readAhead.TryDequeue(out var item))
                {
                    inFlight.Enqueue((item, connection.PublishAsync(Topics.For(deviceId, item.Topic), Encoding.UTF8.GetBytes(item.Payload), retain: false, token)));
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
                // Removal is batched apart from the window: a small Receive Maximum must not mean a commit every few records.
                if (acknowledged.Count >= MaxWindow)
                {
                    Remove(acknowledged);
                }
                try
                {
                    if (!headAcknowledged.IsCompleted)
                    {
                        // Bounded: a broker that stops answering ends the connection, failing the publish.
                        await ConnectionSupervisor.WhileTurningAsync(headAcknowledged, turned);
                    }
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
                    readAhead.Clear();
                    readThrough = 0;
                    await ConnectionSupervisor.WhileTurningAsync(Task.Delay(RefusedRetry, clock, token), turned);
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
}
