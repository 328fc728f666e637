using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace HomeUnit.Protocol;

// The protocol's closed sets of words. Each member carries its wire code once, in its
// [JsonStringEnumMemberName]; JSON reads and writes that code (never a number), and Codes maps
// between member and code for SQL, logs and the central's tools. A code outside its set is not a
// value of the type, so it cannot be sent and is refused when read.

/// <summary>The <c>type</c> of an event the unit sends (design §4).</summary>
[JsonConverter(typeof(WireCodeConverter<EventType>))]
public enum EventType
{
    [JsonStringEnumMemberName("agent.started")] AgentStarted,
    [JsonStringEnumMemberName("agent.stopping")] AgentStopping,
    [JsonStringEnumMemberName("power.lost")] PowerLost,
    [JsonStringEnumMemberName("power.restored")] PowerRestored,
    [JsonStringEnumMemberName("power.undervoltage")] PowerUndervoltage,
    [JsonStringEnumMemberName("power.undervoltage-cleared")] PowerUndervoltageCleared,
    [JsonStringEnumMemberName("camera.fault")] CameraFault,
    [JsonStringEnumMemberName("camera.restored")] CameraRestored,
    [JsonStringEnumMemberName("servo.fault")] ServoFault,
    [JsonStringEnumMemberName("servo.restored")] ServoRestored,
    [JsonStringEnumMemberName("light.fault")] LightFault,
    [JsonStringEnumMemberName("light.restored")] LightRestored,
    [JsonStringEnumMemberName("clock.unsynced")] ClockUnsynced,
    [JsonStringEnumMemberName("clock.synced")] ClockSynced,
    [JsonStringEnumMemberName("storage.fault")] StorageFault,
    [JsonStringEnumMemberName("storage.restored")] StorageRestored,
    /// <summary>The broker connection is back; <c>data</c> says how long it was down.</summary>
    [JsonStringEnumMemberName("link.restored")] LinkRestored,
    /// <summary>The outbox was full and dropped its oldest records; <c>data.dropped</c> counts them.</summary>
    [JsonStringEnumMemberName("outbox.overflow")] OutboxOverflow,
    [JsonStringEnumMemberName("session.started")] SessionStarted,
    [JsonStringEnumMemberName("session.ended")] SessionEnded,
    [JsonStringEnumMemberName("session.aborted")] SessionAborted,
    /// <summary>The self-test's verdict; <c>ready: false</c> tells the centre to send staff.</summary>
    [JsonStringEnumMemberName("readiness")] Readiness,
    /// <summary>A standby central took charge (<c>data.central</c>, <c>data.until</c>).</summary>
    [JsonStringEnumMemberName("handover.started")] HandoverStarted,
    /// <summary>The standby is no longer in charge; <c>data.reason</c> is a <see cref="HandoverEndReason"/>.</summary>
    [JsonStringEnumMemberName("handover.ended")] HandoverEnded,
    /// <summary>A scheduled check's window closed with no look; <c>data.causes</c> says what the unit knows of why.</summary>
    [JsonStringEnumMemberName("check.missed")] CheckMissed,
    /// <summary>After the night's last check: what became of each.</summary>
    [JsonStringEnumMemberName("night.summary")] NightSummary,
    /// <summary>The resident paused the camera (<c>data.until</c>).</summary>
    [JsonStringEnumMemberName("privacy.paused")] PrivacyPaused,
    [JsonStringEnumMemberName("privacy.resumed")] PrivacyResumed,
    /// <summary>The unit is taken out of service.</summary>
    [JsonStringEnumMemberName("unit.decommissioned")] UnitDecommissioned,
    /// <summary>The privacy button cannot be read: the resident cannot pause the camera.</summary>
    [JsonStringEnumMemberName("button.fault")] ButtonFault,
}

