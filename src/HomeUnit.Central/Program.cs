using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using HomeUnit.Protocol;

namespace HomeUnit.Central;

/// <summary>
/// <c>homeunit-central</c>: the reference central's tools. They make key pairs and sign grants, care
/// plans and commands; each token is printed on standard output, ready to publish on the device's topic.
/// </summary>
public static class Program
{
    public static Task<int> Main(string[] args) => Build().Parse(args).InvokeAsync();

    public static RootCommand Build()
    {
        var root = new RootCommand("HomeUnit reference central: keys, session grants, care plans and commands");
        root.Subcommands.Add(KeysCommand());
        root.Subcommands.Add(GrantCommand());
        root.Subcommands.Add(CarePlanCommand());
        root.Subcommands.Add(DeviceCommand());
        root.Subcommands.Add(DemoCommand());
        root.Subcommands.Add(UpgradeRehearsalCommand());
        return root;
    }

    private static readonly Option<FileInfo> KeyOption = new("--key") { Description = "the central's private key (PEM); its file name without .key is the kid", Required = true };
    private static readonly Option<string?> KidOption = new("--kid") { Description = "key id in the token header (default: the key file's name)" };
    private static readonly Option<string> IssuerOption = new("--issuer") { Description = "iss claim", DefaultValueFactory = _ => CentralSigner.DefaultIssuer };
    private static readonly Option<string> DeviceOption = new("--device") { Description = "the device id (aud)", Required = true };

    private static IEnumerable<Option> SignerOptions => [KeyOption, KidOption, IssuerOption, DeviceOption];

    private static CentralSigner Signer(ParseResult r) =>
        CentralSigner.Load(r.GetValue(KeyOption)!.FullName, r.GetValue(KidOption), r.GetValue(IssuerOption)!);

    private static Command DemoCommand()
    {
        var seconds = new Option<int>("--seconds") { Description = "How long the look streams", DefaultValueFactory = _ => 8 };
        var handover = new Option<bool>("--handover") { Description = "Instead: the primary hands supervision to a standby centre and goes away, the standby performs a check, the primary takes back" };
        var agent = new Option<string?>("--agent") { Description = "The unit's executable, e.g. an installed package's /usr/bin/homeunit (default: HOMEUNIT_AGENT, else this build's homeunit.dll)" };
        var command = new Command("demo", "One night check on a simulated unit: care plan, grant, green light, stream, red light, audit; then a power cut") { seconds, handover, agent };
        command.SetAction((parse, _) =>
        {
            if (parse.GetValue(agent) is { } executable)
            {
                Simulation.AgentProcess.Executable = executable;
            }
            return parse.GetValue(handover)
                ? Simulation.HandoverDemo.RunAsync(parse.GetValue(seconds))
                : Simulation.Demo.RunAsync(parse.GetValue(seconds));
        });
        return command;
    }

    private static Command UpgradeRehearsalCommand()
    {
        var agent = new Option<string>("--agent") { Description = "The unit's executable, replaced by the upgrade (an installed package's /usr/bin/homeunit)", Required = true };
        var upgrade = new Option<string>("--upgrade") { Description = "The shell command that installs the new version (e.g. dpkg -i)", Required = true };
        var command = new Command("upgrade-rehearsal", "A package upgrade during a look on a unit with history: every record delivered, the chain intact, the camera off, the replay cache kept") { agent, upgrade };
        command.SetAction((parse, _) =>
        {
            Simulation.AgentProcess.Executable = parse.GetValue(agent);
            return Simulation.UpgradeRehearsal.RunAsync(parse.GetValue(upgrade)!);
        });
        return command;
    }

