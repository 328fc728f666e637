using HomeUnit.Protocol;

namespace HomeUnit.Agent.Health;

/// <summary>Which faults end a look.</summary>
public static class Faults
{
    /// <summary>
    /// The end reason of a look ended by <paramref name="fault"/>, or null if a look in progress goes on:
    /// the camera, the lens or the light cannot be trusted, or a look cannot be audited. Such a fault also
    /// refuses new looks (as <c>fault</c>). On battery, undervoltage or an unsynced clock (refused by the
    /// grant checks as <c>clock-unsynced</c>) a look in progress goes on.
    /// </summary>
    public static EndReason? EndsLook(UnitFault fault) => fault switch
    {
        UnitFault.Camera => EndReason.CameraFault,
        UnitFault.Servo => EndReason.ServoFault,
        UnitFault.Light => EndReason.LightFault,
        UnitFault.Storage => EndReason.StorageFault,
        _ => null,
    };
}

/// <summary>
/// The unit's current faults, kept by the health monitor and read by the retained status, the grant
/// checks (refuse with <c>fault</c>) and the readiness report.
/// </summary>
public sealed class HealthState
{
    private readonly object gate = new();
    private readonly Dictionary<UnitFault, string> faults = [];

    /// <summary>Raised after the set of faults changed.</summary>
    public event Action? Changed;

    public IReadOnlyList<UnitFault> Faults
    {
        get { lock (gate) return [.. faults.Keys.OrderBy(f => f.Code(), StringComparer.Ordinal)]; }
    }

    /// <summary>Ready for a look: no fault that would make the centre send staff instead.</summary>
    public bool Ready
    {
        get { lock (gate) return faults.Count == 0; }
    }

    public bool BlocksLook
    {
        get { lock (gate) return faults.Keys.Any(f => HomeUnit.Agent.Health.Faults.EndsLook(f) is not null); }
    }

    public string? Detail(UnitFault fault)
    {
        lock (gate) return faults.GetValueOrDefault(fault);
    }

    /// <summary>Sets or clears a fault; true if that changed anything.</summary>
    public bool Set(UnitFault fault, string? detail)
    {
        bool changed;
        lock (gate)
        {
            if (detail is null)
            {
                changed = faults.Remove(fault);
            }
            else
            {
                changed = !faults.ContainsKey(fault);
                faults[fault] = detail;
            }
        }
        if (changed)
        {
            Changed?.Invoke();
        }
        return changed;
    }
}
