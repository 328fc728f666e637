using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Session;
using HomeUnit.Protocol;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Grants;

/// <summary>The answer to a grant: a look the session state machine may run, or the refusal reason.</summary>
public sealed record SessionDecision(SessionRequest? Request, RefusalReason? Reason)
{
    public bool Accepted => Request is not null;
}

/// <summary>
/// Decides whether a session grant becomes a look (P1, P8). In order: the signed token and its claims,
/// its central being the one in charge (<see cref="Supervision"/>), a synchronised clock, the grant's time window, replay, device faults, the care plan; only then is
/// the <c>jti</c> recorded as used. The look it returns ends at the earliest of the grant's
/// <c>maxSeconds</c> (capped by policy), the grant's expiry and the end of the care-plan window.
/// Refusals are audited as <c>session.refused</c> (rate-limited); the session state machine audits
/// acceptance and refuses <c>busy</c> itself; health raises <c>clock.unsynced</c> and fault events.
/// </summary>
public sealed class SessionAuthorizer(
    GrantVerifier grants,
    TrustPolicy policy,
    ClockTrust clockTrust,
    ReplayCache replay,
    CarePlanStore plans,
    Supervision supervision,
    AuditLog audit,
    RefusalAudit refusals,
    Func<bool> faultPresent,
    TimeProvider clock,
    ILogger<SessionAuthorizer> log,
    Func<bool>? privacyPaused = null)
{
    // Follow-ups look back at the looks of the current night, which is at most a day long (25 h in autumn).
    private static readonly TimeSpan HistoryReach = TimeSpan.FromHours(36);

    /// <summary>A look shorter than this is not worth starting: the operator would see nothing.</summary>
    public static readonly TimeSpan MinimumLook = TimeSpan.FromSeconds(1);

    public async Task<SessionDecision> AuthorizeAsync(string token)
    {
        var read = await grants.ReadAsync(token);
        if (read.Value is not { } grant)
        {
            return Refuse(read.Reason!.Value, null);
        }
        if (supervision.Refusal(grant.Issuer) is { } notInCharge)
        {
            return Refuse(notInCharge, grant);
        }
        if (!clockTrust.IsSynchronized)
        {
            return Refuse(RefusalReason.ClockUnsynced, grant);
        }
        var now = clock.GetUtcNow();
        if (policy.WindowTimeProblem(grant.NotBefore, grant.Expires, now) is { } timing)
        {
            return Refuse(timing, grant);
        }
        try
        {
            return Decide(grant, now);
        }
        catch (SqliteException e)
        {
            // No durable replay record, no look (fail closed).
            log.LogError("state database error while authorizing grant {Grant}: SQLite error {Code}", grant.Jti, e.SqliteErrorCode);
            return Refuse(RefusalReason.Fault, grant);
        }
    }

    private SessionDecision Decide(Grant grant, DateTimeOffset now)
    {
        if (replay.Contains(grant.Jti))
        {
            return Refuse(RefusalReason.Replayed, grant);
        }
        if (privacyPaused?.Invoke() == true)
        {
            // The resident's pause comes before every other rule: whatever the grant, the answer is the pause.
            return Refuse(RefusalReason.PrivacyPaused, grant);
        }
        if (faultPresent())
        {
            return Refuse(RefusalReason.Fault, grant);
        }
        var history = audit.AcceptedSince(now - HistoryReach)
            .Select(r => new PastSession(r.Kind ?? "", r.Check, DateTimeOffset.Parse(r.At, System.Globalization.CultureInfo.InvariantCulture)))
            .ToList();
        var plan = CarePlanPolicy.Decide(plans.Current, grant.Kind, grant.Check, now, history);
        if (plan.Reason is { } outside)
        {
            return Refuse(outside, grant);
        }
        // The clock skew only widened acceptance (WindowTimeProblem); the look ends at exp as this unit's
        // clock reads it, never later: a grant accepted within the skew after exp has no time left.
        var grantEnds = grant.Expires;
        var ends = plan.Until < grantEnds ? plan.Until : grantEnds;
        var streaming = ends - now < grant.MaxStreaming ? ends - now : grant.MaxStreaming;
        if (streaming < MinimumLook)
        {
            return Refuse(grantEnds <= plan.Until ? RefusalReason.Expired : RefusalReason.OutsideCarePlan, grant);
        }
        replay.Prune(now);
        if (!replay.TryUse(grant.Jti, grant.Expires))
        {
            return Refuse(RefusalReason.Replayed, grant);
        }
        log.LogInformation("grant {Grant} accepted: {Kind} look at {View} for at most {Seconds:0.#} s", grant.Jti, grant.Kind, grant.View, streaming.TotalSeconds);
        return new SessionDecision(new SessionRequest(grant.Jti, grant.Operator, grant.Kind, grant.View, streaming, grant.Stream, plan.Check ?? grant.Check, ends, grant.Issuer), null);
    }

    private SessionDecision Refuse(RefusalReason reason, Grant? grant)
    {
        // Claims are recorded only once the signature has proved them; a forged token leaves just its reason.
        refusals.Refuse(reason, new AuditRecord
        {
            Type = AuditType.SessionRefused,
            Grant = grant?.Jti,
            Issuer = grant?.Issuer,
            Operator = grant?.Operator,
            Kind = grant?.Kind,
            View = grant is null ? null : GrantVerifier.ViewName(grant.View),
            Check = grant?.Check,
        });
        return new SessionDecision(null, reason);
    }
}
