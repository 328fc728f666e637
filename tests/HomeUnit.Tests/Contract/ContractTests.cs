using System.Text;
using System.Text.Json.Nodes;
using HomeUnit.Central;
using HomeUnit.Protocol;

namespace HomeUnit.Tests.Contract;

/// <summary>
/// docs/schemas against the code: the closed sets of words are the same on both sides, the schemas do
/// refuse what breaks the contract, and what the central signs has the claims the schemas describe.
/// What the agent publishes is held against them by the end-to-end tests.
/// </summary>
public sealed class ContractTests
{
    private static string[] CodesOf<T>() where T : struct, Enum => [.. Codes.All<T>().Select(v => v.Code())];

    private static IEnumerable<string> Enum(string schema, string path)
    {
        JsonNode node = ContractSchemas.Document(schema);
        foreach (var step in path.Split('/'))
        {
            node = node[step]!;
        }
        return node["enum"]!.AsArray().Select(v => v!.GetValue<string>());
    }

    /// <summary>The type const of every branch of a oneOf: the event or audit types the schema knows.</summary>
    private static IEnumerable<string> Branches(string schema) =>
        ContractSchemas.Document(schema)["oneOf"]!.AsArray().Select(b => b!["properties"]!["type"]!["const"]!.GetValue<string>());

