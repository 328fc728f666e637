using System.Buffers.Text;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HomeUnit.Central;
using HomeUnit.Drivers;
using HomeUnit.Protocol;

namespace HomeUnit.TestSupport;

/// <summary>One fuzzed input: a payload for one of the unit's inbound topics, and what kind of damage it carries.</summary>
public sealed record FuzzInput(string Topic, byte[] Payload, string Kind);

/// <summary>
/// What a fuzz run did to a running unit. A sound run has <see cref="Accepted"/>, <see cref="Exceptions"/>,
/// <see cref="Errors"/> and <see cref="Captures"/> all 0 and <see cref="Problems"/> empty.
/// </summary>
public sealed record FuzzFigures(
    string Run,
    int Inputs,
    IReadOnlyDictionary<string, int> InputsByKind,
    int Refused,
    int RefusalRecords,
    int FaultEvents,
    int Accepted,
    int Exceptions,
    int Errors,
    int Captures,
    double Seconds,
    IReadOnlyList<string> Problems)
{
    public double InputsPerSecond => Seconds > 0 ? Math.Round(Inputs / Seconds, 1) : 0;

    /// <summary>The figures as one JSON line (what docs/reliability.md quotes).</summary>
    public string ToJson() => JsonSerializer.Serialize(new
    {
        bench = "fuzz-" + Run, inputs = Inputs, refused = Refused, refusalRecords = RefusalRecords, faultEvents = FaultEvents,
        accepted = Accepted, exceptions = Exceptions, errors = Errors, captures = Captures,
        seconds = Math.Round(Seconds, 2), inputsPerSecond = InputsPerSecond, byKind = InputsByKind, problems = Problems,
    });
}

/// <summary>
/// Fuzzes every inbound topic of a running unit at the MQTT payload level, through the real broker, the
/// unit's real link and its routing of the central's messages: random bytes, invalid UTF-8, boundary
/// sizes around the unit's payload limit, deep and huge JSON, JWS-shaped junk, mutated tokens, and tokens
/// validly signed by the trusted key whose claims are damaged (each with at least one fault that must be
/// refused, so none may start a look or replace the care plan). Then a signed self-test command: once its
/// readiness event arrives, every input before it has been handled.
/// </summary>
public static class InboundFuzz
{
    private static readonly string[] InboundTopics = [Topics.Grant, Topics.Command, Topics.CarePlan];

    /// <summary>Small edge cases and sizes up to the broker's packet limit (64 KiB with the topic and headers; larger is refused at the broker).</summary>
    private static readonly int[] BoundarySizes = [0, 1, 2, 3, 63, 64, 255, 256, 1023, 1024, 4096, 16_384, 32_768, 60_000, 65_000, 65_400, 65_450];

    /// <summary>Runs <paramref name="count"/> inputs against the unit of <paramref name="central"/>, which must be running with a care plan in force.</summary>
    public static async Task<FuzzFigures> RunAsync(SimulatedCentral central, int count, int seed, long planVersion)
    {
        var agent = central.Agent ?? throw new InvalidOperationException("start the unit first");
        var random = new Random(seed);
        var auditBefore = central.AuditRecords.Count;
        var outputBefore = agent.Output.Length;
        var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var input = Next(random, central.Signer, central.DeviceId, planVersion);
            kinds[input.Kind] = kinds.GetValueOrDefault(input.Kind) + 1;
            await central.Client.PublishAsync(central.Topic(input.Topic), input.Payload);
        }
        await SettleAsync(central);
        watch.Stop();

