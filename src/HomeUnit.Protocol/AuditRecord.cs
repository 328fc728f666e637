namespace HomeUnit.Protocol;

/// <summary>Audit record types (design §4).</summary>
public static class AuditTypes
{
    public const string SessionAccepted = "session.accepted";
    public const string SessionRefused = "session.refused";
    public const string SessionStarted = "session.started";
    public const string SessionEnded = "session.ended";
    public const string SessionAborted = "session.aborted";
    public const string CarePlanApplied = "careplan.applied";
    public const string CarePlanRefused = "careplan.refused";
    public const string AgentStarted = "agent.started";
}

/// <summary>
/// One link of the tamper-evident audit chain. <see cref="Hash"/> is SHA-256 over the record's
/// canonical JSON without <c>hash</c>; <see cref="Prev"/> is the previous record's hash.
/// Never holds a token's secrets.
/// </summary>
public sealed record AuditRecord
{
    public long Seq { get; init; }
    public string At { get; init; } = "";
    public string Type { get; init; } = "";
    public string? Device { get; init; }
    public string? Grant { get; init; }
    public string? Operator { get; init; }
    public string? Kind { get; init; }
    public string? View { get; init; }
    public string? Check { get; init; }
    public string? StartedAt { get; init; }
    public string? EndedAt { get; init; }
    public long? DurationMs { get; init; }
    public string? Reason { get; init; }
    public long? Count { get; init; }
    public long? Version { get; init; }
    public string Prev { get; init; } = "";
    public string? Hash { get; init; }
}
