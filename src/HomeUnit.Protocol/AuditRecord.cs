namespace HomeUnit.Protocol;

/// <summary>
/// One link of the tamper-evident audit chain. <see cref="Hash"/> is SHA-256 over the record's
/// canonical JSON without <c>hash</c>; <see cref="Prev"/> is the previous record's hash.
/// Never holds a token's secrets.
/// </summary>
public sealed record AuditRecord
{
    public long Seq { get; init; }
    public string At { get; init; } = "";
    public required AuditType Type { get; init; }
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
    /// <summary>A code: a <see cref="RefusalReason"/> for refusals, an <see cref="EndReason"/> for ended and aborted looks.</summary>
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
