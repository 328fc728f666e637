using HomeUnit.Agent.Session;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;
using Microsoft.Extensions.Hosting;

namespace HomeUnit.Agent.Hosting;

/// <summary>
/// Simulation only (<c>run --simulate --look N</c>): one look of N seconds started locally once the
/// agent is up, then the agent stops. Never available on real hardware: there only a signed grant opens the camera (P1).
/// </summary>
public sealed class LocalLook(SessionMachine sessions, TimeSpan length, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource();
        lifetime.ApplicationStarted.Register(started.SetResult);
        await started.Task.WaitAsync(stoppingToken);
        var request = new SessionRequest(
            $"local-{Guid.NewGuid():N}", "local", "installation", LensPosition.Bed, length,
            new StreamTarget("srt://127.0.0.1:9710", "local", "local-simulation-only"));
        if (sessions.TryStart(request) == StartOutcome.Started)
        {
            await sessions.WhenIdleAsync();
        }
        lifetime.StopApplication();
    }
}
