using System.Buffers.Text;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using HomeUnit.Central;
using HomeUnit.Agent;
using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.State;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.Bench;

/// <summary>
/// <c>fuzz-tokens [count] [seed]</c>: mutated grants (bit flips, truncation, header and claim swaps,
/// alg changes, re-encoding, junk) through the real <see cref="SessionAuthorizer"/> on a real state
/// database. The valid grants the mutants come from are used once first, so a mutant that still
/// carries a valid signature meets the replay cache. Prints one JSON object per line: the baseline
/// (verifying valid grants) and the fuzz run (accepted and escaped exceptions must both be 0).
/// </summary>
public static class TokenFuzz
{
    private const string DeviceId = "hu-fuzz";

    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 1 ? int.Parse(args[1]) : 100_000;
        var random = new Random(args.Length > 2 ? int.Parse(args[2]) : 20261122);
        var root = Directory.CreateTempSubdirectory("homeunit-fuzz-").FullName;
        try
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var device = CreateDevice(root, key);
            var central = new CentralSigner(key, "central-1", CentralSigner.DefaultIssuer);
            var publicPem = Encoding.UTF8.GetBytes(key.ExportSubjectPublicKeyInfoPem());

            // Baseline: valid grants through the same verifier (signature and claims), in this run, after a warm-up.
            var valid = Enumerable.Range(0, 5000).Select(_ => Grant(central)).ToList();
            foreach (var token in valid.Take(500))
            {
                await device.Grants.ReadAsync(token);
            }
            var watch = Stopwatch.StartNew();
            foreach (var token in valid)
            {
                if ((await device.Grants.ReadAsync(token)).Value is null)
                {
                    throw new InvalidOperationException("a valid grant failed verification");
                }
            }
            var baselineRate = valid.Count / watch.Elapsed.TotalSeconds;
            Print(new { bench = "fuzz-tokens", phase = "baseline", tokens = valid.Count, seconds = Math.Round(watch.Elapsed.TotalSeconds, 3), tokensPerSecond = Math.Round(baselineRate) });

            var seeds = Enumerable.Range(0, 16).Select(_ => Grant(central)).ToList();
            foreach (var seed in seeds)
            {
                if (!(await device.Authorizer.AuthorizeAsync(seed)).Accepted)
                {
                    throw new InvalidOperationException("a seed grant was refused");
                }
            }

            var reasons = new SortedDictionary<string, long>(StringComparer.Ordinal);
            var exceptions = new SortedDictionary<string, long>(StringComparer.Ordinal);
            long accepted = 0;
            watch.Restart();
            for (var i = 0; i < count; i++)
            {
                var mutant = Mutate(seeds[random.Next(seeds.Count)], seeds, publicPem, random);
                try
                {
                    var decision = await device.Authorizer.AuthorizeAsync(mutant);
                    if (decision.Accepted)
                    {
                        accepted++;
                    }
                    else
                    {
                        reasons[decision.Reason!.Value.Code()] = reasons.GetValueOrDefault(decision.Reason!.Value.Code()) + 1;
                    }
                }
                catch (Exception e)
                {
                    exceptions[e.GetType().Name] = exceptions.GetValueOrDefault(e.GetType().Name) + 1;
                }
            }
            var fuzzRate = count / watch.Elapsed.TotalSeconds;
            device.Refusals.Flush();
            var chainIntact = AuditChain.Verify(device.Audit.List()) is null;
            Print(new
            {
                bench = "fuzz-tokens", phase = "fuzz", tokens = count, accepted, exceptionsEscaped = exceptions.Values.Sum(),
                seconds = Math.Round(watch.Elapsed.TotalSeconds, 3), tokensPerSecond = Math.Round(fuzzRate),
                ratioToBaseline = Math.Round(fuzzRate / baselineRate, 3), reasons, exceptions,
                auditRecords = device.Audit.List().Count, chainIntact,
            });
            return accepted == 0 && exceptions.Count == 0 && chainIntact ? 0 : 1;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed record FuzzedDevice(GrantVerifier Grants, SessionAuthorizer Authorizer, RefusalAudit Refusals, AuditLog Audit);

