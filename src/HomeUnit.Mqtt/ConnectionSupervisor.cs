using Microsoft.Extensions.Logging;

namespace HomeUnit.Mqtt;

public enum LinkState
{
    Connecting,
    Online,
    Offline,
}

/// <summary>The link as health sees it: where it is, since when, and why it last failed.</summary>
public sealed record LinkStatus(LinkState State, DateTimeOffset Since, string? LastError);

/// <summary>
/// Keeps one client connected to one broker. MQTTnet 5 has no reconnecting client, so this is it:
/// make a connection, wait for the CONNACK within the connect timeout, let the caller set it up and
/// serve it until it ends, then wait a growing, jittered delay and make a new one. A refused
/// connection's reason stays in <see cref="Status"/>. It turns regularly while it waits (every
/// <see cref="TurnInterval"/>, through <c>turned</c>), so a watchdog sees a long backoff as alive.
/// </summary>
public sealed class ConnectionSupervisor(
    MqttOptions options,
    BrokerEndpoint broker,
    string clientId,
    Func<MqttWill?> will,
    TimeProvider clock,
    ILogger log)
{
    public static readonly TimeSpan TurnInterval = TimeSpan.FromSeconds(1);

    private LinkStatus status = new(LinkState.Connecting, clock.GetUtcNow(), null);

    public BrokerEndpoint Broker => broker;

    public LinkStatus Status => Volatile.Read(ref status);

    /// <summary>
    /// Runs until <paramref name="stopping"/>. <paramref name="setUp"/> runs on each new connection
    /// (subscribe, announce), after which the link counts as online; <paramref name="serve"/> then
    /// runs until the connection ends and returns why (it also says goodbye when stopping).
    /// </summary>
    public async Task RunAsync(
        Func<IMqttConnection, CancellationToken, Task> setUp,
        Func<IMqttConnection, CancellationToken, Task<string>> serve,
        Action turned,
        CancellationToken stopping)
    {
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            turned();
            SetStatus(LinkState.Connecting, Status.LastError);
            string reason;
            try
            {
                await using var connection = new MqttConnection(options, broker, clientId, will(), log);
                await ConnectAsync(connection, turned, stopping);
                await setUp(connection, stopping);
                failures = 0;
                SetStatus(LinkState.Online, null);
                reason = await serve(connection, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // Whatever failed, the answer is the same: a new connection after the backoff.
                reason = e.Message;
            }
            if (stopping.IsCancellationRequested)
            {
                break;
            }
            SetStatus(LinkState.Offline, reason);
            var delay = Backoff(failures++);
            log.LogWarning("link to {Broker} down, next attempt in {Delay:0.0} s: {Reason}", broker, delay.TotalSeconds, reason);
            try
            {
                await WhileTurningAsync(Task.Delay(delay, clock, stopping), turned);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        SetStatus(LinkState.Offline, "stopped");
    }

    private async Task ConnectAsync(IMqttConnection connection, Action turned, CancellationToken stopping)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.ConnectTimeoutSeconds));
        try
        {
            await WhileTurningAsync(connection.ConnectAsync(timeout.Token), turned);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            throw new MqttException($"no answer from {broker} within {options.ConnectTimeoutSeconds} s");
        }
    }

    /// <summary>Awaits a task that is bounded by its own timeout, turning meanwhile so the wait is not taken for a hang.</summary>
    public static async Task WhileTurningAsync(Task task, Action turned)
    {
        while (true)
        {
            try
            {
                // WaitAsync drops its timer when the task completes: no timer outlives a quick acknowledgement.
                await task.WaitAsync(TurnInterval);
                return;
            }
            catch (TimeoutException) when (!task.IsCompleted)
            {
                turned();
            }
        }
    }

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
