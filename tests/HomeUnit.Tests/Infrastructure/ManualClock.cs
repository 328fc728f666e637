namespace HomeUnit.Tests.Infrastructure;

/// <summary>A clock the test sets and moves by hand.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset now = start;

    public override DateTimeOffset GetUtcNow() => now;

    public void Set(DateTimeOffset at) => now = at;

    public void Advance(TimeSpan by) => now += by;
}
