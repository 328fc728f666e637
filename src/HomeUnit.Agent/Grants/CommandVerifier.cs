using HomeUnit.Drivers;
using HomeUnit.Protocol;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Grants;

/// <summary>
/// A verified command from <see cref="Issuer"/>. <see cref="Grant"/> names the look it is meant for (required
/// for <c>pan</c>, optional for <c>stop</c>): the session state machine acts only if that look is the
/// one running. A <c>handover</c> names the central to put in charge (<see cref="To"/>) and, optionally, until when.
/// </summary>
public sealed record DeviceCommand(string Issuer, string Jti, string Name, string? Grant, LensPosition? View, string? To = null, DateTimeOffset? Until = null);

/// <summary>
/// Verifies <c>command</c> tokens the way grants are verified: signature, issuer, audience, a window
/// of at most five minutes with the clock skew, the command's own fields, its central in charge (a
/// <c>handover</c>: signed by the primary, naming a trusted central), never twice (<c>jti</c>).
/// Refusals are audited as <c>command.refused</c> (rate-limited).
/// </summary>
public sealed class CommandVerifier(SignedTokenReader reader, TrustPolicy policy, ReplayCache replay, Supervision supervision,
    RefusalAudit refusals, TimeProvider clock, ILogger<CommandVerifier> log)
{
    public async Task<Verdict<DeviceCommand>> VerifyAsync(string token)
    {
        var (verdict, proved) = await Check(token);
        if (verdict.Reason is { } reason)
        {
            // Claims are recorded only once the signature has proved them.
            refusals.Refuse(reason, new AuditRecord { Type = AuditType.CommandRefused, Issuer = proved?.Iss, Command = proved?.Command });
        }
        return verdict;
    }

    private async Task<(Verdict<DeviceCommand>, CommandPayload?)> Check(string token)
    {
        var read = await reader.ReadAsync<CommandPayload>(token, TrustPolicy.MaxTokenBytes);
        if (read.Value is not { } p)
        {
            return (Verdict<DeviceCommand>.Refuse(read.Reason!.Value), null);
        }
        return (Check(p), p);
    }

    private Verdict<DeviceCommand> Check(CommandPayload p)
    {
        if (TrustPolicy.WindowShapeProblem(p.Nbf, p.Exp, p.Iat) is { } window)
        {
            return Verdict<DeviceCommand>.Refuse(window);
        }
        var now = clock.GetUtcNow();
        if (CommandOf(p, now) is not { } command)
        {
            return Verdict<DeviceCommand>.Refuse(RefusalReason.Malformed);
        }
        var expires = DateTimeOffset.FromUnixTimeSeconds(p.Exp);
        if (policy.WindowTimeProblem(DateTimeOffset.FromUnixTimeSeconds(p.Nbf), expires, now) is { } timing)
        {
            return Verdict<DeviceCommand>.Refuse(timing);
        }
        // The primary may always hand over or take back; everything else comes only from the central in charge.
        var authority = command.Name == CommandNames.Handover
            ? supervision.HandoverRefusal(p.Iss, command.To!)
            : supervision.Refusal(p.Iss);
        if (authority is { } notAllowed)
        {
            return Verdict<DeviceCommand>.Refuse(notAllowed);
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

    private static DeviceCommand? CommandOf(CommandPayload p, DateTimeOffset now)
    {
        if (!Identifiers.IsValid(p.Jti) || (p.Grant is not null && !Identifiers.IsValid(p.Grant))
            || (p.Command != CommandNames.Handover && (p.To is not null || p.Until is not null)))
        {
            return null;
        }
        return p.Command switch
        {
            CommandNames.Pan when p.Grant is not null && GrantVerifier.ViewOf(p.View) is { } view => new DeviceCommand(p.Iss, p.Jti, p.Command, p.Grant, view),
            CommandNames.Stop when p.View is null => new DeviceCommand(p.Iss, p.Jti, p.Command, p.Grant, null),
            CommandNames.SelfTest when p.View is null && p.Grant is null => new DeviceCommand(p.Iss, p.Jti, p.Command, null, null),
            // An end time must lie ahead: a handover that is already over is a mistake, not a no-op.
            CommandNames.Handover when p.View is null && p.Grant is null && p.To is not null && Identifiers.IsValid(p.To)
                && (p.Until is null || (Wire.IsNumericDate(p.Until.Value) && DateTimeOffset.FromUnixTimeSeconds(Math.Max(0, p.Until.Value)) > now))
                => new DeviceCommand(p.Iss, p.Jti, p.Command, null, null, p.To, p.Until is { } until ? DateTimeOffset.FromUnixTimeSeconds(until) : null),
            _ => null,
        };
    }
}
