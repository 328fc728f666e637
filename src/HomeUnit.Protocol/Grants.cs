namespace HomeUnit.Protocol;

/// <summary>Conventions shared by the central and the devices.</summary>
public static class CentralDefaults
{
    /// <summary>The <c>iss</c> of tokens signed by the central unless configured otherwise (<c>Trust:Issuer</c>).</summary>
    public const string Issuer = "homeunit-central";
}

/// <summary>The kinds of look a grant can ask for (design §4).</summary>
public static class SessionKinds
{
    public const string Scheduled = "scheduled";
    public const string FollowUp = "follow-up";
    public const string Installation = "installation";

    public static readonly IReadOnlyList<string> All = [Scheduled, FollowUp, Installation];
}

/// <summary>Where the operator wants the lens pointed.</summary>
public static class Views
{
    public const string Bed = "bed";
    public const string Room = "room";

    public static readonly IReadOnlyList<string> All = [Bed, Room];
}

/// <summary>
/// A session grant's payload (compact JWS, ES256, header <c>kid</c> names the central key).
/// Times are NumericDate: whole seconds since the epoch.
/// </summary>
public sealed record GrantPayload(
    string Iss,
    string Aud,
    string Sub,
    string Jti,
    long Iat,
    long Nbf,
    long Exp,
    string Kind,
    string View,
    int MaxSeconds,
    StreamPayload Stream,
    string? Check = null) : ISignedPayload;

/// <summary>Where the picture goes: an SRT listener at the central, with the look's stream id and passphrase (a secret).</summary>
public sealed record StreamPayload(string Url, string StreamId, string Passphrase)
{
    // The passphrase never appears in logs, audit records or errors.
    public override string ToString() => $"{Url} streamid={StreamId}";
}

/// <summary>
/// The roles of the centrals a unit trusts. The <c>primary</c> is in charge unless it has handed
/// supervision to a <c>standby</c>; it can always take it back.
/// </summary>
public static class CentralRoles
{
    public const string Primary = "primary";
    public const string Standby = "standby";

    public static readonly IReadOnlyList<string> All = [Primary, Standby];
}
