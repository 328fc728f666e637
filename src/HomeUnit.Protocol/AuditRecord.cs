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

    /// <summary>The night's ledger: what became of a scheduled check once its window closed.</summary>
    public const string CheckLooked = "check.looked";
    public const string CheckMissed = "check.missed";
    public const string CheckSkipped = "check.skipped";
    public const string NightSummary = "night.summary";

    /// <summary>The resident's privacy pause began (with <c>until</c>) or ended.</summary>
    public const string PrivacyPaused = "privacy.paused";
    public const string PrivacyResumed = "privacy.resumed";

    /// <summary>The unit is taken out of service (the last record before its state is erased).</summary>
    public const string UnitDecommissioned = "unit.decommissioned";

    /// <summary>The ledger's outcomes of a check.</summary>
    public static readonly IReadOnlyList<string> CheckOutcomes = [CheckLooked, CheckMissed, CheckSkipped];
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
    /// <summary>When something ends by itself: supervision returns to the primary (<c>handover.started</c>), a privacy pause ends (<c>privacy.paused</c>).</summary>
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

    /// <summary>The night (the local date it began) a ledger record or a summary is about.</summary>
    public string? Night { get; init; }

    /// <summary>A check's planned instant (ledger records).</summary>
    public string? Due { get; init; }

    /// <summary>Human-readable detail beside the <see cref="Reason"/> code.</summary>
    public string? Detail { get; init; }

    /// <summary>For a missed check: what the unit knows of why, as codes (<c>offline</c>, <c>fault:camera</c>...).</summary>
    public IReadOnlyList<string>? Causes { get; init; }

    /// <summary>Refused grants by reason code (a check's window, or the whole night).</summary>
    public IReadOnlyDictionary<string, long>? Refused { get; init; }

    /// <summary>A night's figures (<c>night.summary</c>).</summary>
    public NightSummary? Summary { get; init; }

    public string Prev { get; init; } = "";
    public string? Hash { get; init; }
}

/// <summary>
/// What became of a night's checks (<c>night.summary</c>): planned = looked + missed + skipped;
/// follow-ups are looks that followed a scheduled one; faults are those present during the night's checks;
/// offline is the time the unit could not reach the central (link down or agent not running).
/// </summary>
public sealed record NightSummary
{
    public int Planned { get; init; }
    public int Looked { get; init; }
    public int FollowUps { get; init; }
    public int Missed { get; init; }
    public int Skipped { get; init; }
    public IReadOnlyDictionary<string, long> Refused { get; init; } = new Dictionary<string, long>();
    public IReadOnlyList<string> Faults { get; init; } = [];
    public long OfflineSeconds { get; init; }
}