/// <summary>The <c>type</c> of an audit record (design §4).</summary>
[JsonConverter(typeof(WireCodeConverter<AuditType>))]
public enum AuditType
{
    [JsonStringEnumMemberName("session.accepted")] SessionAccepted,
    [JsonStringEnumMemberName("session.refused")] SessionRefused,
    [JsonStringEnumMemberName("session.started")] SessionStarted,
    [JsonStringEnumMemberName("session.ended")] SessionEnded,
    [JsonStringEnumMemberName("session.aborted")] SessionAborted,
    [JsonStringEnumMemberName("careplan.applied")] CarePlanApplied,
    [JsonStringEnumMemberName("careplan.refused")] CarePlanRefused,
    [JsonStringEnumMemberName("agent.started")] AgentStarted,
    /// <summary>A command refused; <c>command</c> names it once its signature has proved it.</summary>
    [JsonStringEnumMemberName("command.refused")] CommandRefused,
    /// <summary>A standby central took charge (<c>central</c>, optional <c>until</c>; <c>issuer</c> = the primary that handed over).</summary>
    [JsonStringEnumMemberName("handover.started")] HandoverStarted,
    /// <summary>The standby <c>central</c> is no longer in charge; <c>reason</c> is a <see cref="HandoverEndReason"/>.</summary>
    [JsonStringEnumMemberName("handover.ended")] HandoverEnded,
    /// <summary>The night's ledger: what became of a scheduled check once its window closed.</summary>
    [JsonStringEnumMemberName("check.looked")] CheckLooked,
    [JsonStringEnumMemberName("check.missed")] CheckMissed,
    [JsonStringEnumMemberName("check.skipped")] CheckSkipped,
    [JsonStringEnumMemberName("night.summary")] NightSummary,
    /// <summary>The resident's privacy pause began (with <c>until</c>) or ended.</summary>
    [JsonStringEnumMemberName("privacy.paused")] PrivacyPaused,
    [JsonStringEnumMemberName("privacy.resumed")] PrivacyResumed,
    /// <summary>The unit is taken out of service (the last record before its state is erased).</summary>
    [JsonStringEnumMemberName("unit.decommissioned")] UnitDecommissioned,
}

/// <summary>Sets of audit types that belong together.</summary>
public static class AuditTypeSets
{
    /// <summary>The ledger's outcomes of a check.</summary>
    public static readonly IReadOnlyList<AuditType> CheckOutcomes = [AuditType.CheckLooked, AuditType.CheckMissed, AuditType.CheckSkipped];
}

/// <summary>
/// Why a grant, command or care plan was refused: the <c>reason</c> of <c>session.refused</c> and
/// <c>careplan.refused</c> records. Never carries the token or its secrets.
/// </summary>
[JsonConverter(typeof(WireCodeConverter<RefusalReason>))]
public enum RefusalReason
{
    [JsonStringEnumMemberName("bad-signature")] BadSignature,
    [JsonStringEnumMemberName("unknown-key")] UnknownKey,
    [JsonStringEnumMemberName("wrong-audience")] WrongAudience,
    [JsonStringEnumMemberName("expired")] Expired,
    [JsonStringEnumMemberName("not-yet-valid")] NotYetValid,
    [JsonStringEnumMemberName("replayed")] Replayed,
    [JsonStringEnumMemberName("outside-care-plan")] OutsideCarePlan,
    [JsonStringEnumMemberName("paused-night")] PausedNight,
    [JsonStringEnumMemberName("busy")] Busy,
    [JsonStringEnumMemberName("clock-unsynced")] ClockUnsynced,
    [JsonStringEnumMemberName("fault")] Fault,
    [JsonStringEnumMemberName("malformed")] Malformed,
    [JsonStringEnumMemberName("too-long")] TooLong,
    [JsonStringEnumMemberName("privacy-paused")] PrivacyPaused,
    /// <summary>A standby central's token while it is not the central in charge.</summary>
    [JsonStringEnumMemberName("standby-not-active")] StandbyNotActive,
    /// <summary>The primary's grant, command (other than <c>handover</c>) or plain care plan while a standby is in charge.</summary>
    [JsonStringEnumMemberName("primary-not-active")] PrimaryNotActive,
    /// <summary>Only the primary central hands supervision over (a <c>handover</c>, or a care plan naming another central).</summary>
    [JsonStringEnumMemberName("not-primary")] NotPrimary,
    /// <summary>A handover naming a central this unit does not trust.</summary>
    [JsonStringEnumMemberName("unknown-central")] UnknownCentral,
}

