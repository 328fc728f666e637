namespace HomeUnit.Agent.Link;

/// <summary>
/// Which of the configured brokers (paths, in order of preference) the link uses. It moves to the
/// next when the one in use has been unreachable for <c>failoverAfter</c> — not at the first lost
/// packet — and back to the first once that has answered continuously for <c>returnAfter</c>, so a
/// broker that comes and goes does not make the unit flap between paths. Pure decisions on a clock:
/// the link reports what it sees and asks what to do.
/// </summary>
public sealed class PathSelector
{
    private readonly int count;
    private readonly TimeSpan failoverAfter;
    private readonly TimeSpan returnAfter;
    private readonly TimeProvider clock;
    private DateTimeOffset? unreachableSince;
    private DateTimeOffset? firstAnsweringSince;

    public PathSelector(int count, TimeSpan failoverAfter, TimeSpan returnAfter, TimeProvider clock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        this.count = count;
        this.failoverAfter = failoverAfter;
        this.returnAfter = returnAfter;
        this.clock = clock;
        unreachableSince = clock.GetUtcNow();
    }

    /// <summary>The index of the broker to use.</summary>
    public int Current { get; private set; }

    /// <summary>The broker in use answered (the connection is up).</summary>
    public void Connected() => unreachableSince = null;

    /// <summary>The broker in use did not answer, or the connection to it ended. Its unreachable time starts now unless it already runs.</summary>
    public void Unreachable() => unreachableSince ??= clock.GetUtcNow();

    /// <summary>
    /// Moves to the next broker (after the last: the first again) if the one in use has been
    /// unreachable for long enough; true if it moved. The new one gets its own full time.
    /// </summary>
    public bool MoveOnIfDue()
    {
        var now = clock.GetUtcNow();
        if (count == 1 || unreachableSince is not { } since || now - since < failoverAfter)
        {
            return false;
        }
        Current = (Current + 1) % count;
        unreachableSince = now;
        firstAnsweringSince = null;
        return true;
    }

    /// <summary>Whether the first broker answered a probe just now (only asked while another is in use).</summary>
    public void FirstAnswered(bool answered) =>
        firstAnsweringSince = answered ? firstAnsweringSince ?? clock.GetUtcNow() : null;

    /// <summary>True while another broker is in use, so the first should be probed.</summary>
    public bool ProbingFirst => Current != 0;

    /// <summary>Goes back to the first broker if it has answered for long enough; true if it did.</summary>
    public bool ReturnIfDue()
    {
        if (Current == 0 || firstAnsweringSince is not { } since || clock.GetUtcNow() - since < returnAfter)
        {
            return false;
        }
        Current = 0;
        unreachableSince = clock.GetUtcNow();
        firstAnsweringSince = null;
        return true;
    }
}
