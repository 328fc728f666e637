namespace HomeUnit.Agent.Link;

/// <summary>
/// What the retained <c>status</c> message says about readiness. Health code updates it; the link
/// republishes <c>status</c> whenever it changes. Not ready until health has said otherwise.
/// </summary>
public sealed class Presence
{
    private readonly object gate = new();
    private PresenceState current = new(false, []);

    /// <summary>Raised after every change, on the updating thread.</summary>
    public event Action? Changed;

    public PresenceState Current
    {
        get { lock (gate) { return current; } }
    }

    public void Update(bool ready, IEnumerable<string> faults)
    {
        var next = new PresenceState(ready, faults.ToArray());
        lock (gate)
        {
            if (current.Ready == next.Ready && current.Faults.SequenceEqual(next.Faults))
            {
                return;
            }
            current = next;
        }
        Changed?.Invoke();
    }
}

public sealed record PresenceState(bool Ready, IReadOnlyList<string> Faults);