    private static FuzzedDevice CreateDevice(string root, ECDsa key)
    {
        var keys = Directory.CreateDirectory(Path.Combine(root, "keys")).FullName;
        File.WriteAllText(Path.Combine(keys, "central-1.pem"), key.ExportSubjectPublicKeyInfoPem());
        var hardware = Path.Combine(root, "hw");
        Directory.CreateDirectory(Path.Combine(hardware, "run/systemd/timesync"));
        File.WriteAllText(Path.Combine(hardware, ClockTrust.SynchronizedMarker), "");
        var clock = TimeProvider.System;
        var policy = new TrustPolicy(DeviceId, TrustPolicy.DefaultClockSkew, TrustPolicy.DefaultMaxSession);
        var database = new StateDatabase(Path.Combine(root, "state"), 100_000);
        var audit = new AuditLog(database, DeviceId, clock);
        var refusals = new RefusalAudit(audit, clock, NullLogger<RefusalAudit>.Instance);
        var trusted = TrustedKeys.Load(keys);
        var supervision = new Supervision(database, trusted, audit, new Events(database, clock, NullLogger<Events>.Instance), clock, NullLogger<Supervision>.Instance);
        var reader = new SignedTokenReader(trusted, policy);
        var plans = new CarePlanStore(database, reader, supervision, audit, refusals, NullLogger<CarePlanStore>.Instance);
        var grants = new GrantVerifier(reader, policy);
        var authorizer = new SessionAuthorizer(grants, policy, new ClockTrust(new KernelFiles(hardware)), new ReplayCache(database), plans, supervision, audit, refusals,
            () => false, clock, NullLogger<SessionAuthorizer>.Instance);
        return new FuzzedDevice(grants, authorizer, refusals, audit);
    }

    /// <summary>An installation grant: with no care plan on the device it is valid as it stands.</summary>
    private static string Grant(CentralSigner central) => central.Grant(new GrantSpec(
        DeviceId, "operator-1", SessionKinds.Installation, Views.Bed, DateTimeOffset.UtcNow.AddSeconds(-5), TimeSpan.FromMinutes(4), 30,
        new StreamPayload("srt://gateway.example:9000", "look", "fuzzing-passphrase-0123")), DateTimeOffset.UtcNow);

    private static string Mutate(string token, List<string> seeds, byte[] publicPem, Random random)
    {
        var rounds = random.Next(1, 4);
        for (var i = 0; i < rounds; i++)
        {
            token = random.Next(12) switch
            {
                0 => FlipCharBit(token, random),
                1 => FlipDecodedBit(token, random),
                2 => token[..random.Next(token.Length + 1)],
                3 => SwapPart(token, seeds[random.Next(seeds.Count)], random.Next(3)),
                4 => WithHeader(token, random.GetItems(AlgHeaders, 1)[0], keepSignature: random.Next(2) == 0),
                5 => Hs256WithPublicKey(token, publicPem),
                6 => ChangeClaim(token, random),
                7 => ReEncode(token, random),
                8 => Splice(token, random),
                9 => TweakSignatureTail(token, random),
                10 => Junk(random),
                _ => Repeat(token, random),
            };
        }
        return token;
    }

    private static readonly string[] AlgHeaders =
    [
        """{"alg":"none","kid":"central-1"}""", """{"alg":"HS256","kid":"central-1"}""", """{"alg":"ES384","kid":"central-1"}""",
        """{"alg":"RS256","kid":"central-1"}""", """{"alg":"es256","kid":"central-1"}""", """{"alg":"ES256","kid":"central-2"}""",
        """{"alg":"ES256"}""", """{"alg":"ES256","kid":"../central-1"}""", """{"alg":"ES256","kid":"central-1","crit":["b64"]}""",
        """{"alg":"ES256","kid":"central-1","b64":false}""", """{"alg":"ES256","kid":"central-1","alg":"none"}""", """{"kid":"central-1"}""",
        """{"alg":["ES256"],"kid":"central-1"}""", """{"alg":"ES256","kid":1}""", "[]", "null", """{"alg":"ES256","kid":"central-1","jku":"http://x"}""",
    ];

    private static string Encode(byte[] bytes) => Base64Url.EncodeToString(bytes);

    private static byte[] Decode(string part)
    {
        try
        {
            return Base64Url.DecodeFromChars(part);
        }
        catch (FormatException)
        {
            return Encoding.ASCII.GetBytes(part);
        }
    }

    private static string FlipCharBit(string token, Random random)
    {
        if (token.Length == 0)
        {
            return token;
        }
        var chars = token.ToCharArray();
        var at = random.Next(chars.Length);
        chars[at] = (char)(chars[at] ^ (1 << random.Next(7)));
        return new string(chars);
    }

