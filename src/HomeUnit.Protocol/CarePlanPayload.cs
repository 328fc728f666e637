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

/// <summary>What a unit accepts in a care plan; the central's tools refuse the same before signing.</summary>
public static class CarePlanLimits
{
    public const int MaxChecks = 48;
    public const int MaxPausedNights = 1000;
    public const int MaxToleranceMinutes = 120;
    public const int MaxFollowUpMinutes = 180;
    public const int MaxFollowUps = 10;
    public const int MaxPrivacyPauseMinutes = 480;
}
