namespace HomeUnit.Tests.Infrastructure;

/// <summary>Waiting on a condition with a deadline: the only way tests synchronise with real processes.</summary>
public static class Wait
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"gave up after {timeout.TotalSeconds:F0} s waiting for {what}");
            }
            await Task.Delay(20);
        }
    }
}
