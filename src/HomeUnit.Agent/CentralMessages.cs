using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Session;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent;

/// <summary>
/// What the central sends, routed: a grant through the authorizer to the session state machine, a
/// care plan to its store, a command (verified like a grant) to the running look or the self-test.
/// Every message is handled whole before the next, so a grant and a stop cannot overtake each other.
/// </summary>
public sealed class CentralMessages(
    LookAuthorizer authorizer,
    CarePlanStore plans,
    CommandVerifier commands,
    SessionMachine sessions,
    RefusalAudit refusals,
    Readiness readiness,
    ILogger<CentralMessages> log)
{
    public async Task HandleAsync(string topic, string payload)
    {
        switch (topic)
        {
            case Topics.Grant:
                await OnGrantAsync(payload);
                break;
            case Topics.CarePlan:
                await plans.ApplyAsync(payload);
                break;
            case Topics.Command:
                await OnCommandAsync(payload);
                break;
            default:
                log.LogWarning("message on unexpected topic {Topic} dropped", topic);
                break;
        }
    }

    private async Task OnGrantAsync(string token)
    {
        var decision = await authorizer.AuthorizeAsync(token);
        if (decision.Request is not { } request)
        {
            return; // refused and audited by the authorizer
        }
        switch (sessions.TryStart(request))
        {
            case StartOutcome.Started:
                log.LogInformation("look {Grant} accepted: {Kind}, {Seconds:F0} s, operator {Operator}", request.GrantId, request.Kind, request.MaxStreaming.TotalSeconds, request.Operator);
                break;
            case StartOutcome.Busy:
                refusals.Refuse(Refusal(request, RefusalReasons.Busy));
                break;
            case StartOutcome.AuditUnavailable:
                // No durable audit → no camera (P6). Try to leave a trace; storage is probably the fault.
                TryRefuse(Refusal(request, RefusalReasons.Fault));
                break;
        }
    }

    private async Task OnCommandAsync(string token)
    {
        var verdict = await commands.VerifyAsync(token);
        if (verdict.Value is not { } command)
        {
            log.LogWarning("command refused: {Reason}", verdict.Reason);
            return;
        }
        var done = command.Name switch
        {
            CommandNames.Stop => sessions.RequestStop(EndReasons.Stopped, command.Grant),
            CommandNames.Pan => command.Grant is { } grant && command.View is { } view && sessions.RequestPan(grant, view),
            CommandNames.SelfTest => await readiness.ReportAsync(check: null, CancellationToken.None) is not null,
            _ => false,
        };
        log.LogInformation("command {Command} {Outcome}", command.Name, done ? "carried out" : "had nothing to act on");
    }

    private static AuditRecord Refusal(SessionRequest request, string reason) => new()
    {
        Type = AuditTypes.SessionRefused,
        Grant = request.GrantId,
        Operator = request.Operator,
        Kind = request.Kind,
        Check = request.Check,
        Reason = reason,
    };

    private void TryRefuse(AuditRecord refusal)
    {
        try
        {
            refusals.Refuse(refusal);
        }
        catch (Exception e)
        {
            log.LogError("refusal of {Grant} could not be audited: {Error}", refusal.Grant, e.Message);
        }
    }
}
