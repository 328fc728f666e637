using HomeUnit.Drivers;
using HomeUnit.Protocol;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Grants;

/// <summary>
/// A verified command from the central. <see cref="Grant"/> names the look it is meant for (required
/// for <c>pan</c>, optional for <c>stop</c>): the session state machine acts only if that look is the
/// one running.
/// </summary>
public sealed record DeviceCommand(string Jti, string Name, string? Grant, LensPosition? View);

/// <summary>
/// Verifies <c>command</c> tokens the way grants are verified: signature, issuer, audience, a window
/// of at most five minutes with the clock skew, never twice (<c>jti</c>), and the command's own fields.
/// </summary>
public sealed class CommandVerifier(SignedTokenReader reader, TrustPolicy policy, ReplayCache replay, TimeProvider clock, ILogger<CommandVerifier> log)
{
    public async Task<Verdict<DeviceCommand>> VerifyAsync(string token)
    {
        var verdict = await Check(token);
        if (verdict.Reason is { } reason)
        {
            log.LogWarning("command refused: {Reason}", reason.Code());
        }
        return verdict;
    }

    private async Task<Verdict<DeviceCommand>> Check(string token)
    {
        var read = await reader.ReadAsync<CommandPayload>(token, TrustPolicy.MaxTokenBytes);
        if (read.Value is not { } p)
        {
            return Verdict<DeviceCommand>.Refuse(read.Reason!.Value);
        }
        if (TrustPolicy.WindowShapeProblem(p.Nbf, p.Exp, p.Iat) is { } window)
        {
            return Verdict<DeviceCommand>.Refuse(window);
        }
        if (CommandOf(p) is not { } command)
        {
            return Verdict<DeviceCommand>.Refuse(RefusalReason.Malformed);
        }
        var expires = DateTimeOffset.FromUnixTimeSeconds(p.Exp);
        if (policy.WindowTimeProblem(DateTimeOffset.FromUnixTimeSeconds(p.Nbf), expires, clock.GetUtcNow()) is { } timing)
        {
            return Verdict<DeviceCommand>.Refuse(timing);
        }
        try
        {
            return replay.TryUse(p.Jti, expires)
                ? Verdict<DeviceCommand>.Pass(command)
                : Verdict<DeviceCommand>.Refuse(RefusalReason.Replayed);
        }
        catch (SqliteException e)
        {
            log.LogError("state database error while recording command {Jti}: SQLite error {Code}", p.Jti, e.SqliteErrorCode);
            return Verdict<DeviceCommand>.Refuse(RefusalReason.Fault);
        }
    }

    private static DeviceCommand? CommandOf(CommandPayload p)
    {
        if (!GrantVerifier.IsIdentifier(p.Jti) || (p.Grant is not null && !GrantVerifier.IsIdentifier(p.Grant)))
        {
            return null;
        }
        return p.Command switch
        {
            CommandNames.Pan when p.Grant is not null && GrantVerifier.ViewOf(p.View) is { } view => new DeviceCommand(p.Jti, p.Command, p.Grant, view),
            CommandNames.Stop when p.View is null => new DeviceCommand(p.Jti, p.Command, p.Grant, null),
            CommandNames.SelfTest when p.View is null && p.Grant is null => new DeviceCommand(p.Jti, p.Command, null, null),
            _ => null,
        };
    }
}
