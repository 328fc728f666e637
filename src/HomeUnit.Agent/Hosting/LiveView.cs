using HomeUnit.Agent.Session;
using HomeUnit.Drivers;
using HomeUnit.Protocol;
using Microsoft.Extensions.Hosting;
using Spectre.Console;

namespace HomeUnit.Agent.Hosting;

/// <summary>
/// What someone watching a simulated unit sees: the light's colour, where the lens points, IR and
/// capture, read from the hardware timeline (what the drivers actually did), plus the recent events.
/// </summary>
public sealed class LiveView(HardwareTimeline timeline, SessionMachine sessions, Events events) : BackgroundService
{
    private readonly Queue<string> recent = new();
    private readonly Dictionary<string, string> parts = new()
    {
        [Parts.Red] = "?", [Parts.Green] = "?", [Parts.Ir] = "?", [Parts.Servo] = "?", [Parts.Capture] = "off",
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        timeline.Recorded += entry => { lock (parts) parts[entry.Part] = entry.State; };
        // What happened before the view started (the safe state at start-up) shows too.
        foreach (var entry in timeline.Snapshot())
        {
            lock (parts) parts[entry.Part] = entry.State;
        }
        events.Raised += e => { lock (parts) { recent.Enqueue($"{e.At[11..19]} {e.Type.Code()} ({e.Severity.Code()})"); while (recent.Count > 6) recent.Dequeue(); } };
        await AnsiConsole.Live(Render()).StartAsync(async context =>
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                context.UpdateTarget(Render());
                await Task.Delay(100, stoppingToken).ContinueWith(_ => { });
            }
            context.UpdateTarget(Render());
        });
    }

    private Table Render()
    {
        lock (parts)
        {
            var light = (parts[Parts.Green], parts[Parts.Red]) switch
            {
                ("on", "off") => "[black on green]  GREEN — camera on  [/]",
                ("off", "on") => "[white on red]  RED — camera off  [/]",
                ("on", "on") => "[black on yellow]  red+green (changing)  [/]",
                _ => "[white on grey]  dark  [/]",
            };
            var table = new Table().Border(TableBorder.Rounded).Title("[bold]HomeUnit (simulated)[/]").AddColumn("part").AddColumn("state");
            table.AddRow("light", light);
            table.AddRow("lens", Markup.Escape(parts[Parts.Servo]));
            table.AddRow("IR", parts[Parts.Ir]);
            table.AddRow("capture", Markup.Escape(parts[Parts.Capture]));
            table.AddRow("session", sessions.State.ToString());
            table.AddRow("events", Markup.Escape(string.Join("\n", recent)));
            return table;
        }
    }
}
