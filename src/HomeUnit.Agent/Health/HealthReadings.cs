using HomeUnit.Agent.Grants;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Protocol;

namespace HomeUnit.Agent.Health;

/// <summary>Where the health checks look, and how much free space storage needs.</summary>
public sealed record HealthSettings(string StateDirectory, string CameraDevice, long MinFreeBytes);

/// <summary>
/// One reading of every part the centre relies on. Each check answers null (fine) or what is wrong,
/// and never moves anything: a self-test at night must not turn the lens or light the IR.
/// </summary>
public sealed partial class HealthReadings(UnitHardware hardware, ClockTrust clockTrust, HealthSettings settings)
{
    private readonly object gate = new();

    /// <summary>Reads every part; one reading at a time (the monitor and a self-test may ask together).</summary>
    public IReadOnlyDictionary<UnitFault, string?> ReadAll()
    {
        lock (gate)
        {
            return Read();
        }
    }

    private Dictionary<UnitFault, string?> Read() => new()
    {
        [UnitFault.PowerLost] = Check(() => hardware.Power.MainsOnline ? null : "on battery: mains power is off"),
        [UnitFault.Undervoltage] = Check(() => hardware.Power.Undervoltage ? "supply voltage below what the Pi needs" : null),
        [UnitFault.Camera] = Check(() => hardware.CameraProblem(settings.CameraDevice)),
        [UnitFault.Servo] = Check(hardware.ServoProblem),
        [UnitFault.Light] = Check(hardware.LightProblem),
        [UnitFault.Clock] = clockTrust.IsSynchronized ? null : "the clock is not synchronised (no NTP)",
        [UnitFault.Storage] = Check(Storage),
    };

    /// <summary>How often storage is proven by a real write: every reading would wear the SD card (an fsync twice a second).</summary>
    public static readonly TimeSpan WriteProbeInterval = TimeSpan.FromMinutes(1);

    private long lastWriteProbe = long.MinValue;
    private string? lastWriteResult;

    /// <summary>
    /// Every reading: the kernel's own answer to "may I write here?" (a read-only mount, a wrong owner,
    /// an immutable directory) and free space. Once a minute: a small file written, synced and deleted.
    /// </summary>
    private string? Storage()
    {
        if (Access(settings.StateDirectory, WriteAccess) != 0)
        {
            return $"the state directory {settings.StateDirectory} is not writable (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})";
        }
        var free = new DriveInfo(settings.StateDirectory).AvailableFreeSpace;
        if (free < settings.MinFreeBytes)
        {
            return $"only {free / (1024 * 1024)} MiB free in the state directory";
        }
        if (System.Diagnostics.Stopwatch.GetElapsedTime(lastWriteProbe) >= WriteProbeInterval)
        {
            lastWriteResult = WriteProbe();
            lastWriteProbe = System.Diagnostics.Stopwatch.GetTimestamp();
        }
        return lastWriteResult;
    }

    private string? WriteProbe()
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
        return null;
    }

    private const int WriteAccess = 2; // W_OK

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "access", SetLastError = true, StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int Access(string path, int mode);

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
