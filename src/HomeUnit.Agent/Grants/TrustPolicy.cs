using HomeUnit.Protocol;

namespace HomeUnit.Agent.Grants;

/// <summary>
/// What this device accepts: tokens for <see cref="DeviceId"/> (issued by a trusted central, see
/// <see cref="TrustedKeys"/>), clocks that differ by at most <see cref="ClockSkew"/>, looks of at most <see cref="MaxSession"/>.
/// </summary>
public sealed record TrustPolicy(string DeviceId, TimeSpan ClockSkew, TimeSpan MaxSession)
{
    public const string DefaultIssuer = CentralDefaults.Issuer;
    public static readonly TimeSpan DefaultClockSkew = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan DefaultMaxSession = TimeSpan.FromSeconds(60);

    /// <summary>A grant's or command's window (<c>exp − nbf</c>) may be at most this long.</summary>
    public static readonly TimeSpan MaxWindow = TimeSpan.FromMinutes(5);

    /// <summary>Grants and commands larger than this are refused unread (a real one is well under 1 KiB).</summary>
    public const int MaxTokenBytes = 4096;

    /// <summary>Care plans may carry many paused nights, so they get more room.</summary>
    public const int MaxCarePlanBytes = 65536;

    /// <summary>
    /// The shape of a grant's or command's window, read from its NumericDate claims: null when sound,
    /// <c>malformed</c> for impossible dates or an empty window, <c>too-long</c> beyond <see cref="MaxWindow"/>.
    /// </summary>
    public static RefusalReason? WindowShapeProblem(long nbf, long exp, long iat)
    {
        if (!Wire.IsNumericDate(nbf) || !Wire.IsNumericDate(exp) || !Wire.IsNumericDate(iat) || exp <= nbf)
        {
            return RefusalReason.Malformed;
        }
        return exp - nbf > (long)MaxWindow.TotalSeconds ? RefusalReason.TooLong : null;
    }

    /// <summary>Whether <paramref name="now"/> lies in [nbf − skew, exp + skew): null if so, else <c>not-yet-valid</c> or <c>expired</c>.</summary>
    public RefusalReason? WindowTimeProblem(DateTimeOffset notBefore, DateTimeOffset expires, DateTimeOffset now) =>
        now < notBefore - ClockSkew ? RefusalReason.NotYetValid
        : now >= expires + ClockSkew ? RefusalReason.Expired
        : null;

}