    public static TheoryData<string, string[], string[]> Vocabularies() => new()
    {
        { "event types", CodesOf<EventType>(), [.. Branches("event")] },
        { "audit types", CodesOf<AuditType>(), [.. Branches("audit")] },
        { "refusal reasons", CodesOf<RefusalReason>(), [.. Enum("common", "definitions/refusalReason")] },
        { "end reasons", CodesOf<EndReason>(), [.. Enum("common", "definitions/endReason")] },
        { "severities", CodesOf<Severity>(), [.. Enum("common", "definitions/severity")] },
        { "faults", CodesOf<UnitFault>(), [.. Enum("common", "definitions/unitFault")] },
        { "miss reasons", CodesOf<MissReason>(), [.. Enum("common", "definitions/missReason")] },
        { "pause end reasons", CodesOf<PauseEndReason>(), [.. Enum("common", "definitions/pauseEndReason")] },
        { "look kinds", [.. SessionKinds.All], [.. Enum("common", "definitions/lookKind")] },
        { "views", [.. Views.All], [.. Enum("common", "definitions/view")] },
        { "commands", [.. CommandNames.All], [.. Enum("common", "definitions/commandName")] },
        { "handover end reasons", CodesOf<HandoverEndReason>(), [.. Enum("common", "definitions/handoverEndReason")] },
    };

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void Every_word_of_the_protocol_is_in_the_schemas_and_nothing_else(string what, string[] code, string[] schema)
    {
        Assert.True(code.Length > 0, what);
        Assert.Equal(code.Order(StringComparer.Ordinal), schema.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void End_reasons_split_into_ordinary_ends_and_aborts_as_the_session_machine_records_them()
    {
        var ordinary = Enum("common", "definitions/ordinaryEndReason").ToHashSet();
        var aborts = Enum("common", "definitions/abortReason").ToHashSet();
        foreach (var reason in Codes.All<EndReason>())
        {
            var code = reason.Code();
            Assert.True(reason.IsAbort() ? aborts.Contains(code) && !ordinary.Contains(code) : ordinary.Contains(code) && !aborts.Contains(code), code);
        }
    }

    private const string Hash = "5f0c9a3e1b7d2c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e";
    private static readonly string Genesis = new('0', 64);

    public static TheoryData<string, string> Valid() => new()
    {
        { "status", """{"state":"online","version":"0.1.0","since":"2026-12-01T21:00:00.000Z","ready":false,"faults":["power"]}""" },
        { "status", """{"state":"offline","version":"0.1.0","since":"2026-12-01T21:00:00.000Z","ready":false,"faults":[]}""" },
        { "event", """{"id":"0f8e4c36-8f5e-4a0e-a3c4-7d2b1c9e6a10","seq":3,"at":"2026-12-01T21:00:00.000Z","type":"agent.stopping","severity":"info"}""" },
        { "event", """{"id":"0f8e4c36-8f5e-4a0e-a3c4-7d2b1c9e6a10","seq":3,"at":"2026-12-01T21:00:00.000Z","type":"link.restored","severity":"info","data":{"downSeconds":4.2,"lostAt":"2026-12-01T20:59:55.000Z"}}""" },
        { "audit", $$"""{"seq":1,"at":"2026-12-01T21:00:00.000Z","type":"agent.started","device":"unit-1","prev":"{{Genesis}}","hash":"{{Hash}}"}""" },
        { "audit", $$"""{"seq":9,"at":"2026-12-01T21:00:00.000Z","type":"session.refused","device":"unit-1","reason":"bad-signature","count":40,"prev":"{{Hash}}","hash":"{{Hash}}"}""" },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Messages_as_the_contract_describes_them_pass(string schema, string json) =>
        Assert.Null(ContractSchemas.Problems(schema, json));

    public static TheoryData<string, string> Invalid() => new()
    {
        // offline yet ready
        { "status", """{"state":"offline","version":"0.1.0","since":"2026-12-01T21:00:00.000Z","ready":true,"faults":[]}""" },
        // a fault the protocol has no word for
        { "status", """{"state":"online","version":"0.1.0","since":"2026-12-01T21:00:00.000Z","ready":false,"faults":["gremlins"]}""" },
        // an event type the contract does not know
        { "event", """{"id":"0f8e4c36-8f5e-4a0e-a3c4-7d2b1c9e6a10","seq":3,"at":"2026-12-01T21:00:00.000Z","type":"camera.exploded","severity":"critical"}""" },
        // power.lost must be critical
        { "event", """{"id":"0f8e4c36-8f5e-4a0e-a3c4-7d2b1c9e6a10","seq":3,"at":"2026-12-01T21:00:00.000Z","type":"power.lost","severity":"info","data":{"reason":"mains offline"}}""" },
        // readiness without its parts
        { "event", """{"id":"0f8e4c36-8f5e-4a0e-a3c4-7d2b1c9e6a10","seq":3,"at":"2026-12-01T21:00:00.000Z","type":"readiness","severity":"critical","data":{"ready":false}}""" },
        // local time instead of UTC
        { "event", """{"id":"0f8e4c36-8f5e-4a0e-a3c4-7d2b1c9e6a10","seq":3,"at":"2026-12-01T22:00:00+01:00","type":"agent.stopping","severity":"info"}""" },
        // an audit record without its hash
        { "audit", $$"""{"seq":1,"at":"2026-12-01T21:00:00.000Z","type":"agent.started","device":"unit-1","prev":"{{Genesis}}"}""" },
        // a refusal with a reason that is prose, not a code
        { "audit", $$"""{"seq":2,"at":"2026-12-01T21:00:00.000Z","type":"session.refused","device":"unit-1","reason":"the signature is bad","prev":"{{Hash}}","hash":"{{Hash}}"}""" },
        // a field that does not belong to its type
        { "audit", $$"""{"seq":2,"at":"2026-12-01T21:00:00.000Z","type":"careplan.applied","device":"unit-1","version":3,"operator":"op-1","prev":"{{Hash}}","hash":"{{Hash}}"}""" },
        // a passphrase has no place in an audit record
        { "audit", $$"""{"seq":2,"at":"2026-12-01T21:00:00.000Z","type":"agent.started","device":"unit-1","passphrase":"demo-passphrase-0123456789","prev":"{{Hash}}","hash":"{{Hash}}"}""" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Messages_that_break_the_contract_are_caught(string schema, string json) =>
        Assert.NotNull(ContractSchemas.Problems(schema, json));

    private static string Claims(string token) =>
        Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(token.Split('.')[1]));

    [Fact]
    public void What_the_central_signs_has_the_claims_the_schemas_describe()
    {
        var (privatePem, _) = CentralSigner.CreateKeyPair();
        using var key = System.Security.Cryptography.ECDsa.Create();
        key.ImportFromPem(privatePem);
        var signer = new CentralSigner(key, "k1", CentralSigner.DefaultIssuer);
        var now = DateTimeOffset.UtcNow;

        var grant = signer.Grant(new GrantSpec("unit-1", "operator-42", SessionKinds.FollowUp, Views.Room, now, TimeSpan.FromMinutes(2), 30,
            new StreamPayload("srt://central.example:9000", "look-1", "demo-passphrase-0123456789"), "c1"), now);
        var plan = signer.Sign(new CarePlanPayload(signer.Issuer, "unit-1", now.ToUnixTimeSeconds(), 2, "Europe/Stockholm",
            [new CarePlanCheck("c1", "22:30", 15)], now.ToUnixTimeSeconds(), new FollowUpRule(30, 2), ["2026-12-24"]));
        var command = signer.Command("unit-1", CommandNames.Pan, now, TimeSpan.FromMinutes(1), "g-1", Views.Bed);

        Assert.Null(ContractSchemas.Problems("grant", Claims(grant)));
        Assert.Null(ContractSchemas.Problems("careplan", Claims(plan)));
        Assert.Null(ContractSchemas.Problems("command", Claims(command)));
        Assert.Null(ContractSchemas.Problems("command", Claims(signer.Handover("unit-1", "standby-centre", now, TimeSpan.FromMinutes(1), now.AddHours(1)))));
        Assert.NotNull(ContractSchemas.Problems("command", Claims(signer.Command("unit-1", CommandNames.Pan, now, TimeSpan.FromMinutes(1)))));
    }
}
