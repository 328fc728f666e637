namespace HomeUnit.Agent.Grants;

/// <summary>
/// Care-plan times are wall-clock times in the plan's zone. A night runs from 12:00 local on its
/// date to 12:00 local the next day, so a check at 22:30 and one at 01:30 belong to the same night.
/// </summary>
public static class WallClock
{
    public static readonly TimeOnly NightStarts = new(12, 0);

    /// <summary>The date on which the night holding <paramref name="instant"/> began.</summary>
    public static DateOnly NightOf(DateTimeOffset instant, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(instant, zone);
        var date = DateOnly.FromDateTime(local.DateTime);
        return TimeOnly.FromDateTime(local.DateTime) < NightStarts ? date.AddDays(-1) : date;
    }

    /// <summary>When a check at local <paramref name="at"/> happens on <paramref name="night"/>.</summary>
    public static DateTimeOffset CheckInstant(DateOnly night, TimeOnly at, TimeZoneInfo zone) =>
        Instant((at < NightStarts ? night.AddDays(1) : night).ToDateTime(at), zone);

    /// <summary>
    /// The instant of a local wall-clock time. A time skipped by the spring-forward jump is moved
    /// forward by the jump (02:30 becomes 03:30), as if the clock had not jumped yet. A time that
    /// happens twice in autumn is taken at its first occurrence, so a check happens once.
    /// </summary>
    public static DateTimeOffset Instant(DateTime local, TimeZoneInfo zone)
    {
        local = DateTime.SpecifyKind(local, DateTimeKind.Unspecified);
        TimeSpan offset;
        if (zone.IsInvalidTime(local))
        {
            // The offset in force before the jump; zones change offset at most a few times a year.
            offset = zone.GetUtcOffset(local.AddHours(-12));
        }
        else if (zone.IsAmbiguousTime(local))
        {
            offset = zone.GetAmbiguousTimeOffsets(local).Max();
        }
        else
        {
            offset = zone.GetUtcOffset(local);
        }
        return new DateTimeOffset(local.Ticks - offset.Ticks, TimeSpan.Zero);
    }
}
