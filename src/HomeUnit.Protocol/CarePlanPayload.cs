namespace HomeUnit.Protocol;

/// <summary>
/// The resident's care plan (compact JWS, ES256, retained on the <c>careplan</c> topic).
/// <c>version</c> only grows; <c>tz</c> is an IANA zone; check times are local <c>HH:mm</c>;
/// <c>pausedNights</c> are the local dates (<c>yyyy-MM-dd</c>) on which a paused night starts;
/// <c>validFrom</c> is a NumericDate. No <c>followUp</c> means no follow-up looks; no <c>privacyPause</c>
/// means the unit's pause button only blinks in answer.
/// <c>activeCentral</c> (the <c>iss</c> of the central in charge, optionally until <c>activeUntil</c>)
/// lets the primary hand supervision over, or take it back, with the plan itself.
/// </summary>
public sealed record CarePlanPayload(
    string Iss,
    string Aud,
    long Iat,
    long Version,
    string Tz,
    IReadOnlyList<CarePlanCheck> Checks,
    long ValidFrom,
    FollowUpRule? FollowUp = null,
    IReadOnlyList<string>? PausedNights = null,
    string? ActiveCentral = null,
    long? ActiveUntil = null,
    PrivacyPauseRule? PrivacyPause = null) : ISignedPayload;

/// <summary>One agreed check: local time <c>HH:mm</c> and how far either side of it a scheduled look may run.</summary>
public sealed record CarePlanCheck(string Id, string At, int ToleranceMinutes);

/// <summary>Follow-up looks: within <c>withinMinutes</c> after the scheduled look, at most <c>max</c> per check and night.</summary>
public sealed record FollowUpRule(int WithinMinutes, int Max);

/// <summary>The resident may pause the camera with the unit's button, for <c>maxMinutes</c> a press.</summary>
public sealed record PrivacyPauseRule(int MaxMinutes);

/// <summary>What a unit accepts in a care plan. The unit and the central's tools ask <see cref="Problem"/> alike.</summary>
public static class CarePlanLimits
{
    public const int MaxChecks = 48;
    public const int MaxPausedNights = 1000;
    public const int MaxToleranceMinutes = 120;
    public const int MaxFollowUpMinutes = 180;
    public const int MaxFollowUps = 10;
    public const int MaxPrivacyPauseMinutes = 480;

    /// <summary>What a unit refuses in <paramref name="plan"/>, in words (the field and what is wrong); null when it is sound.</summary>
    public static string? Problem(CarePlanPayload plan)
    {
        if (plan.Version < 1)
        {
            return "version: a care plan's version is 1 or more, and grows with every new plan";
        }
        if (!Wire.IsNumericDate(plan.ValidFrom))
        {
            return $"validFrom: {plan.ValidFrom} is not a time in seconds since 1970";
        }
        if (plan.Tz is null || !TimeZoneInfo.TryFindSystemTimeZoneById(plan.Tz, out _))
        {
            return $"tz: '{plan.Tz}' is not an IANA time zone known here (e.g. Europe/Stockholm)";
        }
        if (plan.Checks is null || plan.Checks.Count > MaxChecks)
        {
            return $"checks: at most {MaxChecks}";
        }
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var check in plan.Checks)
        {
            if (check is null || !Identifiers.IsValid(check.Id))
            {
                return $"check '{check?.Id}': an id is 1–{Identifiers.MaxLength} printable ASCII characters";
            }
            if (!TimeOnly.TryParseExact(check.At, "HH:mm", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _))
            {
                return $"check {check.Id}: '{check.At}' is not a local time HH:mm";
            }
            if (check.ToleranceMinutes is < 1 or > MaxToleranceMinutes)
            {
                return $"check {check.Id}: toleranceMinutes must be 1–{MaxToleranceMinutes}";
            }
            if (!ids.Add(check.Id))
            {
                return $"check {check.Id}: two checks have the same id";
            }
        }
        if (plan.FollowUp is { WithinMinutes: < 1 or > MaxFollowUpMinutes } or { Max: < 0 or > MaxFollowUps })
        {
            return $"followUp: withinMinutes must be 1–{MaxFollowUpMinutes} and max 0–{MaxFollowUps}";
        }
        if ((plan.PausedNights?.Count ?? 0) > MaxPausedNights)
        {
            return $"pausedNights: at most {MaxPausedNights}";
        }
        foreach (var night in plan.PausedNights ?? [])
        {
            if (!DateOnly.TryParseExact(night, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _))
            {
                return $"pausedNights: '{night}' is not a local date yyyy-MM-dd";
            }
        }
        if (plan.PrivacyPause is { MaxMinutes: < 1 or > MaxPrivacyPauseMinutes })
        {
            return $"privacyPause: maxMinutes must be 1–{MaxPrivacyPauseMinutes}";
        }
        if (plan.ActiveUntil is { } until && (plan.ActiveCentral is null || !Wire.IsNumericDate(until)))
        {
            return "activeUntil: a time in seconds since 1970, and only with activeCentral";
        }
        return null;
    }
}