        var audit = central.AuditRecords.Skip(auditBefore).ToList();
        var output = agent.Output[outputBefore..];
        var problems = new List<string>();
        var foreign = audit.Where(r => r.Type is not (AuditType.SessionRefused or AuditType.CarePlanRefused or AuditType.CommandRefused)).Select(r => $"{r.Type} {r.Reason}").Distinct().ToList();
        if (foreign.Count > 0)
        {
            problems.Add("audit records other than refusals: " + string.Join(", ", foreign));
        }
        if (agent.HasExited)
        {
            problems.Add($"the agent exited with {agent.ExitCode}");
        }
        var accepted = audit.Count(r => r.Type is AuditType.SessionAccepted or AuditType.SessionStarted or AuditType.CarePlanApplied);
        var timeline = HardwareTimeline.ReadFile(Path.Combine(central.StateDirectory, "timeline.jsonl"));
        var captures = timeline.Count(e => e.Part == Parts.Capture && e.State.StartsWith("on", StringComparison.Ordinal))
            + timeline.Count(e => e.Part == Parts.Green && e.State == "on");
        // Refusal records are rate-limited (design §4), so "refused" counts the inputs that changed nothing.
        return new FuzzFigures("inbound", count, kinds, count - accepted, audit.Count, 0, accepted,
            Exceptions(output), Errors(output), captures, watch.Elapsed.TotalSeconds, problems);
    }

    /// <summary>A message handler that threw (the routing catches and logs it) or an exception nobody caught.</summary>
    public static int Exceptions(string agentOutput) =>
        Lines(agentOutput).Count(l => l.Contains("could not be handled", StringComparison.Ordinal) || l.Contains("Unhandled exception", StringComparison.Ordinal));

    /// <summary>Error and critical log lines other than the unit's own fault events: bad input must never produce one.</summary>
    public static int Errors(string agentOutput) =>
        Lines(agentOutput).Count(l => (l.Contains(" fail: ", StringComparison.Ordinal) || l.Contains(" crit: ", StringComparison.Ordinal))
            && !l.Contains(" HomeUnit.Agent.Events[", StringComparison.Ordinal));

    private static IEnumerable<string> Lines(string text) => text.Split('\n');

    /// <summary>Waits until the unit has handled everything sent so far: a signed self-test's readiness event comes after.</summary>
    public static async Task SettleAsync(SimulatedCentral central)
    {
        var before = central.Client.Messages.Count;
        await central.PublishCommandAsync(CommandNames.SelfTest);
        await central.Client.WaitForAsync(m => m.Topic == central.Topic(Topics.Event)
            && SimulatedCentral.Json(m).GetProperty("type").GetString() == "readiness"
            && central.Client.Messages.Skip(before).Contains(m), "the readiness event after the fuzzed inputs", TimeSpan.FromMinutes(5));
    }

    public static FuzzInput Next(Random random, CentralSigner signer, string deviceId, long planVersion)
    {
        var input = Generate(random, signer, deviceId, planVersion);
        return input.Payload.Length <= MaxPayload ? input : input with { Payload = input.Payload[..MaxPayload] };
    }

    /// <summary>The largest payload the broker passes on to a unit (its packet limit less the topic and headers).</summary>
    private const int MaxPayload = 65_450;

    private static FuzzInput Generate(Random random, CentralSigner signer, string deviceId, long planVersion)
    {
        var topic = InboundTopics[random.Next(InboundTopics.Length)];
        return random.Next(9) switch
        {
            0 => new(topic, RandomBytes(random, BoundarySizes[random.Next(BoundarySizes.Length)]), "random-bytes"),
            1 => new(topic, RandomBytes(random, random.Next(1, 2048)), "random-bytes"),
            2 => new(topic, InvalidUtf8(random, Valid(topic, random, signer, deviceId, planVersion)), "invalid-utf8"),
            3 => new(topic, Encoding.UTF8.GetBytes(DeepJson(random, random.Next(64, 20_000))), "deep-json"),
            4 => new(topic, Encoding.UTF8.GetBytes(HugeJson(random, BoundarySizes[random.Next(8, BoundarySizes.Length)])), "huge-json"),
            5 => new(topic, Encoding.UTF8.GetBytes(JwsShaped(random)), "jws-shaped"),
            6 => new(topic, Encoding.UTF8.GetBytes(Mutate(random, Valid(topic, random, signer, deviceId, planVersion))), "mutated-token"),
            _ => new(topic, Encoding.UTF8.GetBytes(SignedDamaged(topic, random, signer, deviceId, planVersion)), "signed-damaged"),
        };
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] InvalidUtf8(Random random, string token)
    {
        byte[][] bad = [[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]];
        var bytes = Encoding.UTF8.GetBytes(token).ToList();
        bytes.InsertRange(random.Next(bytes.Count + 1), bad[random.Next(bad.Length)]);
        return [.. bytes];
    }

    private static string DeepJson(Random random, int depth) => random.Next(3) switch
    {
        0 => new string('[', depth) + new string(']', depth),
        1 => string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth),
        _ => new string('[', depth), // unterminated
    };

    private static string HugeJson(Random random, int size) => random.Next(3) switch
    {
        0 => "{\"a\":\"" + new string('x', Math.Max(0, size - 8)) + "\"}",
        1 => "[" + string.Join(',', Enumerable.Repeat("1e308", Math.Max(1, size / 6))) + "]",
        _ => "{" + string.Join(',', Enumerable.Range(0, Math.Max(1, size / 14)).Select(i => $"\"k{i}\":{i}")) + "}",
    };

    private static string B64(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));

    private static string JwsShaped(Random random)
    {
        string[] headers = ["{\"alg\":\"none\"}", "{\"alg\":\"HS256\",\"kid\":\"central-demo\"}", "{\"alg\":\"ES256\",\"kid\":\"../../etc/passwd\"}",
            "{\"alg\":\"ES256\"}", "[]", "null", "{\"alg\":\"ES256\",\"kid\":\"central-demo\",\"crit\":[\"x\"]}", DeepJson(random, 5000), "{\"alg\":\"ES256\",\"kid\":" + DeepJson(random, 200) + "}"];
        string[] bodies = ["{}", "[]", "1", "\"s\"", DeepJson(random, 5000), HugeJson(random, 20_000), "{\"aud\":[\"a\",{\"b\":[]}],\"exp\":1e400}"];
        var signature = random.Next(3) switch { 0 => "", 1 => "AAAA", _ => Base64Url.EncodeToString(RandomBytes(random, 64)) };
        var parts = new[] { B64(headers[random.Next(headers.Length)]), B64(bodies[random.Next(bodies.Length)]), signature };
        return random.Next(6) == 0 ? string.Join('.', parts.Take(random.Next(1, 3))) + new string('.', random.Next(0, 4)) : string.Join('.', parts);
    }

    private static string Mutate(Random random, string token)
    {
        var chars = token.ToCharArray();
        switch (random.Next(4))
        {
            case 0:
                for (var n = random.Next(1, 4); n > 0; n--)
                {
                    chars[random.Next(chars.Length)] = (char)random.Next(32, 127);
                }
                return new string(chars);
            case 1:
                return token[..random.Next(token.Length)];
            case 2:
                return token + token[random.Next(token.Length)..];
            default:
                var dots = token.Split('.');
                return string.Join('.', dots.Reverse());
        }
    }

    /// <summary>A well-formed token for <paramref name="topic"/> that the unit must still refuse (wrong audience).</summary>
    private static string Valid(string topic, Random random, CentralSigner signer, string deviceId, long planVersion) =>
        SignedDamaged(topic, random, signer, deviceId, planVersion, poisonOnly: true);

    /// <summary>
    /// A token signed by the trusted key whose claims start valid and are then damaged: one poison that the
    /// unit must refuse whatever else is in it, and, unless <paramref name="poisonOnly"/>, more damage to other claims.
    /// </summary>
    private static string SignedDamaged(string topic, Random random, CentralSigner signer, string deviceId, long planVersion, bool poisonOnly = false)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var claims = topic switch
        {
            Topics.Grant => new JsonObject
            {
                ["iss"] = signer.Issuer, ["aud"] = deviceId, ["sub"] = "operator-fuzz", ["jti"] = Guid.NewGuid().ToString(),
                ["iat"] = now, ["nbf"] = now - 5, ["exp"] = now + 60, ["kind"] = SessionKinds.Scheduled, ["view"] = Views.Bed, ["maxSeconds"] = 20,
                ["stream"] = new JsonObject { ["url"] = "srt://127.0.0.1:9", ["streamId"] = "fuzz", ["passphrase"] = SimulatedCentral.Passphrase }, ["check"] = "c1",
            },
            Topics.Command => new JsonObject
            {
                ["iss"] = signer.Issuer, ["aud"] = deviceId, ["jti"] = Guid.NewGuid().ToString(),
                ["iat"] = now, ["nbf"] = now - 5, ["exp"] = now + 60, ["name"] = CommandNames.Pan, ["grant"] = Guid.NewGuid().ToString(), ["view"] = Views.Room,
            },
            _ => new JsonObject
            {
                ["iss"] = signer.Issuer, ["aud"] = deviceId, ["iat"] = now, ["version"] = planVersion + 1 + random.Next(1000), ["tz"] = "Europe/Stockholm",
                ["checks"] = new JsonArray(new JsonObject { ["id"] = "c1", ["at"] = "22:30", ["toleranceMinutes"] = 15 }), ["validFrom"] = now - 60,
                ["followUp"] = new JsonObject { ["withinMinutes"] = 30, ["max"] = 2 }, ["pausedNights"] = new JsonArray(),
            },
        };
        Poison(topic, claims, random, deviceId, planVersion);
        if (!poisonOnly)
        {
            for (var n = random.Next(0, 4); n > 0; n--)
            {
                var names = claims.Select(p => p.Key).Where(k => k is not ("aud" or "version" or "exp" or "nbf" or "name" or "tz")).ToList();
                claims[names[random.Next(names.Count)]] = BadValue(random);
            }
        }
        return signer.SignJson(claims.ToJsonString());
    }

    /// <summary>One damage that alone makes the token refused.</summary>
    private static void Poison(string topic, JsonObject claims, Random random, string deviceId, long planVersion)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        switch (random.Next(4))
        {
            case 0:
                claims["aud"] = random.Next(2) == 0 ? deviceId + "-other" : BadValue(random);
                return;
            case 1 when topic != Topics.CarePlan:
                claims["exp"] = now - 3600 - random.Next(100_000);
                claims["nbf"] = now - 3700 - random.Next(100_000);
                return;
            case 1:
                // Never a larger integer: that would be a valid newer care plan.
                claims["version"] = random.Next(2) == 0 ? planVersion - random.Next(0, 3) : BadValue(random, largeInteger: false);
                return;
            case 2 when topic == Topics.Grant:
                claims["kind"] = random.Next(2) == 0 ? "sightseeing" : BadValue(random);
                return;
            case 2 when topic == Topics.Command:
                claims["name"] = random.Next(2) == 0 ? "unlock" : BadValue(random);
                return;
            case 2:
                claims["tz"] = random.Next(2) == 0 ? "Mars/Olympus_Mons" : BadValue(random);
                return;
            default:
                claims["nbf"] = now + 3600 + random.Next(100_000);
                claims["exp"] = now + 3700 + random.Next(100_000);
                if (topic == Topics.CarePlan)
                {
                    claims["checks"] = new JsonArray(new JsonObject { ["id"] = "c1", ["at"] = random.Next(2) == 0 ? "25:99" : "ab:cd", ["toleranceMinutes"] = 15 });
                }
                return;
        }
    }

    private static JsonNode? BadValue(Random random, bool largeInteger = true) => random.Next(10) switch
    {
        0 => null,
        1 => JsonValue.Create(-1),
        2 => largeInteger ? JsonValue.Create(long.MaxValue) : JsonValue.Create("seven"),
        3 => JsonValue.Create(1e308),
        4 => JsonValue.Create(""),
        5 => JsonValue.Create(new string('z', random.Next(1000, 20_000))),
        6 => new JsonArray(1, "two", null),
        7 => JsonNode.Parse(new string('[', 40) + new string(']', 40)),
        8 => JsonValue.Create(true),
        _ => new JsonObject { ["nested"] = new JsonObject { ["deeper"] = JsonValue.Create("\u0000\ud7ff\u202e") } },
    };
}
