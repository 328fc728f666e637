using System.Diagnostics;
using HomeUnit.Central;
using HomeUnit.Mqtt;

namespace HomeUnit.TestSupport;

/// <summary>Waits for a condition with a deadline instead of sleeping for a guessed time.</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    public static async Task<T> Until<T>(Func<T?> probe, string what, TimeSpan? timeout = null)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            if (probe() is { } value && (value is not bool b || b))
            {
                return value;
            }
            if (watch.Elapsed > (timeout ?? DefaultTimeout))
            {
                throw new TimeoutException($"timed out after {watch.Elapsed.TotalSeconds:F1} s waiting for {what}");
            }
            await Task.Delay(20);
        }
    }

    public static Task True(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        Until(() => condition() ? (object)true : null, what, timeout);
}

/// <summary>The waits tests and simulations need on the central's client and receiver.</summary>
public static class CentralWaits
{
    public static Task<MqttMessage> WaitForAsync(this CentralClient central, Func<MqttMessage, bool> match, string what, TimeSpan? timeout = null) =>
        Eventually.Until(() => central.Messages.FirstOrDefault(match), what, timeout);

    public static Task WaitForFramesAsync(this SrtReceiver receiver, int count, TimeSpan timeout) =>
        Eventually.True(() => receiver.Frames >= count, $"{count} frames at the receiver", timeout);
}
