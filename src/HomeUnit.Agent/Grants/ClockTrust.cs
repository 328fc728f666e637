using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Agent.Grants;

/// <summary>
/// Whether the wall clock can be trusted for care-plan times and grant windows: systemd-timesyncd
/// creates <c>/run/systemd/timesync/synchronized</c> once NTP has synchronised the clock.
/// </summary>
public sealed class ClockTrust(KernelFiles files)
{
    public const string SynchronizedMarker = "run/systemd/timesync/synchronized";

    public bool IsSynchronized => files.Exists(SynchronizedMarker);
}
