using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;

// READY=1 through the systemd lifetime even when the parent is not systemd (the bench plays systemd).
var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddSingleton<ISystemdNotifier, SystemdNotifier>();
builder.Services.AddSingleton<IHostLifetime, SystemdLifetime>();
builder.Services.AddHostedService<Tick>();
builder.Build().Run();

/// <summary>One 2 Hz timer, as the agent's health reading.</summary>
internal sealed class Tick : BackgroundService
{
    public long Count { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            Count++;
        }
    }
}