/// <summary>Why a standby central stopped being in charge: the <c>reason</c> of <c>handover.ended</c>.</summary>
[JsonConverter(typeof(WireCodeConverter<HandoverEndReason>))]
public enum HandoverEndReason
{
    /// <summary>The primary took supervision back.</summary>
    [JsonStringEnumMemberName("taken-back")] TakenBack,
    /// <summary>The handover's end time passed.</summary>
    [JsonStringEnumMemberName("expired")] Expired,
    /// <summary>The primary handed supervision on to another standby.</summary>
    [JsonStringEnumMemberName("handed-on")] HandedOn,
}

/// <summary>
/// Why a look ended: the <c>reason</c> of <c>session.ended</c> (<see cref="Completed"/>,
/// <see cref="Stopped"/>, <see cref="PrivacyPaused"/>) and <c>session.aborted</c> (every other) records and events.
/// What exactly went wrong goes in the separate <c>detail</c>.
/// </summary>
[JsonConverter(typeof(WireCodeConverter<EndReason>))]
public enum EndReason
{
    /// <summary>The local clock reached the grant's limit.</summary>
    [JsonStringEnumMemberName("completed")] Completed,
    /// <summary>A <c>stop</c> command from the central.</summary>
    [JsonStringEnumMemberName("stopped")] Stopped,
    /// <summary>The resident pressed the privacy button (an ordinary end: <c>session.ended</c>).</summary>
    [JsonStringEnumMemberName("privacy-paused")] PrivacyPaused,
    [JsonStringEnumMemberName("agent-stopping")] AgentStopping,
    /// <summary>Found open at start: the agent died during the look.</summary>
    [JsonStringEnumMemberName("agent-died")] AgentDied,
    /// <summary>Light, lens and camera were not ready in time.</summary>
    [JsonStringEnumMemberName("start-timeout")] StartTimeout,
    [JsonStringEnumMemberName("camera-fault")] CameraFault,
    [JsonStringEnumMemberName("servo-fault")] ServoFault,
    [JsonStringEnumMemberName("light-fault")] LightFault,
    [JsonStringEnumMemberName("storage-fault")] StorageFault,
    /// <summary>Anything unforeseen; the detail says what.</summary>
    [JsonStringEnumMemberName("fault")] Fault,
}

/// <summary>Why the resident's privacy pause ended: the <c>reason</c> of <c>privacy.resumed</c>.</summary>
[JsonConverter(typeof(WireCodeConverter<PauseEndReason>))]
public enum PauseEndReason
{
    /// <summary>The pause's time was up.</summary>
    [JsonStringEnumMemberName("expired")] Expired,
    /// <summary>The resident pressed the button again.</summary>
    [JsonStringEnumMemberName("press")] Press,
}

/// <summary>A fault the unit has: the entries of the retained status's <c>faults[]</c>.</summary>
[JsonConverter(typeof(WireCodeConverter<UnitFault>))]
public enum UnitFault
{
    /// <summary>On battery: mains power is off.</summary>
    [JsonStringEnumMemberName("power")] PowerLost,
    [JsonStringEnumMemberName("undervoltage")] Undervoltage,
    [JsonStringEnumMemberName("camera")] Camera,
    [JsonStringEnumMemberName("servo")] Servo,
    [JsonStringEnumMemberName("light")] Light,
    [JsonStringEnumMemberName("clock")] Clock,
    [JsonStringEnumMemberName("storage")] Storage,
    /// <summary>The last self-test found a part not ready.</summary>
    [JsonStringEnumMemberName("selftest")] SelfTest,
}

