using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.State;
using HomeUnit.Mqtt;
using HomeUnit.Drivers;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Provisioning;

/// <summary>
/// Takes a unit out of service without taking the wrong one: the installer types the unit's id back,
/// sees its last nights (a unit that still has checks is someone's), the hardware goes to the safe
/// state, the centre is told (<c>unit.decommissioned</c>, an audit record with its event, delivered
/// before anything is erased), and only then are keys and state erased. A unit that cannot reach the
/// central, or whose records have not all been delivered, is not erased unless forced. Nothing happens while the
/// service runs (<paramref name="serviceRunning"/>): it would move the hardware after the safe state and share the unit's MQTT identity.
/// </summary>
public sealed class Decommissioner(AgentOptions options, UnitHardware hardware, IReadOnlyList<string> erase, TextWriter output, ILoggerFactory loggers, Func<bool> serviceRunning)
{
    public const int NightsShown = 7;

    public async Task<int> RunAsync(string typedDeviceId, bool force, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (typedDeviceId != options.DeviceId)
        {
            output.WriteLine($"homeunit decommission: --device-id '{typedDeviceId}' is not this unit ('{options.DeviceId}'); nothing was changed.");
            return Program.ExitFailed;
        }
        if (serviceRunning())
        {
            output.WriteLine("homeunit decommission: the homeunit service is running; stop it first (sudo systemctl disable --now homeunit). Nothing was changed.");
            return Program.ExitFailed;
        }
        var hasState = File.Exists(Path.Combine(options.State.Directory, StateDatabase.FileName));
        var database = hasState ? new StateDatabase(options.State.Directory, options.Mqtt.OutboxCapacity) : null;
        if (database is not null)
        {
            output.WriteLine($"The last nights of {options.DeviceId}:");
            AuditCli.Nights(database, output, NightsShown);
        }
        foreach (var fault in await hardware.DriveSafeStateAsync())
        {
            output.WriteLine($"safe state: {fault}");
        }
        if (database is not null && !await TellCentralAsync(database, wait, cancellationToken) && !force)
        {
            output.WriteLine("Nothing was erased. Connect the unit and try again, or export the records (`homeunit audit list --json`) and use --force.");
            return Program.ExitFailed;
        }
        var erased = new List<string>();
        foreach (var path in erase.Where(Directory.Exists))
        {
            Directory.Delete(path, recursive: true);
            erased.Add(path);
        }
        output.WriteLine(erased.Count == 0
            ? "nothing to erase."
            : $"erased {string.Join(", ", erased)}; the unit is in the safe state (lens up, IR off, red).");
        return Program.ExitOk;
    }

    /// <summary>Connects, delivers what is pending, then <c>unit.decommissioned</c>. False if the central could not be reached or not everything arrived.</summary>
    private async Task<bool> TellCentralAsync(StateDatabase database, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (options.Mqtt.Validate() is { Count: > 0 } problems)
        {
            output.WriteLine($"homeunit decommission: the central cannot be told: {string.Join("; ", problems)}");
            return false;
        }
        var outbox = new Outbox(database);
        var events = new Events(database, TimeProvider.System, loggers.CreateLogger<Events>());
        var audit = new AuditLog(database, options.DeviceId, TimeProvider.System);
        using var link = new LinkService(options.Mqtt, options.DeviceId, outbox, events, new HealthState(), new LoopHeartbeats(), TimeProvider.System, loggers);
        await link.StartAsync(cancellationToken);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(wait);
            if (!await Until(() => link.Status.State == LinkState.Online && outbox.Count() == 0, deadline.Token))
            {
                output.WriteLine($"homeunit decommission: the central was not reached, or {outbox.Count()} records were not delivered, within {wait.TotalSeconds:0} s.");
                return false;
            }
            var nights = audit.OfTypes(AuditType.NightSummary).TakeLast(NightsShown).Select(r => new { night = r.Night, summary = r.Summary }).ToList();
            audit.Append(new AuditRecord { Type = AuditType.UnitDecommissioned },
                new AuditLog.AlongEvent(events, EventType.UnitDecommissioned, Severity.Warning, new { device = options.DeviceId, nights }));
            if (!await Until(() => outbox.Count() == 0, deadline.Token))
            {
                output.WriteLine("homeunit decommission: unit.decommissioned was not delivered in time.");
                return false;
            }
            output.WriteLine("the central has been told: unit.decommissioned delivered.");
            return true;
        }
        finally
        {
            await link.StopAsync(CancellationToken.None);
        }
    }

    private static async Task<bool> Until(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return condition();
            }
        }
        return true;
    }
}
