using System.Threading.Channels;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Session;
using HomeUnit.Protocol;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent;

/// <summary>
/// What the central sends, routed: a grant through the authorizer to the session state machine, a
/// care plan to its store, a command (verified like a grant) to the running look, the self-test or —
/// a <c>handover</c> — to <see cref="Supervision"/>.
/// Messages are handled one at a time, in order, so a grant and a stop cannot overtake each other; only a
/// self-test runs in the background (it can take seconds, and a stop must not wait behind it).
/// </summary>
public sealed class CentralMessages(
    ChannelReader<InboundMessage> inbound,
    SessionAuthorizer authorizer,
    CarePlanStore plans,
    CommandVerifier commands,
    Supervision supervision,
    SessionMachine sessions,
    RefusalAudit refusals,
    Readiness readiness,
    LoopHeartbeats heartbeats,
    ILogger<CentralMessages> log) : BackgroundService
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            heartbeats.Beat(nameof(CentralMessages));
            if (!await WaitForMessageAsync(stoppingToken))
            {
                continue;
            }
            while (inbound.TryRead(out var message))
            {
                try
                {
                    await HandleAsync(message.Topic, message.Payload);
                }
                catch (Exception e)
                {
                    // Bad input must never take the agent down; the message's content is not logged (it may hold secrets).
                    log.LogError("message on {Topic} could not be handled: {Error}", message.Topic, e.Message);
                }
                heartbeats.Beat(nameof(CentralMessages));
            }
        }
    }

    /// <summary>Waits for a message, waking regularly so the heartbeat shows the loop is alive.</summary>
    private async Task<bool> WaitForMessageAsync(CancellationToken stoppingToken)
    {
        using var wake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        wake.CancelAfter(Idle);
        try
        {
            return await inbound.WaitToReadAsync(wake.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

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
                refusals.Refuse(RefusalReason.Busy, Refusal(request));
                break;
            case StartOutcome.Paused:
                refusals.Refuse(RefusalReason.PrivacyPaused, Refusal(request));
                break;
            case StartOutcome.AuditUnavailable or StartOutcome.Faulted:
                // No durable audit → no camera (P6), or an orphaned capture: refuse, leaving a trace if storage allows.
                TryRefuse(RefusalReason.Fault, Refusal(request));
                break;
        }
    }

    private async Task OnCommandAsync(string token)
    {
        var verdict = await commands.VerifyAsync(token);
        if (verdict.Value is not { } command)
        {
            return; // refused and logged by the verifier
        }
        var done = command.Name switch
        {
            CommandNames.Stop => sessions.RequestStop(EndReason.Stopped, command.Grant),
            CommandNames.Pan => command.Grant is { } grant && command.View is { } view && sessions.RequestPan(grant, view),
            // In the background: a self-test can take seconds, and a stop must not wait behind it.
            CommandNames.SelfTest => readiness.ReportAsync(check: null, CancellationToken.None) is { },
            // A look already running goes on to its own end: the stream goes to the grant's target, whoever is in charge.
            CommandNames.Handover => HandOver(command),
            _ => false,
        };
        log.LogInformation("command {Command} {Outcome}", command.Name, done ? "carried out" : "had nothing to act on");
    }

    private bool HandOver(DeviceCommand command)
    {
        try
        {
            supervision.HandOver(command.Issuer, command.To!, command.Until, via: CommandNames.Handover);
            return true;
        }
        catch (Microsoft.Data.Sqlite.SqliteException e)
        {
            // No durable handover record, no handover: the central in charge stays in charge.
            log.LogError("handover to {Central} not carried out: SQLite error {Code}", command.To, e.SqliteErrorCode);
            TryRefuse(RefusalReason.Fault, new AuditRecord { Type = AuditType.CommandRefused, Issuer = command.Issuer, Command = command.Name });
            return false;
        }
    }

    private static AuditRecord Refusal(SessionRequest request) => new()
    {
        Type = AuditType.SessionRefused,
        Grant = request.GrantId,
        Issuer = request.Issuer,
        Operator = request.Operator,
        Kind = request.Kind,
        Check = request.Check,
    };

    private void TryRefuse(RefusalReason reason, AuditRecord refusal)
    {
        try
        {
            refusals.Refuse(reason, refusal);
        }
        catch (Exception e)
        {
            log.LogError("refusal of {Grant} could not be audited: {Error}", refusal.Grant, e.Message);
        }
    }
}
