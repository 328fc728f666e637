using System.Text.Json;
using HomeUnit.Agent.Audit;
using HomeUnit.Agent.State;
using HomeUnit.Protocol;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Grants;

/// <summary>What became of a care plan that arrived.</summary>
public enum CarePlanOutcome
{
    Applied,
    /// <summary>The version in force came again (the retained message on every reconnect): nothing to do.</summary>
    Unchanged,
    Refused,
}

/// <summary>
/// The care plan in force. A plan arriving on the retained <c>careplan</c> topic is verified like a
/// grant, must carry a newer <c>version</c> (an older one is refused as <c>replayed</c>, the same one
/// ignored) and is kept in the state database, so it is in force again after a restart.
/// Each plan applied or refused leaves a <c>careplan.applied</c> / <c>careplan.refused</c> audit record.
/// A plan comes only from the central in charge, or from the primary naming the <c>activeCentral</c>:
/// then, once the plan is applied, that central is put in charge (<see cref="Supervision.HandOver"/>).
/// </summary>
public sealed class CarePlanStore
{
    private readonly StateDatabase database;
    private readonly SignedTokenReader reader;
    private readonly Supervision supervision;
    private readonly AuditLog audit;
    private readonly RefusalAudit refusals;
    private readonly ILogger<CarePlanStore> log;
    private readonly SemaphoreSlim applying = new(1, 1);
    private volatile CarePlan? current;

    public CarePlanStore(StateDatabase database, SignedTokenReader reader, Supervision supervision, AuditLog audit, RefusalAudit refusals, ILogger<CarePlanStore> log)
    {
        this.database = database;
        this.reader = reader;
        this.supervision = supervision;
        this.audit = audit;
        this.refusals = refusals;
        this.log = log;
        current = Load();
    }

    /// <summary>The plan in force, or null when none has been received.</summary>
    public CarePlan? Current => current;

    public async Task<(CarePlanOutcome Outcome, RefusalReason? Reason)> ApplyAsync(string token)
    {
        var read = await reader.ReadAsync<CarePlanPayload>(token, TrustPolicy.MaxCarePlanBytes);
        if (read.Value is not { } payload)
        {
            return Refuse(read.Reason!.Value, null);
        }
        // What is wrong goes into the refusal's detail: the installer and the central read why, not just "malformed".
        var problem = CarePlanLimits.Problem(payload);
        if (problem is not null || CarePlan.From(payload) is not { } plan)
        {
            return Refuse(RefusalReason.Malformed, payload.Version, payload.Iss, problem);
        }
        await applying.WaitAsync();
        try
        {
            // The same version again is the retained message on a reconnect: ignored whoever sent it,
            // so it can neither repeat a handover nor be refused again and again.
            if (current is { } same && plan.Version == same.Version)
            {
                return (CarePlanOutcome.Unchanged, null);
            }
            if (supervision.CarePlanRefusal(payload.Iss, payload.ActiveCentral) is { } notInCharge)
            {
                return Refuse(notInCharge, plan.Version, payload.Iss);
            }
            if (current is { } inForce && plan.Version < inForce.Version)
            {
                return Refuse(RefusalReason.Replayed, plan.Version, payload.Iss);
            }
            // In force only with its audit record: both commit in one transaction, or neither does.
            database.Write(t =>
            {
                t.Execute("""
                    INSERT INTO careplan (id, version, payload) VALUES (1, $version, $payload)
                    ON CONFLICT (id) DO UPDATE SET version = excluded.version, payload = excluded.payload
                    """, ("$version", plan.Version), ("$payload", JsonSerializer.Serialize(payload, TokenJson.Options)));
                audit.Append(new AuditRecord { Type = AuditType.CarePlanApplied, Version = plan.Version, Issuer = payload.Iss }, t);
            });
            current = plan;
            log.LogInformation("care plan version {Version} applied ({Checks} checks, zone {Zone})", plan.Version, plan.Checks.Count, plan.Zone.Id);
            if (payload.ActiveCentral is { } active)
            {
                HandOver(payload, active);
            }
            return (CarePlanOutcome.Applied, null);
        }
        catch (SqliteException e)
        {
            log.LogError("care plan version {Version} could not be stored: {Error}", plan.Version, e.SqliteErrorCode);
            return Refuse(RefusalReason.Fault, plan.Version, payload.Iss);
        }
        finally
        {
            applying.Release();
        }
    }

    private void HandOver(CarePlanPayload payload, string active)
    {
        try
        {
            supervision.HandOver(payload.Iss, active, payload.ActiveUntil is { } until ? DateTimeOffset.FromUnixTimeSeconds(until) : null,
                via: Topics.CarePlan, payload.Version);
        }
        catch (SqliteException e)
        {
            // The plan stands; without a durable handover record the central in charge stays in charge.
            log.LogError("care plan version {Version} applied, but the handover to {Central} could not be recorded: SQLite error {Code}",
                payload.Version, active, e.SqliteErrorCode);
        }
    }

    private (CarePlanOutcome, RefusalReason?) Refuse(RefusalReason reason, long? version, string? issuer = null, string? detail = null)
    {
        refusals.Refuse(reason, new AuditRecord { Type = AuditType.CarePlanRefused, Version = version, Issuer = issuer, Detail = detail });
        return (CarePlanOutcome.Refused, reason);
    }

    /// <summary>Stands for an unreadable stored plan: in force since forever, no checks, replaced by any real version.</summary>
    private static readonly CarePlan Damaged = new(0, TimeZoneInfo.Utc, [], null, new HashSet<DateOnly>(), DateTimeOffset.MinValue);

    private CarePlan? Load()
    {
        var stored = database.Read(connection =>
        {
            using var command = StateDatabase.Command(connection, "SELECT payload FROM careplan WHERE id = 1");
            return command.ExecuteScalar();
        });
        if (stored is not string json)
        {
            return null;
        }
        if (Parse(json) is { } plan)
        {
            return plan;
        }
        // Only a damaged state file gets here. Fail closed: a plan in force with no checks refuses every
        // look, installation looks too (which "no plan" would allow), until the central sends a plan again.
        log.LogError("the stored care plan cannot be read; no look is allowed until the central sends one");
        return Damaged;
    }

    private static CarePlan? Parse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<CarePlanPayload>(json, TokenJson.Options) is { } payload ? CarePlan.From(payload) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
