namespace HomeUnit.Agent.Health;

/// <summary>Names of the faults the unit can have; each keeps the centre from relying on a look.</summary>
public static class Faults
{
    public const string PowerLost = "power";
    public const string Undervoltage = "undervoltage";
    public const string Camera = "camera";
    public const string Servo = "servo";
    public const string Light = "light";
    public const string Clock = "clock";
    public const string Storage = "storage";

    /// <summary>
    /// Faults that end a running look and refuse new ones (as <c>fault</c>): the camera, the lens or the
    /// light cannot be trusted, or a look cannot be audited. On battery, undervoltage or an unsynced clock
    /// (refused by the grant checks as <c>clock-unsynced</c>) a look in progress goes on.
    /// </summary>
    public static bool EndsLook(string fault) => fault is Camera or Servo or Light or Storage;
}

/// <summary>
/// The unit's current faults, kept by the health monitor and read by the retained status, the grant
/// checks (refuse with <c>fault</c>) and the readiness report.
/// </summary>
public sealed class HealthState
{
    private readonly object gate = new();
    private readonly SortedDictionary<string, string> faults = new(StringComparer.Ordinal);

    /// <summary>Raised after the set of faults changed.</summary>
    public event Action? Changed;

    public IReadOnlyList<string> Faults
    {
        get { lock (gate) return [.. faults.Keys]; }
    }

    /// <summary>Ready for a look: no fault that would make the centre send staff instead.</summary>
    public bool Ready
    {
        get { lock (gate) return faults.Count == 0; }
    }

    public bool BlocksLook
    {
        get { lock (gate) return faults.Keys.Any(HomeUnit.Agent.Health.Faults.EndsLook); }
    }

    public string? Detail(string fault)
    {
        lock (gate) return faults.GetValueOrDefault(fault);
    }

    /// <summary>Sets or clears a fault; true if that changed anything.</summary>
    public bool Set(string fault, string? detail)
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
