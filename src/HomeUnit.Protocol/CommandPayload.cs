namespace HomeUnit.Protocol;

/// <summary>The commands the central can send on the <c>command</c> topic.</summary>
public static class CommandNames
{
    /// <summary>Ends the running look now (optionally only if it is the look of <c>grant</c>).</summary>
    public const string Stop = "stop";

    /// <summary>Points the lens at <c>view</c>; only inside the look of <c>grant</c>.</summary>
    public const string Pan = "pan";

    /// <summary>Runs the readiness self-test now.</summary>
    public const string SelfTest = "selftest";

    /// <summary>
    /// Puts the central named by <c>to</c> in charge, until <c>until</c> if given; only the primary signs it,
    /// and naming the primary itself takes supervision back.
    /// </summary>
    public const string Handover = "handover";

    public static readonly IReadOnlyList<string> All = [Stop, Pan, SelfTest, Handover];
}

/// <summary>
/// A command's payload (compact JWS, ES256). Short-lived like a grant (<c>exp − nbf</c> ≤ 5 min)
/// and never accepted twice (<c>jti</c>).
/// </summary>
public sealed record CommandPayload(
    string Iss,
    string Aud,
    string Jti,
    long Iat,
    long Nbf,
    long Exp,
    string Command,
    string? Grant = null,
    string? View = null,
    string? To = null,
    long? Until = null) : ISignedPayload;