    private static Command KeysCommand()
    {
        var kid = new Option<string>("--kid") { Description = "key id; the files are <kid>.key (private) and <kid>.pem (public)", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "directory for the key files", Required = true };
        var create = new Command("create", "create an ES256 (P-256) key pair") { kid, output };
        create.SetAction(r =>
        {
            var name = r.GetValue(kid)!;
            if (!KeyIds.IsFileName(name))
            {
                Console.Error.WriteLine("--kid must be letters, digits, '-', '_' or '.'");
                return 2;
            }
            var directory = r.GetValue(output)!;
            directory.Create();
            var (privatePem, publicPem) = CentralSigner.CreateKeyPair();
            var privateFile = Path.Combine(directory.FullName, name + ".key");
            File.WriteAllText(privateFile, privatePem);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(privateFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            File.WriteAllText(Path.Combine(directory.FullName, name + ".pem"), publicPem);
            Console.WriteLine($"{privateFile} (private, keep at the central)");
            Console.WriteLine($"{Path.Combine(directory.FullName, name + ".pem")} (public, install in every device's Trust:KeysDirectory)");
            return 0;
        });
        return new Command("keys", "manage the central's signing keys") { create };
    }

    private static Command GrantCommand()
    {
        var operatorId = new Option<string>("--operator") { Description = "pseudonymous id of the operator who will look (sub)", Required = true };
        var kind = new Option<string>("--kind") { Description = "scheduled, follow-up or installation", DefaultValueFactory = _ => LookKinds.Scheduled };
        kind.AcceptOnlyFromAmong([.. LookKinds.All]);
        var view = new Option<string>("--view") { Description = "bed or room", DefaultValueFactory = _ => Views.Bed };
        view.AcceptOnlyFromAmong([.. Views.All]);
        var check = new Option<string?>("--check") { Description = "the care-plan check (required for follow-up)" };
        var notBefore = new Option<string>("--not-before") { Description = "start of the window: 'now', ISO 8601 or seconds since the epoch", DefaultValueFactory = _ => "now" };
        var validSeconds = new Option<int>("--valid-seconds") { Description = "length of the window (exp − nbf, at most 300)", DefaultValueFactory = _ => 120 };
        var maxSeconds = new Option<int>("--max-seconds") { Description = "streaming time", DefaultValueFactory = _ => 30 };
        var url = new Option<string>("--stream-url") { Description = "srt://host:port of the media gateway's listener", Required = true };
        var streamId = new Option<string>("--stream-id") { Description = "SRT stream id", Required = true };
        var passphrase = new Option<string>("--passphrase") { Description = "SRT passphrase, 16–79 characters", Required = true };
        var jti = new Option<string?>("--jti") { Description = "grant id (default: a new uuid)" };
        var command = new Command("grant", "sign a session grant") { operatorId, kind, view, check, notBefore, validSeconds, maxSeconds, url, streamId, passphrase, jti };
        foreach (var option in SignerOptions)
        {
            command.Options.Add(option);
        }
        command.SetAction(r =>
        {
            var now = DateTimeOffset.UtcNow;
            if (ParseTime(r.GetValue(notBefore)!, now) is not { } start)
            {
                Console.Error.WriteLine("--not-before must be 'now', an ISO 8601 time or seconds since the epoch");
                return 2;
            }
            var spec = new GrantSpec(
                r.GetValue(DeviceOption)!, r.GetValue(operatorId)!, r.GetValue(kind)!, r.GetValue(view)!, start,
                TimeSpan.FromSeconds(r.GetValue(validSeconds)), r.GetValue(maxSeconds),
                new StreamPayload(r.GetValue(url)!, r.GetValue(streamId)!, r.GetValue(passphrase)!), r.GetValue(check), r.GetValue(jti));
            Console.WriteLine(Signer(r).Grant(spec, now));
            return 0;
        });
        return command;
    }

    private static Command CarePlanCommand()
    {
        var file = new Option<FileInfo?>("--file") { Description = "a JSON care plan (version, tz, checks, followUp, pausedNights, validFrom); iss, aud and iat are set by the tool" };
        var version = new Option<long>("--version") { Description = "plan version (must grow)" };
        var tz = new Option<string>("--tz") { Description = "IANA time zone", DefaultValueFactory = _ => "Europe/Stockholm" };
        var checks = new Option<string[]>("--check") { Description = "a check as id@HH:mm/toleranceMinutes, e.g. c1@22:30/15 (repeatable)", AllowMultipleArgumentsPerToken = false };
        var followUp = new Option<string?>("--follow-up") { Description = "withinMinutes/max, e.g. 30/2" };
        var paused = new Option<string[]>("--paused") { Description = "local date (yyyy-MM-dd) on which a paused night starts (repeatable)" };
        var validFrom = new Option<string>("--valid-from") { Description = "'now', ISO 8601 or seconds since the epoch", DefaultValueFactory = _ => "now" };
        var activeCentral = new Option<string?>("--active-central") { Description = "the iss of the central in charge (signed by the primary: hands over, or takes back)" };
        var activeUntil = new Option<string?>("--active-until") { Description = "with --active-central: ISO 8601 or seconds since the epoch when supervision returns to the primary" };
        var command = new Command("careplan", "sign a care plan (publish it retained on the device's careplan topic)") { file, version, tz, checks, followUp, paused, validFrom, activeCentral, activeUntil };
        foreach (var option in SignerOptions)
        {
            command.Options.Add(option);
        }
        command.SetAction(r =>
        {
            var now = DateTimeOffset.UtcNow;
            JsonObject plan;
            if (r.GetValue(file) is { } source)
            {
                plan = JsonNode.Parse(File.ReadAllText(source.FullName))?.AsObject() ?? new JsonObject();
            }
            else if (PlanFromOptions(r.GetValue(version), r.GetValue(tz)!, r.GetValue(checks) ?? [], r.GetValue(followUp), r.GetValue(paused) ?? [], ParseTime(r.GetValue(validFrom)!, now)) is { } built)
            {
                plan = built;
            }
            else
            {
                Console.Error.WriteLine("care plan options are malformed: --check id@HH:mm/minutes, --follow-up minutes/max, --valid-from a time, --version ≥ 1");
                return 2;
            }
            var signer = Signer(r);
            plan["iss"] = signer.Issuer;
            plan["aud"] = r.GetValue(DeviceOption);
            plan["iat"] = now.ToUnixTimeSeconds();
            if (r.GetValue(activeCentral) is { } active)
            {
                plan["activeCentral"] = active;
            }
            if (r.GetValue(activeUntil) is { } untilText)
            {
                if (ParseTime(untilText, now) is not { } until)
                {
                    Console.Error.WriteLine("--active-until: not a time");
                    return 2;
                }
                plan["activeUntil"] = until.ToUnixTimeSeconds();
            }
            // Read back through the payload type: a plan the device could not read is not signed.
            var payload = plan.Deserialize<CarePlanPayload>(TokenJson.Options);
            Console.WriteLine(signer.Sign(payload));
            return 0;
        });
        return command;
    }

    private static JsonObject? PlanFromOptions(long version, string tz, string[] checks, string? followUp, string[] paused, DateTimeOffset? validFrom)
    {
        var planned = new List<CarePlanCheck>();
        foreach (var check in checks)
        {
            var parts = check.Split('@', '/');
            if (parts.Length != 3 || !int.TryParse(parts[2], CultureInfo.InvariantCulture, out var tolerance))
            {
                return null;
            }
            planned.Add(new CarePlanCheck(parts[0], parts[1], tolerance));
        }
        FollowUpRule? rule = null;
        if (followUp is not null)
        {
            var parts = followUp.Split('/');
            if (parts.Length != 2 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out var within) || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var max))
            {
                return null;
            }
            rule = new FollowUpRule(within, max);
        }
        if (version < 1 || validFrom is null)
        {
            return null;
        }
        var payload = new CarePlanPayload("", "", 0, version, tz, planned, validFrom.Value.ToUnixTimeSeconds(), rule, paused);
        return JsonSerializer.SerializeToNode(payload, TokenJson.Options)!.AsObject();
    }

    private static Command DeviceCommand()
    {
        var name = new Argument<string>("name") { Description = "stop, pan, selftest or handover" };
        name.AcceptOnlyFromAmong([.. CommandNames.All]);
        var grant = new Option<string?>("--grant") { Description = "the look's grant id (required for pan)" };
        var view = new Option<string?>("--view") { Description = "bed or room (pan)" };
        var to = new Option<string?>("--to") { Description = "handover: the iss of the central to put in charge (the primary's own: take back)" };
        var until = new Option<string?>("--until") { Description = "handover: ISO 8601 or seconds since the epoch when supervision returns to the primary" };
        var validSeconds = new Option<int>("--valid-seconds") { Description = "how long the command stays valid", DefaultValueFactory = _ => 60 };
        var command = new Command("command", "sign a command for the device's command topic") { name, grant, view, to, until, validSeconds };
        foreach (var option in SignerOptions)
        {
            command.Options.Add(option);
        }
        command.SetAction(r =>
        {
            var now = DateTimeOffset.UtcNow;
            var validFor = TimeSpan.FromSeconds(r.GetValue(validSeconds));
            if (r.GetValue(name) == CommandNames.Handover)
            {
                DateTimeOffset? end = null;
                if (r.GetValue(to) is not { } central || (r.GetValue(until) is { } text && (end = ParseTime(text, now)) is null))
                {
                    Console.Error.WriteLine("handover needs --to ISSUER, and --until must be a time");
                    return 2;
                }
                Console.WriteLine(Signer(r).Handover(r.GetValue(DeviceOption)!, central, now, validFor, end));
                return 0;
            }
            Console.WriteLine(Signer(r).Command(r.GetValue(DeviceOption)!, r.GetValue(name)!, now, validFor, r.GetValue(grant), r.GetValue(view)));
            return 0;
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
