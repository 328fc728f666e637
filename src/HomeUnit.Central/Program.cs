using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using HomeUnit.Drivers.Camera;
using HomeUnit.Protocol;

namespace HomeUnit.Central;

/// <summary>What <c>homeunit-central</c> exits with.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The job ran but its outcome is bad: a broken or incomplete audit chain, no picture, a step of a simulated night that failed.</summary>
    public const int Failed = 1;
    /// <summary>Bad input: an option, a key file, a care plan; nothing was signed or published.</summary>
    public const int BadInput = 2;
    /// <summary>The broker could not be reached or refused the message.</summary>
    public const int Unreachable = 3;
}

/// <summary>Bad input to a verb: the message says which option and what is wrong.</summary>
public sealed class BadInputException(string message) : Exception(message);

/// <summary>
/// <c>homeunit-central</c>: the reference central's tools for an integrator. Make a signing key; sign a grant,
/// a care plan or a command and publish it (or print it); watch a unit's status, events and audit chain;
/// receive a look's stream. (The night demo is <c>homeunit-sim</c>, in tools/HomeUnit.Simulator.)
/// </summary>
public static class Program
{
    public static Task<int> Main(string[] args) => RunAsync(Build(), args);

    /// <summary>Runs a command line as every HomeUnit tool does: its errors become exit codes and a line of text, never a stack trace.</summary>
    public static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                Console.Error.WriteLine(error.Message);
            }
            Console.Error.WriteLine("(--help lists the options)");
            return ExitCodes.BadInput;
        }
        // Ctrl+C and SIGTERM end watch and receive through their token, so they still print their summary and exit code.
        using var stop = new CancellationTokenSource();
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
        try
        {
            // Errors are ours to report (as exit codes), not System.CommandLine's stack trace.
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, stop.Token);
        }
        catch (BadInputException e)
        {
            Console.Error.WriteLine(e.Message);
            return ExitCodes.BadInput;
        }
        catch (Exception e) when (e is TimeoutException or IOException)
        {
            Console.Error.WriteLine(e.Message);
            return ExitCodes.Unreachable;
        }
    }

    public static RootCommand Build()
    {
        var root = new RootCommand("""
            HomeUnit reference central: signing keys, grants, care plans and commands; watching a unit; receiving a look.
            Exit codes: 0 done, 1 a bad outcome (broken audit chain, no picture), 2 bad input, 3 broker unreachable.
            """);
        root.Subcommands.Add(KeysCommand());
        root.Subcommands.Add(GrantCommand());
        root.Subcommands.Add(CarePlanCommand());
        root.Subcommands.Add(DeviceCommand());
        root.Subcommands.Add(WatchCommand());
        root.Subcommands.Add(ReceiveCommand());
        return root;
    }

    private static readonly Option<FileInfo> KeyOption = new("--key") { Description = "the central's private signing key (PEM, from 'keys new'); its file name without .key is the kid", Required = true };
    private static readonly Option<string?> KidOption = new("--kid") { Description = "key id in the token header (default: the key file's name)" };
    private static readonly Option<string> IssuerOption = new("--issuer") { Description = "iss claim (the units' Trust:Issuer)", DefaultValueFactory = _ => CentralSigner.DefaultIssuer };
    private static readonly Option<string> DeviceOption = new("--device") { Description = "the unit's device id (aud)", Required = true };

    private static readonly Option<string?> BrokerOption = new("--broker") { Description = "host:port of the MQTT broker (grant, careplan, command: publish the token there instead of printing it)" };
    private static readonly Option<FileInfo?> CaOption = new("--ca") { Description = "CA certificate (PEM) the broker's certificate is checked against" };
    private static readonly Option<FileInfo?> CertOption = new("--cert") { Description = "the central's client certificate (PEM; CN 'central' in the shipped broker ACL)" };
    private static readonly Option<FileInfo?> CertKeyOption = new("--cert-key") { Description = "the client certificate's private key (PEM)" };
    private static readonly Option<string?> ClientIdOption = new("--client-id") { Description = "MQTT client id (default: homeunit-central-<verb>-…)" };

    private static IEnumerable<Option> SignerOptions => [KeyOption, KidOption, IssuerOption, DeviceOption];

    private static IEnumerable<Option> BrokerOptions => [BrokerOption, CaOption, CertOption, CertKeyOption, ClientIdOption];

    private static void AddAll(Command command, IEnumerable<Option> options)
    {
        foreach (var option in options)
        {
            command.Options.Add(option);
        }
    }

    private static CentralSigner Signer(ParseResult r)
    {
        var file = r.GetValue(KeyOption)!;
        if (!file.Exists)
        {
            throw new BadInputException($"--key: {file.FullName} does not exist (make one with 'homeunit-central keys new')");
        }
        var kid = r.GetValue(KidOption) ?? Path.GetFileNameWithoutExtension(file.Name);
        if (!KeyIds.IsFileName(kid))
        {
            throw new BadInputException($"--kid: '{kid}' must be letters, digits, '-', '_' or '.' (it names <kid>.pem on the units)");
        }
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(File.ReadAllText(file.FullName));
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException or UnauthorizedAccessException or IOException)
        {
            key.Dispose();
            throw new BadInputException($"--key: {file.FullName} is not a readable PEM EC private key ({e.GetType().Name})");
        }
        if (key.KeySize != 256)
        {
            key.Dispose();
            throw new BadInputException($"--key: {file.FullName} is a {key.KeySize}-bit key; grants are ES256 and need a P-256 key");
        }
        return new CentralSigner(key, kid, r.GetValue(IssuerOption)!);
    }

    private static string Device(ParseResult r)
    {
        var device = r.GetValue(DeviceOption)!;
        return DeviceIds.IsValid(device) ? device
            : throw new BadInputException($"--device: '{device}' is not a device id (letters, digits, '.', '_' and '-', at most 64)");
    }

    /// <summary>The broker settings, or null when no <c>--broker</c> was given.</summary>
    private static BrokerAddress? Broker(ParseResult r)
    {
        if (r.GetValue(BrokerOption) is not { } broker)
        {
            return null;
        }
        var colon = broker.LastIndexOf(':');
        var host = colon > 0 ? broker[..colon] : broker;
        var port = 0;
        if (host.Length == 0 || colon > 0 && (!int.TryParse(broker[(colon + 1)..], CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            throw new BadInputException($"--broker: '{broker}' is not host:port");
        }
        var tls = new[] { r.GetValue(CaOption), r.GetValue(CertOption), r.GetValue(CertKeyOption) };
        if (tls.Any(f => f is not null) && tls.Any(f => f is null))
        {
            throw new BadInputException("--ca, --cert and --cert-key go together (mTLS); give all three, or none for plain TCP");
        }
        foreach (var file in tls.OfType<FileInfo>().Where(f => !f.Exists))
        {
            throw new BadInputException($"{file.FullName} does not exist");
        }
        return new BrokerAddress(host, port, tls[0]?.FullName, tls[1]?.FullName, tls[2]?.FullName);
    }

    private static string ClientId(ParseResult r, string verb) => r.GetValue(ClientIdOption) ?? $"homeunit-central-{verb}-{Guid.NewGuid().ToString()[..8]}";

    /// <summary>Publishes the token on the unit's topic when <c>--broker</c> is given (waiting for the broker's PUBACK), else prints it.</summary>
    private static async Task<int> DeliverAsync(ParseResult r, string device, string topic, string token, bool retain, string what)
    {
        if (Broker(r) is not { } broker)
        {
            Console.WriteLine(token);
            return ExitCodes.Ok;
        }
        await using var client = await CentralClient.ConnectAsync(broker, [], ClientId(r, topic), keepMessages: false, timeout: TimeSpan.FromSeconds(10));
        await client.DeliverAsync(Topics.For(device, topic), token, retain);
        Console.WriteLine($"published {what} to {Topics.For(device, topic)}{(retain ? " (retained)" : "")}");
        return ExitCodes.Ok;
    }

    private static Command KeysCommand()
    {
        var kid = new Option<string>("--kid") { Description = "key id; the files are <kid>.key (private, stays at the central) and <kid>.pem (public, for every unit's Trust:KeysDirectory)", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "directory for the key files", DefaultValueFactory = _ => new DirectoryInfo(".") };
        var create = new Command("new", "make an ES256 (P-256) signing key pair; existing files are never overwritten") { kid, output };
        create.Aliases.Add("create");
        create.SetAction(r =>
        {
            var name = r.GetValue(kid)!;
            if (!KeyIds.IsFileName(name))
            {
                throw new BadInputException("--kid must be 1–64 letters, digits, '-', '_' or '.', not starting with '.'");
            }
            var directory = r.GetValue(output)!;
            var privateFile = Path.Combine(directory.FullName, name + ".key");
            var publicFile = Path.Combine(directory.FullName, name + ".pem");
            if (File.Exists(privateFile) || File.Exists(publicFile))
            {
                throw new BadInputException($"{privateFile} or {publicFile} exists already: a signing key is never overwritten");
            }
            directory.Create();
            var (privatePem, publicPem) = CentralSigner.CreateKeyPair();
            // Created with owner-only access before the key is written, so it is never readable by others.
            using (var stream = new FileStream(privateFile, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(privatePem);
            }
            File.WriteAllText(publicFile, publicPem);
            Console.WriteLine($"{privateFile} (private, keep at the central)");
            Console.WriteLine($"{publicFile} (public, install in every unit's Trust:KeysDirectory)");
            return ExitCodes.Ok;
        });
        return new Command("keys", "the central's signing keys") { create };
    }

    private static Command GrantCommand()
    {
        var operatorId = new Option<string>("--operator") { Description = "pseudonymous id of the operator who will look (sub)", Required = true };
        var kind = new Option<string>("--kind") { Description = "scheduled, follow-up or installation", DefaultValueFactory = _ => SessionKinds.Scheduled };
        kind.AcceptOnlyFromAmong([.. SessionKinds.All]);
        var view = new Option<string>("--view") { Description = "bed or room", DefaultValueFactory = _ => Views.Bed };
        view.AcceptOnlyFromAmong([.. Views.All]);
        var check = new Option<string?>("--check") { Description = "the care-plan check (required for follow-up: the check it follows)" };
        var notBefore = new Option<string>("--not-before") { Description = "start of the window: 'now', ISO 8601 or seconds since the epoch", DefaultValueFactory = _ => "now" };
        var validSeconds = new Option<int>("--valid-seconds") { Description = "length of the window, exp − nbf (1–300)", DefaultValueFactory = _ => 120 };
        var maxSeconds = new Option<int>("--max-seconds") { Description = "streaming time (1–300; the unit caps it at its Policy:MaxSessionSeconds)", DefaultValueFactory = _ => 30 };
        var url = new Option<string>("--stream-url") { Description = "srt://host:port of the media gateway's listener", Required = true };
        var streamId = new Option<string>("--stream-id") { Description = "SRT stream id", Required = true };
        var passphrase = new Option<string>("--passphrase") { Description = "SRT passphrase for this look, 16–79 printable characters", Required = true };
        var jti = new Option<string?>("--jti") { Description = "grant id (default: a new uuid)" };
        var command = new Command("grant", "sign a session grant and publish it on the unit's grant topic (or print it)") { operatorId, kind, view, check, notBefore, validSeconds, maxSeconds, url, streamId, passphrase, jti };
        AddAll(command, SignerOptions);
        AddAll(command, BrokerOptions);
        command.SetAction((r, _) =>
        {
            var now = DateTimeOffset.UtcNow;
            var start = ParseTime(r.GetValue(notBefore)!, now) ?? throw new BadInputException("--not-before must be 'now', an ISO 8601 time or seconds since the epoch");
            if (r.GetValue(validSeconds) is < 1 or > 300)
            {
                throw new BadInputException("--valid-seconds must be 1–300: a unit refuses a longer window as too-long");
            }
            if (r.GetValue(maxSeconds) is < 1 or > 300)
            {
                throw new BadInputException("--max-seconds must be 1–300");
            }
            if (r.GetValue(kind) == SessionKinds.FollowUp && r.GetValue(check) is null)
            {
                throw new BadInputException("--check is required for a follow-up: the scheduled check it follows");
            }
            var stream = new StreamPayload(r.GetValue(url)!, r.GetValue(streamId)!, r.GetValue(passphrase)!);
            if (new StreamTarget(stream.Url, stream.StreamId, stream.Passphrase).Validate() is { } problem)
            {
                throw new BadInputException($"the unit would refuse this grant's stream: {problem}");
            }
            var device = Device(r);
            var id = r.GetValue(jti) ?? Guid.NewGuid().ToString();
            var spec = new GrantSpec(device, r.GetValue(operatorId)!, r.GetValue(kind)!, r.GetValue(view)!, start,
                TimeSpan.FromSeconds(r.GetValue(validSeconds)), r.GetValue(maxSeconds), stream, r.GetValue(check), id);
            return DeliverAsync(r, device, Topics.Grant, Signer(r).Grant(spec, now), retain: false, $"grant {id}");
        });
        return command;
    }

    private static Command CarePlanCommand()
    {
        var file = new Option<FileInfo?>("--file") { Description = "a JSON care plan (version, tz, checks, followUp, pausedNights, validFrom); iss, aud and iat are set by the tool" };
        var version = new Option<long>("--version") { Description = "plan version (must grow with every new plan for the unit)" };
        var tz = new Option<string>("--tz") { Description = "IANA time zone", DefaultValueFactory = _ => "Europe/Stockholm" };
        var checks = new Option<string[]>("--check") { Description = "a check as id@HH:mm/toleranceMinutes, e.g. c1@22:30/15 (repeatable)", AllowMultipleArgumentsPerToken = false };
        var followUp = new Option<string?>("--follow-up") { Description = "withinMinutes/max, e.g. 30/2 (without it, follow-up looks are refused)" };
        var paused = new Option<string[]>("--paused") { Description = "local date (yyyy-MM-dd) on which a paused night starts (repeatable)" };
        var validFrom = new Option<string>("--valid-from") { Description = "'now', ISO 8601 or seconds since the epoch", DefaultValueFactory = _ => "now" };
        var activeCentral = new Option<string?>("--active-central") { Description = "the iss of the central in charge (signed by the primary: hands over, or takes back)" };
        var activeUntil = new Option<string?>("--active-until") { Description = "with --active-central: ISO 8601 or seconds since the epoch when supervision returns to the primary" };
        var command = new Command("careplan", "sign a care plan and publish it retained on the unit's careplan topic (or print it)") { file, version, tz, checks, followUp, paused, validFrom, activeCentral, activeUntil };
        AddAll(command, SignerOptions);
        AddAll(command, BrokerOptions);
        command.SetAction((r, _) =>
        {
            var now = DateTimeOffset.UtcNow;
            var device = Device(r);
            var signer = Signer(r);
            JsonObject plan;
            if (r.GetValue(file) is { } source)
            {
                try
                {
                    plan = JsonNode.Parse(File.ReadAllText(source.FullName)) as JsonObject ?? throw new BadInputException($"--file: {source.FullName} is not a JSON object");
                }
                catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
                {
                    throw new BadInputException($"--file: {source.FullName}: {e.Message}");
                }
            }
            else
            {
                var start = ParseTime(r.GetValue(validFrom)!, now) ?? throw new BadInputException("--valid-from must be 'now', an ISO 8601 time or seconds since the epoch");
                plan = JsonSerializer.SerializeToNode(new CarePlanPayload("", "", 0, r.GetValue(version), r.GetValue(tz)!,
                    [.. (r.GetValue(checks) ?? []).Select(ParseCheck)], start.ToUnixTimeSeconds(),
                    r.GetValue(followUp) is { } rule ? ParseFollowUp(rule) : null, r.GetValue(paused) ?? []), TokenJson.Options)!.AsObject();
            }
            plan["iss"] = signer.Issuer;
            plan["aud"] = device;
            plan["iat"] = now.ToUnixTimeSeconds();
            if (r.GetValue(activeCentral) is { } active)
            {
                plan["activeCentral"] = active;
            }
            if (r.GetValue(activeUntil) is { } untilText)
            {
                plan["activeUntil"] = (ParseTime(untilText, now) ?? throw new BadInputException("--active-until must be an ISO 8601 time or seconds since the epoch")).ToUnixTimeSeconds();
            }
            // Read back through the payload type and the unit's own rules: a plan the unit would refuse is not signed.
            CarePlanPayload payload;
            try
            {
                payload = plan.Deserialize<CarePlanPayload>(TokenJson.Options)!;
            }
            catch (JsonException e)
            {
                throw new BadInputException($"the care plan is malformed: {e.Message}");
            }
            if (CarePlanProblem(payload) is { } problem)
            {
                throw new BadInputException($"the unit would refuse this care plan: {problem}");
            }
            return DeliverAsync(r, device, Topics.CarePlan, signer.Sign(payload), retain: true, $"care plan version {payload.Version}");
        });
        return command;
    }

    private static CarePlanCheck ParseCheck(string text)
    {
        var parts = text.Split('@', '/');
        return parts.Length == 3 && int.TryParse(parts[2], CultureInfo.InvariantCulture, out var tolerance)
            ? new CarePlanCheck(parts[0], parts[1], tolerance)
            : throw new BadInputException($"--check: '{text}' is not id@HH:mm/toleranceMinutes (e.g. c1@22:30/15)");
    }

    private static FollowUpRule ParseFollowUp(string text)
    {
        var parts = text.Split('/');
        return parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var within) && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var max)
            ? new FollowUpRule(within, max)
            : throw new BadInputException($"--follow-up: '{text}' is not withinMinutes/max (e.g. 30/2)");
    }

    /// <summary>What a unit would refuse in this plan (<see cref="CarePlanLimits.Problem"/>), and a plan with no check; null when it is sound.</summary>
    private static string? CarePlanProblem(CarePlanPayload plan) =>
        plan.Checks is { Count: 0 } ? "--check: a care plan needs at least one check" : CarePlanLimits.Problem(plan);

    private static Command DeviceCommand()
    {
        var name = new Argument<string>("name") { Description = "stop, pan, selftest or handover" };
        name.AcceptOnlyFromAmong([.. CommandNames.All]);
        var grant = new Option<string?>("--grant") { Description = "the look's grant id (required for pan; for stop, only that look is stopped)" };
        var view = new Option<string?>("--view") { Description = "bed or room (pan)" };
        view.AcceptOnlyFromAmong([.. Views.All]);
        var to = new Option<string?>("--to") { Description = "handover: the iss of the central to put in charge (the primary's own: take back)" };
        var until = new Option<string?>("--until") { Description = "handover: ISO 8601 or seconds since the epoch when supervision returns to the primary" };
        var validSeconds = new Option<int>("--valid-seconds") { Description = "how long the command stays valid (1–300)", DefaultValueFactory = _ => 60 };
        var command = new Command("command", "sign a command and publish it on the unit's command topic (or print it)") { name, grant, view, to, until, validSeconds };
        AddAll(command, SignerOptions);
        AddAll(command, BrokerOptions);
        command.SetAction((r, _) =>
        {
            if (r.GetValue(name) == CommandNames.Pan && (r.GetValue(grant) is null || r.GetValue(view) is null))
            {
                throw new BadInputException("pan needs --grant (the running look's grant id) and --view (bed or room)");
            }
            if (r.GetValue(validSeconds) is < 1 or > 300)
            {
                throw new BadInputException("--valid-seconds must be 1–300");
            }
            var device = Device(r);
            var now = DateTimeOffset.UtcNow;
            var validFor = TimeSpan.FromSeconds(r.GetValue(validSeconds));
            string token;
            if (r.GetValue(name) == CommandNames.Handover)
            {
                var central = r.GetValue(to) ?? throw new BadInputException("handover needs --to ISSUER (the central to put in charge)");
                DateTimeOffset? end = r.GetValue(until) is { } text
                    ? ParseTime(text, now) ?? throw new BadInputException("--until must be an ISO 8601 time or seconds since the epoch")
                    : null;
                token = Signer(r).Handover(device, central, now, validFor, end);
            }
            else
            {
                token = Signer(r).Command(device, r.GetValue(name)!, now, validFor, r.GetValue(grant), r.GetValue(view));
            }
            return DeliverAsync(r, device, Topics.Command, token, retain: false, $"command {r.GetValue(name)}");
        });
        return command;
    }

    private static Command WatchCommand()
    {
        var device = new Argument<string>("device") { Description = "the unit's device id" };
        var json = new Option<bool>("--json") { Description = "one JSON object per line (kind, message, chain, note) instead of the readable view" };
        var command = new Command("watch", """
            show a unit's status, events and audit records as they arrive, checking the audit chain record by record
            (gaps, duplicates and breaks are flagged) and dropping repeated events by id; runs until Ctrl+C or SIGTERM,
            then exits 0 if the chain seen is intact and complete, 1 if not
            """) { device, json };
        AddAll(command, BrokerOptions);
        command.SetAction(async (r, cancel) =>
        {
            var id = r.GetValue(device)!;
            if (!DeviceIds.IsValid(id))
            {
                throw new BadInputException($"'{id}' is not a device id (letters, digits, '.', '_' and '-', at most 64)");
            }
            var broker = Broker(r) ?? throw new BadInputException("--broker is required: host:port of the MQTT broker");
            return await new Watch(id, r.GetValue(json), Console.Out).RunAsync(broker, r.GetValue(ClientIdOption) ?? $"homeunit-central-watch-{id}", cancel);
        });
        return command;
    }

    private static Command ReceiveCommand()
    {
        var host = new Option<string>("--host") { Description = "address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "UDP port to listen on (0: a free one, printed)", DefaultValueFactory = _ => 0 };
        var passphrase = new Option<string>("--passphrase") { Description = "the grant's SRT passphrase", Required = true };
        var latency = new Option<int>("--latency-ms") { Description = "SRT latency", DefaultValueFactory = _ => 120 };
        var wait = new Option<int>("--wait-seconds") { Description = "how long to wait for the unit to call before giving up", DefaultValueFactory = _ => 120 };
        var json = new Option<bool>("--json") { Description = "one JSON object per line (listening, stream, frames, ended)" };
        var command = new Command("receive", """
            listen for one look's SRT stream (AES-256) and report frames, resolution and frame rate as they arrive;
            frames are decoded in memory and counted, nothing is stored; exits 0 when a picture arrived, 1 if none did
            """) { host, port, passphrase, latency, wait, json };
        command.SetAction((r, cancel) =>
        {
            if (!System.Net.IPAddress.TryParse(r.GetValue(host), out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                throw new BadInputException("--host must be an IPv4 address");
            }
            if (r.GetValue(port) is < 0 or > 65535)
            {
                throw new BadInputException("--port must be 0–65535");
            }
            if (!Regex.IsMatch(r.GetValue(passphrase)!, @"^[\x21-\x7E]{16,79}\z"))
            {
                throw new BadInputException("--passphrase must be 16–79 printable ASCII characters without spaces");
            }
            if (r.GetValue(latency) is < 20 or > 8000 || r.GetValue(wait) < 1)
            {
                throw new BadInputException("--latency-ms must be 20–8000 and --wait-seconds 1 or more");
            }
            return Receive.RunAsync(r.GetValue(host)!, r.GetValue(port), r.GetValue(passphrase)!, r.GetValue(latency),
                TimeSpan.FromSeconds(r.GetValue(wait)), r.GetValue(json), cancel);
        });
        return command;
    }

    private static DateTimeOffset? ParseTime(string text, DateTimeOffset now) =>
        text == "now" ? now
        : long.TryParse(text, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 0 and <= 253_402_300_799 ? DateTimeOffset.FromUnixTimeSeconds(seconds)
        : DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at
        : null;
}

internal static class KeyIds
{
    public static bool IsFileName(string kid) =>
        kid.Length is > 0 and <= 64 && kid.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && !kid.StartsWith('.');
}


