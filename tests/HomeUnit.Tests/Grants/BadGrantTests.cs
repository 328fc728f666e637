using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using HomeUnit.Central;
using HomeUnit.Agent.Grants;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit;

namespace HomeUnit.Tests.Grants;

/// <summary>P1, P8: every kind of bad grant is refused with its reason, audited without secrets, and changes nothing else.</summary>
public sealed class BadGrantTests
{
    private const string Header = """{"alg":"ES256","kid":"central-1","typ":"JWT"}""";

    /// <summary>A bad grant: a name, how to make it from the rig, and the reason it must be refused with.</summary>
    public static TheoryData<string, RefusalReason> Cases()
    {
        var cases = new TheoryData<string, RefusalReason>();
        foreach (var (name, bad) in BadGrants)
        {
            cases.Add(name, bad.Reason);
        }
        return cases;
    }

    private static readonly Dictionary<string, (Func<GrantRig, string> Make, RefusalReason Reason)> BadGrants = new()
    {
        ["alg none"] = (r => TokenForge.Unsigned("""{"alg":"none","kid":"central-1"}""", r.GrantPayload().ToJsonString()), RefusalReason.BadSignature),
        ["alg none with the signature kept"] = (r => WithHeader(r.Grant(), """{"alg":"none","kid":"central-1"}"""), RefusalReason.BadSignature),
        ["HS256 with the public key as secret"] = (r => TokenForge.Hs256("""{"alg":"HS256","kid":"central-1"}""", r.GrantPayload().ToJsonString(),
            Encoding.UTF8.GetBytes(File.ReadAllText(Path.Combine(r.KeysDirectory, "central-1.pem")))), RefusalReason.BadSignature),
        ["ES384 header"] = (r => WithHeader(r.Grant(), """{"alg":"ES384","kid":"central-1"}"""), RefusalReason.BadSignature),
        ["alg missing"] = (r => WithHeader(r.Grant(), """{"kid":"central-1"}"""), RefusalReason.BadSignature),
        ["unknown kid"] = (r => Stranger(r, "central-9"), RefusalReason.UnknownKey),
        ["unknown kid, signed by the trusted key"] = (r => TokenForge.Es256(r.Key, """{"alg":"ES256","kid":"central-9"}""", r.GrantPayload().ToJsonString()), RefusalReason.UnknownKey),
        ["kid missing"] = (r => TokenForge.Es256(r.Key, """{"alg":"ES256"}""", r.GrantPayload().ToJsonString()), RefusalReason.Malformed),
        ["untrusted key using a trusted kid"] = (r => Stranger(r, "central-1"), RefusalReason.BadSignature),
        ["signature of another grant"] = (r => string.Join('.', r.Grant().Split('.')[..2].Append(r.Grant().Split('.')[2])), RefusalReason.BadSignature),
        ["one payload bit flipped"] = (r => FlipPayloadBit(r.Grant()), RefusalReason.BadSignature),
        ["signature cut short"] = (r => r.Grant()[..^10], RefusalReason.BadSignature),
        ["wrong audience"] = (r => Signed(r, p => p["aud"] = "hu-someone-else"), RefusalReason.WrongAudience),
        ["audience as an array"] = (r => Signed(r, p => p["aud"] = new JsonArray("hu-test-1")), RefusalReason.Malformed),
        ["wrong issuer"] = (r => Signed(r, p => p["iss"] = "some-other-central"), RefusalReason.UnknownKey),
        ["expired"] = (r => Window(r, nbf: -200, exp: -40), RefusalReason.Expired),
        ["not yet valid"] = (r => Window(r, nbf: 40, exp: 200), RefusalReason.NotYetValid),
        ["window too long"] = (r => Window(r, nbf: -10, exp: 291), RefusalReason.TooLong),
        ["window empty"] = (r => Window(r, nbf: 10, exp: 10), RefusalReason.Malformed),
        ["broken base64"] = (r => BreakBase64(r.Grant()), RefusalReason.Malformed),
        ["invalid UTF-8 in the header"] = (r => Base64Url.EncodeToString([.. "{\"alg\":\"ES256\",\"kid\":\""u8, 0xE3, .. "\"}"u8]) + r.Grant()[r.Grant().IndexOf('.')..], RefusalReason.Malformed),
        ["invalid UTF-8 in a claim"] = (r => WithPayloadBytes(r.Grant(), [.. "{\"sub\":\""u8, 0xE3, .. "\"}"u8]), RefusalReason.Malformed),
        ["broken JSON, signed"] = (r => r.Central.SignJson("{\"iss\":\"homeunit-central\",\"aud\":\"hu-test-1\","), RefusalReason.Malformed),
        ["JSON array, signed"] = (r => r.Central.SignJson("[]"), RefusalReason.Malformed),
        ["broken header JSON"] = (r => TokenForge.Encode("{\"alg\":") + r.Grant()[r.Grant().IndexOf('.')..], RefusalReason.Malformed),
        ["duplicate claim"] = (r => r.Central.SignJson(r.GrantPayload().ToJsonString().Replace("\"kind\":", "\"jti\":\"again\",\"kind\":")), RefusalReason.Malformed),
        ["critical header extension"] = (r => TokenForge.Es256(r.Key, """{"alg":"ES256","kid":"central-1","crit":["exp"]}""", r.GrantPayload().ToJsonString()), RefusalReason.Malformed),
        ["huge token"] = (r => Signed(r, p => p["padding"] = new string('x', 20_000)), RefusalReason.Malformed),
        ["empty"] = (_ => "", RefusalReason.Malformed),
        ["two parts"] = (r => string.Join('.', r.Grant().Split('.')[..2]), RefusalReason.Malformed),
        ["five parts (JWE)"] = (r => r.Grant() + ".AAAA.BBBB", RefusalReason.Malformed),
        ["whitespace inside"] = (r => r.Grant().Insert(20, " "), RefusalReason.Malformed),
        ["missing sub"] = (r => Signed(r, p => p.Remove("sub")), RefusalReason.Malformed),
        ["missing jti"] = (r => Signed(r, p => p.Remove("jti")), RefusalReason.Malformed),
        ["missing exp"] = (r => Signed(r, p => p.Remove("exp")), RefusalReason.Malformed),
        ["missing nbf"] = (r => Signed(r, p => p.Remove("nbf")), RefusalReason.Malformed),
        ["missing iat"] = (r => Signed(r, p => p.Remove("iat")), RefusalReason.Malformed),
        ["missing aud"] = (r => Signed(r, p => p.Remove("aud")), RefusalReason.Malformed),
        ["missing kind"] = (r => Signed(r, p => p.Remove("kind")), RefusalReason.Malformed),
        ["missing view"] = (r => Signed(r, p => p.Remove("view")), RefusalReason.Malformed),
        ["missing maxSeconds"] = (r => Signed(r, p => p.Remove("maxSeconds")), RefusalReason.Malformed),
        ["missing stream"] = (r => Signed(r, p => p.Remove("stream")), RefusalReason.Malformed),
        ["missing stream passphrase"] = (r => Signed(r, p => p["stream"]!.AsObject().Remove("passphrase")), RefusalReason.Malformed),
        ["null jti"] = (r => Signed(r, p => p["jti"] = null), RefusalReason.Malformed),
        ["maxSeconds as a string"] = (r => Signed(r, p => p["maxSeconds"] = "30"), RefusalReason.Malformed),
        ["maxSeconds fractional"] = (r => Signed(r, p => p["maxSeconds"] = 30.5), RefusalReason.Malformed),
        ["maxSeconds zero"] = (r => Signed(r, p => p["maxSeconds"] = 0), RefusalReason.Malformed),
        ["exp as a string"] = (r => Signed(r, p => p["exp"] = p["exp"]!.ToString()), RefusalReason.Malformed),
        ["exp far beyond year 9999"] = (r => Signed(r, p => p["exp"] = long.MaxValue), RefusalReason.Malformed),
        ["sub as a number"] = (r => Signed(r, p => p["sub"] = 7), RefusalReason.Malformed),
        ["stream as a string"] = (r => Signed(r, p => p["stream"] = "srt://central.example:9000"), RefusalReason.Malformed),
        ["unknown kind"] = (r => Signed(r, p => p["kind"] = "whenever"), RefusalReason.Malformed),
        ["unknown view"] = (r => Signed(r, p => p["view"] = "kitchen"), RefusalReason.Malformed),
        ["Kind with a capital letter"] = (r => Signed(r, p => { p["Kind"] = p["kind"]!.DeepClone(); p.Remove("kind"); }), RefusalReason.Malformed),
        ["follow-up without check"] = (r => Signed(r, p => p["kind"] = SessionKinds.FollowUp), RefusalReason.Malformed),
        ["stream over http"] = (r => Signed(r, p => p["stream"]!["url"] = "http://central.example:9000"), RefusalReason.Malformed),
        ["stream url with query"] = (r => Signed(r, p => p["stream"]!["url"] = "srt://central.example:9000?passphrase=x"), RefusalReason.Malformed),
        ["stream url without port"] = (r => Signed(r, p => p["stream"]!["url"] = "srt://central.example"), RefusalReason.Malformed),
        ["stream url port 70000"] = (r => Signed(r, p => p["stream"]!["url"] = "srt://central.example:70000"), RefusalReason.Malformed),
        ["passphrase of 15 characters"] = (r => Signed(r, p => p["stream"]!["passphrase"] = new string('p', 15)), RefusalReason.Malformed),
        ["passphrase of 80 characters"] = (r => Signed(r, p => p["stream"]!["passphrase"] = new string('p', 80)), RefusalReason.Malformed),
        ["stream id with a newline"] = (r => Signed(r, p => p["stream"]!["streamId"] = "look\n1"), RefusalReason.Malformed),
        // The camera's own rules (StreamTarget.Validate) decide: nothing the camera would refuse gets past the grant.
        ["stream id with a space"] = (r => Signed(r, p => p["stream"]!["streamId"] = "look 1"), RefusalReason.Malformed),
        ["stream id with a quote"] = (r => Signed(r, p => p["stream"]!["streamId"] = "look\"1"), RefusalReason.Malformed),
        ["passphrase with a space"] = (r => Signed(r, p => p["stream"]!["passphrase"] = "correct horse battery"), RefusalReason.Malformed),
        ["stream url ending in a newline"] = (r => Signed(r, p => p["stream"]!["url"] = "srt://central.example:9000\n"), RefusalReason.Malformed),
        ["stream host with an empty label"] = (r => Signed(r, p => p["stream"]!["url"] = "srt://a..b:9000"), RefusalReason.Malformed),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_grant_is_refused_with_its_reason_and_changes_nothing_else(string name, RefusalReason reason)
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan());
        var token = BadGrants[name].Make(rig);
        var recordsBefore = rig.Audit.List().Count;

