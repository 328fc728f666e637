using HomeUnit.Agent.Grants;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Agent.Health;

/// <summary>Where the health checks look, and how much free space storage needs.</summary>
public sealed record HealthSettings(string StateDirectory, string CameraDevice, long MinFreeBytes);

/// <summary>
/// One reading of every part the centre relies on. Each check answers null (fine) or what is wrong,
/// and never moves anything: a self-test at night must not turn the lens or light the IR.
/// </summary>
public sealed class HealthChecks(UnitHardware hardware, ClockTrust clockTrust, HealthSettings settings)
{
    private readonly object gate = new();

    /// <summary>Reads every part; one reading at a time (the monitor and a self-test may ask together).</summary>
    public IReadOnlyDictionary<string, string?> ReadAll()
    {
        lock (gate)
        {
            return Read();
        }
    }

    private Dictionary<string, string?> Read() => new()
    {
        [Faults.PowerLost] = Check(() => hardware.Power.MainsOnline ? null : "on battery: mains power is off"),
        [Faults.Undervoltage] = Check(() => hardware.Power.Undervoltage ? "supply voltage below what the Pi needs" : null),
        [Faults.Camera] = Check(Camera),
        [Faults.Servo] = Check(() => hardware.Servo.Channel.Writable ? null : $"{hardware.Servo.Channel.ChipDirectory} is not writable"),
        [Faults.Light] = Check(Lights),
        [Faults.Clock] = clockTrust.IsSynchronized ? null : "the clock is not synchronised (no NTP)",
        [Faults.Storage] = Check(Storage),
    };

    private string? Camera() =>
        hardware.Files.Exists(settings.CameraDevice) ? null : $"{settings.CameraDevice} is missing";

    private string? Lights()
    {
        var devices = hardware.Light.Devices.Append(hardware.Ir.Device);
        var broken = devices.Where(led => !led.Present || !led.Writable).Select(led => led.Label).ToList();
        return broken.Count == 0 ? null : $"LED not writable: {string.Join(", ", broken)}";
    }

    /// <summary>Writes, syncs and deletes a small file in the state directory, and checks free space.</summary>
    private string? Storage()
    {
        var probe = Path.Combine(settings.StateDirectory, ".health-probe");
        try
        {
            using (var stream = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough))
            {
                stream.WriteByte(1);
                stream.Flush(flushToDisk: true);
            }
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"the state directory is not writable: {e.Message}";
        }
        var free = new DriveInfo(settings.StateDirectory).AvailableFreeSpace;
        return free < settings.MinFreeBytes ? $"only {free / (1024 * 1024)} MiB free in the state directory" : null;
    }

    private static string? Check(Func<string?> check)
    {
        try
        {
            return check();
        }
        catch (HardwareFault e)
        {
            return e.Message;
        }
    }
}
