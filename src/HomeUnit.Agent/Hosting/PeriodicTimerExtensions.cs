namespace HomeUnit.Agent.Hosting;

public static class PeriodicTimerExtensions
{
    /// <summary>The next tick; false once the loop is asked to stop (no exception to catch in every loop).</summary>
    public static async Task<bool> NextTickAsync(this PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
