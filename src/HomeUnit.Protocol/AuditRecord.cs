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
    public const string CommandRefused = "command.refused";
    /// <summary>A standby central took charge (<c>central</c>, optional <c>until</c>; <c>issuer</c> = the primary that handed over).</summary>
    public const string HandoverStarted = "handover.started";
    /// <summary>The standby <c>central</c> is no longer in charge (<c>reason</c>: <c>taken-back</c>, <c>expired</c> or <c>handed-on</c>).</summary>
    public const string HandoverEnded = "handover.ended";
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
    /// <summary>The central (<c>iss</c>) whose signed token caused the record: for a look, the one whose grant opened it.</summary>
    public string? Issuer { get; init; }
    /// <summary>For handover records: the standby central that took or left charge.</summary>
    public string? Central { get; init; }
    /// <summary>For <c>handover.started</c>: when supervision returns to the primary by itself, if set.</summary>
    public string? Until { get; init; }
    /// <summary>For <c>command.refused</c>: the command's name, once its signature has proved it.</summary>
    public string? Command { get; init; }
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
