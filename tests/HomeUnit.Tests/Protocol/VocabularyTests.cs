using System.Text.Json;
using HomeUnit.Protocol;

namespace HomeUnit.Tests.Protocol;

/// <summary>The protocol's words are closed sets: each member has one wire code, and nothing else is read or written.</summary>
public sealed class VocabularyTests
{
    [Fact]
    public void Every_word_is_written_and_read_as_its_wire_code()
    {
        AssertRoundTrip<EventType>();
        AssertRoundTrip<AuditType>();
        AssertRoundTrip<RefusalReason>();
        AssertRoundTrip<EndReason>();
        AssertRoundTrip<UnitFault>();
        AssertRoundTrip<Severity>();
        AssertRoundTrip<HandoverEndReason>();
        AssertRoundTrip<PauseEndReason>();
        AssertRoundTrip<MissReason>();
    }

    [Fact]
    public void A_missed_checks_causes_are_written_as_kind_or_kind_and_which()
    {
        Assert.Equal(["offline", "fault:camera", "refused:clock-unsynced", "no-grant"],
            new[] { MissCause.Offline, MissCause.Fault(UnitFault.Camera.Code()), MissCause.Refused(RefusalReason.ClockUnsynced.Code()), MissCause.NoGrant }
                .Select(c => c.Code()));
    }

    [Theory]
    [InlineData("\"session.unknown\"")]
    [InlineData("\"SessionAccepted\"")]
    [InlineData("0")]
    [InlineData("\"0\"")]
    public void A_code_outside_its_set_is_not_read(string json)
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<AuditType>(json, Wire.Json));
        Assert.Null(Codes.Parse<AuditType>(json.Trim('"')));
    }

    [Fact]
    public void Refusal_reasons_are_exactly_the_design_codes_and_those_of_several_centrals()
    {
        Assert.Equal(
            ["bad-signature", "unknown-key", "wrong-audience", "expired", "not-yet-valid", "replayed", "outside-care-plan",
             "paused-night", "busy", "clock-unsynced", "fault", "malformed", "too-long", "privacy-paused",
             "standby-not-active", "primary-not-active", "not-primary", "unknown-central"],
            Codes.All<RefusalReason>().Select(r => r.Code()));
    }

    [Fact]
    public void Only_completed_stopped_and_privacy_paused_are_ordinary_ends()
    {
        Assert.Equal([EndReason.Completed, EndReason.Stopped, EndReason.PrivacyPaused], Codes.All<EndReason>().Where(r => !r.IsAbort()));
    }

    [Fact]
    public void An_audit_record_carries_its_type_as_a_code_and_its_detail_beside_the_reason()
    {
        var record = new AuditRecord { Type = AuditType.SessionAborted, Reason = EndReason.CameraFault.Code(), Detail = "ffmpeg exited" };
        var json = JsonSerializer.Serialize(record, Wire.Json);
        Assert.Contains("\"type\":\"session.aborted\"", json);
        Assert.Contains("\"reason\":\"camera-fault\",\"detail\":\"ffmpeg exited\"", json);
        Assert.Equal(record, JsonSerializer.Deserialize<AuditRecord>(json, Wire.Json));
    }

    private static void AssertRoundTrip<T>() where T : struct, Enum
    {
        var codes = Codes.All<T>().Select(m => m.Code()).ToList();
        Assert.Equal(codes.Count, codes.Distinct(StringComparer.Ordinal).Count());
        foreach (var member in Codes.All<T>())
        {
            var json = JsonSerializer.Serialize(member, Wire.Json);
            Assert.Equal($"\"{member.Code()}\"", json);
            Assert.Equal(member, JsonSerializer.Deserialize<T>(json, Wire.Json));
            Assert.Equal(member, Codes.Parse<T>(member.Code()));
        }
    }
}
