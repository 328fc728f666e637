using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;
using HomeUnit.Protocol;

namespace HomeUnit.Agent.Grants;

/// <summary>
/// Turns a session grant token into a <see cref="Grant"/> or a refusal reason: the signed-token
/// checks of <see cref="SignedTokenReader"/>, then every claim of design §4 for type and range.
/// </summary>
public sealed class GrantVerifier(SignedTokenReader reader, TrustPolicy policy)
{
    public async Task<Verdict<Grant>> ReadAsync(string token)
    {
        var read = await reader.ReadAsync<GrantPayload>(token, TrustPolicy.MaxTokenBytes);
        return read.Value is { } payload ? Check(payload) : Verdict<Grant>.Refuse(read.Reason!.Value);
    }

    private Verdict<Grant> Check(GrantPayload p)
    {
        if (TrustPolicy.WindowShapeProblem(p.Nbf, p.Exp, p.Iat) is { } window)
        {
            return Verdict<Grant>.Refuse(window);
        }
        if (!Identifiers.IsValid(p.Jti) || !Identifiers.IsValid(p.Sub) || !SessionKinds.All.Contains(p.Kind) || p.MaxSeconds < 1
            || (p.Check is not null && !Identifiers.IsValid(p.Check))
            || (p.Kind == SessionKinds.FollowUp && p.Check is null)
            || ViewOf(p.View) is not { } view
            || StreamOf(p.Stream) is not { } stream)
        {
            return Verdict<Grant>.Refuse(RefusalReason.Malformed);
        }
        var streaming = TimeSpan.FromSeconds(Math.Min(p.MaxSeconds, policy.MaxSession.TotalSeconds));
        return Verdict<Grant>.Pass(new Grant(
            p.Iss, p.Jti, p.Sub, p.Kind, view, p.Check,
            DateTimeOffset.FromUnixTimeSeconds(p.Nbf), DateTimeOffset.FromUnixTimeSeconds(p.Exp),
            streaming, stream));
    }

    internal static LensPosition? ViewOf(string? view) => view switch
    {
        Views.Bed => LensPosition.Bed,
        Views.Room => LensPosition.Room,
        _ => null,
    };

    internal static string ViewName(LensPosition view) => view switch
    {
        LensPosition.Bed => Views.Bed,
        LensPosition.Room => Views.Room,
        _ => "lens-up",
    };

    /// <summary>The stream target, if the camera would take it (<see cref="StreamTarget.Validate"/>: one rule for both).</summary>
    private static StreamTarget? StreamOf(StreamPayload s)
    {
        var target = new StreamTarget(s.Url, s.StreamId, s.Passphrase);
        return target.Validate() is null ? target : null;
    }
}