    private static string FlipDecodedBit(string token, Random random)
    {
        var parts = token.Split('.');
        var which = random.Next(parts.Length);
        var bytes = Decode(parts[which]);
        if (bytes.Length > 0)
        {
            bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
        }
        parts[which] = Encode(bytes);
        return string.Join('.', parts);
    }

    private static string SwapPart(string token, string other, int which)
    {
        var parts = token.Split('.');
        var donor = other.Split('.');
        if (which < parts.Length && which < donor.Length)
        {
            parts[which] = donor[which];
        }
        return string.Join('.', parts);
    }

    private static string WithHeader(string token, string header, bool keepSignature)
    {
        var parts = token.Split('.');
        parts[0] = Encode(Encoding.UTF8.GetBytes(header));
        if (!keepSignature && parts.Length > 2)
        {
            parts[2] = "";
        }
        return string.Join('.', parts);
    }

    private static string Hs256WithPublicKey(string token, byte[] publicPem)
    {
        var parts = token.Split('.');
        var input = Encode(Encoding.UTF8.GetBytes("""{"alg":"HS256","kid":"central-1","typ":"JWT"}""")) + "." + (parts.Length > 1 ? parts[1] : "");
        return input + "." + Encode(HMACSHA256.HashData(publicPem, Encoding.ASCII.GetBytes(input)));
    }

    private static string ChangeClaim(string token, Random random)
    {
        var parts = token.Split('.');
        if (parts.Length < 2)
        {
            return token;
        }
        var payload = Encoding.UTF8.GetString(Decode(parts[1]));
        string[] names = ["exp", "nbf", "aud", "iss", "maxSeconds", "kind", "jti", "stream", "sub", "view"];
        var name = names[random.Next(names.Length)];
        string[] values = ["null", "\"\"", "0", "-1", "9999999999999", "1e400", "[]", "{}", "\"hu-fuzz\"", "true", "\"installation\"", "\"srt://x:1\""];
        var changed = random.Next(3) switch
        {
            0 => payload.Replace($"\"{name}\":", $"\"{name}\":{values[random.Next(values.Length)]},\"x{name}\":"),
            1 => payload.Replace($"\"{name}\":", $"\"{name.ToUpperInvariant()}\":"),
            _ => payload.Replace($"\"{name}\":", $"\"{name}\":{values[random.Next(values.Length)]},\"{name}\":"),
        };
        parts[1] = Encode(Encoding.UTF8.GetBytes(changed));
        return string.Join('.', parts);
    }

    private static string ReEncode(string token, Random random)
    {
        var parts = token.Split('.');
        var which = random.Next(parts.Length);
        var bytes = Decode(parts[which]);
        parts[which] = random.Next(4) switch
        {
            0 => Convert.ToBase64String(bytes), // standard alphabet with padding
            1 => Encode(bytes) + "==",
            2 => Encode(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(Encoding.UTF8.GetString(bytes)))), // JSON string of the JSON
            _ => Encode(Encoding.Unicode.GetBytes(Encoding.UTF8.GetString(bytes))), // UTF-16
        };
        return string.Join('.', parts);
    }

    private static string Splice(string token, Random random)
    {
        if (token.Length == 0)
        {
            return ".";
        }
        var at = random.Next(token.Length);
        string[] inserts = [".", "..", " ", "\n", "=", "+", "/", "\0", "é", "%2E", "AAAA"];
        return random.Next(2) == 0 ? token.Insert(at, inserts[random.Next(inserts.Length)]) : token.Remove(at, 1);
    }

    /// <summary>Changes the unused low bits of the signature's last character: same bytes, different text.</summary>
    private static string TweakSignatureTail(string token, Random random)
    {
        if (token.Length == 0 || token[^1] == '.')
        {
            return token;
        }
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        var index = alphabet.IndexOf(token[^1]);
        return index < 0 ? token : token[..^1] + alphabet[(index & ~0b11) | random.Next(4)];
    }

    private static string Junk(Random random)
    {
        var length = random.Next(3) switch { 0 => random.Next(0, 16), 1 => random.Next(16, 600), _ => random.Next(4000, 70_000) };
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return random.Next(2) == 0 ? Encoding.Latin1.GetString(bytes) : Encode(bytes);
    }

    private static string Repeat(string token, Random random) =>
        random.Next(2) == 0 ? token + "." + token : string.Concat(Enumerable.Repeat(token, random.Next(2, 20)));

    private static void Print(object figures) => Console.WriteLine(JsonSerializer.Serialize(figures));
}