        var decision = await rig.Authorizer.AuthorizeAsync(token);

        Assert.False(decision.Accepted);
        Assert.Equal(reason, decision.Reason);
        Assert.Equal(0, rig.Replay.Count());
        var added = rig.Audit.List().Skip(recordsBefore).ToList();
        var refusal = Assert.Single(added);
        Assert.Equal(AuditType.SessionRefused, refusal.Type);
        Assert.Equal(reason.Code(), refusal.Reason);
        Assert.DoesNotContain(GrantRig.Passphrase, Everything(rig));
        Assert.Null(AuditChain.Verify(rig.Audit.List()));
    }

    [Fact]
    public async Task Well_formed_grant_inside_a_planned_check_is_accepted_with_its_claims()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan());

        var decision = await rig.Authorizer.AuthorizeAsync(rig.Grant());

        var look = Assert.IsType<HomeUnit.Agent.Session.SessionRequest>(decision.Request);
        Assert.Equal("operator-7", look.Operator);
        Assert.Equal(HomeUnit.Drivers.LensPosition.Bed, look.View);
        Assert.Equal("c1", look.Check);
        Assert.Equal(TimeSpan.FromSeconds(30), look.MaxStreaming);
        Assert.Equal(GrantRig.Passphrase, look.Stream.Passphrase);
        Assert.True(rig.Replay.Contains(look.GrantId));
        Assert.Empty(rig.AuditRecords(AuditType.SessionRefused));
    }

    [Fact]
    public async Task Clock_skew_widens_acceptance_but_a_look_never_outlives_exp_as_the_unit_reads_it()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan());
        var now = rig.Clock.GetUtcNow();

        var early = await rig.Authorizer.AuthorizeAsync(Window(rig, nbf: 25, exp: 200));
        var closing = await rig.Authorizer.AuthorizeAsync(Window(rig, nbf: -200, exp: 3));
        var late = await rig.Authorizer.AuthorizeAsync(Window(rig, nbf: -200, exp: -25));

        Assert.True(early.Accepted, early.Reason?.Code());
        Assert.Equal(now.AddSeconds(200).ToUnixTimeSeconds(), early.Request!.EndBy!.Value.ToUnixTimeSeconds());
        // exp 3 s away, maxSeconds 30: the look gets the 3 s to exp, not 3 s + the skew.
        Assert.True(closing.Accepted, closing.Reason?.Code());
        Assert.True(closing.Request!.MaxStreaming <= TimeSpan.FromSeconds(3), $"{closing.Request.MaxStreaming} streams past exp");
        Assert.True(closing.Request.EndBy <= now.AddSeconds(3), $"ends at {closing.Request.EndBy}, after exp");
        // Past exp (though within the skew) nothing is left of the grant: refused, as expired.
        Assert.Equal(RefusalReason.Expired, late.Reason);
    }

    [Fact]
    public async Task MaxSeconds_is_capped_by_device_policy()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan());

        var decision = await rig.Authorizer.AuthorizeAsync(rig.Central.Grant(rig.GrantSpec() with { MaxSeconds = 3600 }, rig.Clock.GetUtcNow()));

        Assert.Equal(TrustPolicy.DefaultMaxSession, decision.Request!.MaxStreaming);
    }

    [Fact]
    public async Task Replayed_grant_is_refused()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan());
        var token = rig.Grant();

        Assert.True((await rig.LookAsync(token)).Accepted);
        var again = await rig.Authorizer.AuthorizeAsync(token);

        Assert.Equal(RefusalReason.Replayed, again.Reason);
    }

    [Fact]
    public async Task Replayed_grant_is_refused_after_restart()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan());
        var token = rig.Grant();
        Assert.True((await rig.LookAsync(token)).Accepted);

        rig.Restart();
        var again = await rig.Authorizer.AuthorizeAsync(token);

        Assert.Equal(RefusalReason.Replayed, again.Reason);
    }

    [Fact]
    public async Task Grant_is_refused_while_the_clock_is_not_synchronised()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan());
        rig.SetClockSynchronized(false);

        var decision = await rig.Authorizer.AuthorizeAsync(rig.Grant());

        Assert.Equal(RefusalReason.ClockUnsynced, decision.Reason);
        Assert.Equal(RefusalReason.ClockUnsynced.Code(), Assert.Single(rig.AuditRecords(AuditType.SessionRefused)).Reason);
        rig.SetClockSynchronized(true);
        Assert.True((await rig.Authorizer.AuthorizeAsync(rig.Grant())).Accepted);
    }

    [Fact]
    public async Task Grant_is_refused_while_a_fault_is_present_and_its_jti_stays_unused()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan());
        rig.FaultPresent = true;
        var token = rig.Grant();

        Assert.Equal(RefusalReason.Fault, (await rig.Authorizer.AuthorizeAsync(token)).Reason);
        rig.FaultPresent = false;
        Assert.True((await rig.Authorizer.AuthorizeAsync(token)).Accepted);
    }

    [Fact]
    public async Task Refusal_after_the_signature_names_grant_and_operator_but_never_the_passphrase()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan());
        rig.Clock.Advance(TimeSpan.FromHours(2));

        var decision = await rig.Authorizer.AuthorizeAsync(rig.Grant());

        var refusal = Assert.Single(rig.AuditRecords(AuditType.SessionRefused));
        Assert.Equal(RefusalReason.OutsideCarePlan, decision.Reason);
        Assert.Equal("operator-7", refusal.Operator);
        Assert.NotNull(refusal.Grant);
        Assert.DoesNotContain(GrantRig.Passphrase, Everything(rig));
    }

    private static string Everything(GrantRig rig) =>
        string.Join('\n', rig.Outbox.Peek(10_000).Select(i => i.Payload)) + File.ReadAllText(rig.Database.Path, Encoding.Latin1);

    private static string Signed(GrantRig rig, Action<JsonObject> change)
    {
        var payload = rig.GrantPayload();
        change(payload);
        return rig.Central.SignJson(payload.ToJsonString());
    }

    private static string Window(GrantRig rig, int nbf, int exp)
    {
        var now = rig.Clock.GetUtcNow().ToUnixTimeSeconds();
        return Signed(rig, p =>
        {
            p["nbf"] = now + nbf;
            p["exp"] = now + exp;
        });
    }

    private static string Stranger(GrantRig rig, string kid)
    {
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new CentralSigner(stranger, kid, CentralSigner.DefaultIssuer).Grant(rig.GrantSpec(), rig.Clock.GetUtcNow());
    }

    private static string WithHeader(string token, string header) => TokenForge.Encode(header) + token[token.IndexOf('.')..];

    private static string WithPayloadBytes(string token, byte[] payload)
    {
        var parts = token.Split('.');
        return $"{parts[0]}.{Base64Url.EncodeToString(payload)}.{parts[2]}";
    }

    private static string FlipPayloadBit(string token)
    {
        var parts = token.Split('.');
        var payload = Encoding.UTF8.GetBytes(TokenForge.Decode(parts[1]));
        payload[payload.Length / 2] ^= 0x01;
        return $"{parts[0]}.{Base64Url.EncodeToString(payload)}.{parts[2]}";
    }

    private static string BreakBase64(string token)
    {
        var parts = token.Split('.');
        // A single character more leaves a length no base64 can have.
        return $"{parts[0]}.{parts[1]}A.{parts[2]}";
    }
}