/// <summary>
/// The kind of a missed check's cause: the <c>reason</c> of <c>check.missed</c> (its first cause's kind),
/// and each entry of its <c>causes</c> before any <c>:</c>.
/// </summary>
[JsonConverter(typeof(WireCodeConverter<MissReason>))]
public enum MissReason
{
    /// <summary>The agent was not running during the window.</summary>
    [JsonStringEnumMemberName("agent-not-running")] AgentNotRunning,
    /// <summary>The link was down: grants could not arrive.</summary>
    [JsonStringEnumMemberName("offline")] Offline,
    /// <summary>A fault was present (<c>fault:camera</c>).</summary>
    [JsonStringEnumMemberName("fault")] Fault,
    /// <summary>A look was accepted but capture never started.</summary>
    [JsonStringEnumMemberName("look-failed")] LookFailed,
    /// <summary>Grants were refused in the window (<c>refused:not-in-window</c>).</summary>
    [JsonStringEnumMemberName("refused")] Refused,
    /// <summary>None of the above: the unit was ready and no grant came.</summary>
    [JsonStringEnumMemberName("no-grant")] NoGrant,
}

/// <summary>One entry of a missed check's <c>causes</c>: its kind and, for a fault or a refusal, which one.</summary>
public readonly record struct MissCause
{
    private MissCause(MissReason reason, string? of)
    {
        Reason = reason;
        Of = of;
    }

    public static readonly MissCause AgentNotRunning = new(MissReason.AgentNotRunning, null);
    public static readonly MissCause Offline = new(MissReason.Offline, null);
    public static readonly MissCause LookFailed = new(MissReason.LookFailed, null);
    public static readonly MissCause NoGrant = new(MissReason.NoGrant, null);

    /// <summary>A fault by its code: one of <see cref="UnitFault"/>, or one a later release recorded.</summary>
    public static MissCause Fault(string faultCode) => new(MissReason.Fault, faultCode);

    public static MissCause Refused(string reason) => new(MissReason.Refused, reason);

    public MissReason Reason { get; }

    /// <summary>Which fault or refusal; null for the other kinds.</summary>
    public string? Of { get; }

    /// <summary>The cause as the wire writes it: <c>offline</c>, <c>fault:camera</c>, <c>refused:clock-unsynced</c>.</summary>
    public string Code() => Of is null ? Reason.Code() : $"{Reason.Code()}:{Of}";
}

/// <summary>How the centre should act on an event.</summary>
[JsonConverter(typeof(WireCodeConverter<Severity>))]
public enum Severity
{
    [JsonStringEnumMemberName("info")] Info,
    [JsonStringEnumMemberName("warning")] Warning,
    /// <summary>The unit cannot do its job: send staff for a physical visit.</summary>
    [JsonStringEnumMemberName("critical")] Critical,
}

/// <summary>The wire codes of the vocabulary types, both ways.</summary>
public static class Codes
{
    /// <summary>The wire code of <paramref name="value"/>, e.g. <c>session.accepted</c>.</summary>
    public static string Code<T>(this T value) where T : struct, Enum => Table<T>.ToCode[value];

    /// <summary>The member whose wire code is <paramref name="code"/>, or null when the code is not in the set.</summary>
    public static T? Parse<T>(string? code) where T : struct, Enum =>
        code is not null && Table<T>.FromCode.TryGetValue(code, out var value) ? value : null;

    /// <summary>Every member of the set, in declaration order.</summary>
    public static IReadOnlyList<T> All<T>() where T : struct, Enum => Table<T>.Members;

    private static class Table<T> where T : struct, Enum
    {
        public static readonly IReadOnlyList<T> Members = Enum.GetValues<T>();

        public static readonly FrozenDictionary<T, string> ToCode = Members.ToFrozenDictionary(
            m => m,
            m => typeof(T).GetField(m.ToString())!.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name
                 ?? throw new InvalidOperationException($"{typeof(T).Name}.{m} has no wire code"));

        public static readonly FrozenDictionary<string, T> FromCode = ToCode.ToFrozenDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);
    }
}

/// <summary>Reads and writes a vocabulary type as its wire code; numbers and unknown codes are refused.</summary>
public sealed class WireCodeConverter<T>() : JsonStringEnumConverter<T>(namingPolicy: null, allowIntegerValues: false)
    where T : struct, Enum;

/// <summary>What an end reason means for the record of the look.</summary>
public static class EndReasons
{
    /// <summary>Ends that are not the look's ordinary end, and so are recorded as <c>session.aborted</c>.</summary>
    public static bool IsAbort(this EndReason reason) => reason is not (EndReason.Completed or EndReason.Stopped or EndReason.PrivacyPaused);
}
