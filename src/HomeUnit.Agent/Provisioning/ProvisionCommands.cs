using System.CommandLine;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.State;
using HomeUnit.Drivers;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Provisioning;

/// <summary>The installer's verbs: set a unit up, aim its lens, and take it out of service.</summary>
public static class ProvisionCommands
{
    public static Command Provision()
    {
        var command = new Command("provision", "Set up this unit: identity, certificates, trusted central keys, servo calibration");
        command.Subcommands.Add(Init());
        command.Subcommands.Add(Servo());
        command.Subcommands.Add(Updates());
        command.Subcommands.Add(Check());
        return command;
    }

    private static Command Check()
    {
        var command = new Command("check", "The installer's last step: broker and identity, clock, care plan, readiness, lens, service — each ok or what to do");
        command.SetAction(async (parse, cancellationToken) =>
        {
            var sources = Program.Sources(parse);
            if (!Program.TryConfigure(sources, out var options, out var configuration, out var simulation))
            {
                return Program.ExitBadConfiguration;
            }
            using (simulation)
            {
                var lines = await ProvisionCheck.RunAsync(options, configuration, ServiceState.Query(), DateTimeOffset.UtcNow, cancellationToken);
                Console.Write(ProvisionCheck.Format(lines));
                return lines.All(l => l.Ok) ? Program.ExitOk : Program.ExitFailed;
            }
        });
        return command;
    }

    private static Command Updates()
    {
        var repository = new Option<string>("--repository") { Description = "The operator's apt repository, e.g. https://updates.central.example/homeunit", Required = true };
        var key = new Option<string>("--key") { Description = "The repository's public signing key (armored, gpg --armor --export)", Required = true };
        var suite = new Option<string>("--suite") { Description = "stable, or staging for a pilot unit", DefaultValueFactory = _ => "stable" };
        var command = new Command("updates", $"Take updates from the operator's signed repository only (writes {UpdateSource.ListFile} and {UpdateSource.KeyFile})")
        {
            repository, key, suite,
        };
        command.SetAction(parse =>
        {
            var (url, keyFile, name) = (parse.GetValue(repository)!, parse.GetValue(key)!, parse.GetValue(suite)!);
            if (UpdateSource.Check(url, name, keyFile) is { Count: > 0 } problems)
            {
                return Refuse(problems);
            }
            foreach (var file in UpdateSource.Apply(url, name, keyFile))
            {
                Console.WriteLine($"wrote {file}");
            }
            Console.WriteLine("updates come from that repository, by day (homeunit-update.timer).");
            return Program.ExitOk;
        });
        return command;
    }

    private static Command Init()
    {
        var deviceId = new Option<string>("--device-id") { Description = "This unit's id (the CN of its certificate)", Required = true };
        var broker = new Option<string>("--broker") { Description = "The central's broker, host:port (TLS)", Required = true };
        var secondBroker = new Option<string[]>("--second-broker") { Description = "A broker to move to when the first is unreachable, host:port (repeat for more, in order)" };
        var ca = new Option<string>("--ca") { Description = "The broker's CA certificate (PEM)", Required = true };
        var cert = new Option<string>("--cert") { Description = "This unit's client certificate (PEM)", Required = true };
        var key = new Option<string>("--key") { Description = "This unit's private key (PEM); copied with mode 0600", Required = true };
        var trust = new Option<string[]>("--trust") { Description = "A public key of the primary central, <kid>.pem (repeat for several)", Required = true };
        var issuer = new Option<string>("--issuer") { Description = "The primary central's iss", DefaultValueFactory = _ => HomeUnit.Protocol.CentralDefaults.Issuer };
        var standby = new Option<string[]>("--standby") { Description = "A standby central, ISSUER=KEY.pem[,KEY.pem] (repeat for several)" };
        var camera = new Option<string>("--camera") { Description = "v4l2 (USB IR camera) or rpicam (CSI NoIR)", DefaultValueFactory = _ => "v4l2" };
        var directory = new Option<string>("--config-dir") { Description = "Where to write", DefaultValueFactory = _ => Path.GetDirectoryName(AgentHost.SystemConfigFile)! };
        var command = new Command("init", "Write /etc/homeunit/homeunit.json and install the certificates and trusted keys")
        {
            deviceId, broker, secondBroker, ca, cert, key, trust, issuer, standby, camera, directory,
        };
        command.SetAction(parse =>
        {
            var (host, port) = SplitBroker(parse.GetValue(broker)!);
            var request = new ProvisionRequest(parse.GetValue(deviceId)!, host, port, parse.GetValue(ca)!, parse.GetValue(cert)!,
                parse.GetValue(key)!, parse.GetValue(trust) ?? [], parse.GetValue(camera)!, parse.GetValue(issuer)!,
                [.. (parse.GetValue(standby) ?? []).Select(StandbyOf)],
                [.. (parse.GetValue(secondBroker) ?? []).Select(SplitBroker)]);
            if (Provisioner.Check(request) is { Count: > 0 } problems)
            {
                return Refuse(problems);
            }
            foreach (var file in Provisioner.Apply(request, parse.GetValue(directory)!))
            {
                Console.WriteLine($"wrote {file}");
            }
            Console.WriteLine("next: calibrate the lens with `homeunit provision servo`, then `homeunit selftest`.");
            return Program.ExitOk;
        });
        return command;
    }

    /// <summary><c>ISSUER=KEY.pem[,KEY.pem]</c>; without '=' the whole is an issuer with no keys (which the check refuses).</summary>
    private static StandbyCentral StandbyOf(string value)
    {
        var at = value.IndexOf('=');
        return at < 0 ? new StandbyCentral(value, []) : new StandbyCentral(value[..at], value[(at + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>Says every problem, and that nothing was written.</summary>
    private static int Refuse(IReadOnlyList<string> problems)
    {
        foreach (var problem in problems)
        {
            Console.Error.WriteLine($"homeunit provision: {problem}");
        }
        Console.Error.WriteLine("homeunit provision: nothing was written.");
        return Program.ExitBadConfiguration;
    }

    private static (string Host, int Port) SplitBroker(string broker)
    {
        var at = broker.LastIndexOf(':');
        return at > 0 && int.TryParse(broker[(at + 1)..], out var port) ? (broker[..at], port) : (broker, 8883);
    }

    private static Command Servo()
    {
        var position = new Option<string>("--position") { Description = "lens-up, bed or room", Required = true };
        var microseconds = new Option<int>("--microseconds") { Description = "Pulse width to try (500–2500)", Required = true };
        var save = new Option<bool>("--save") { Description = "Keep this pulse width for the position in the configuration file" };
        var command = new Command("servo", "Turn the lens to a pulse width so the installer can aim it (the camera stays off)")
        {
            position, microseconds, save,
        };
        command.SetAction(async parse =>
        {
            var key = parse.GetValue(position) switch
            {
                "lens-up" => nameof(ServoOptions.LensUpMicroseconds),
                "bed" => nameof(ServoOptions.BedMicroseconds),
                "room" => nameof(ServoOptions.RoomMicroseconds),
                var other => null,
            };
            var pulse = parse.GetValue(microseconds);
            if (key is null || pulse is < ServoCalibration.MinMicroseconds or > ServoCalibration.MaxMicroseconds)
            {
                return Program.Fail([$"--position must be lens-up, bed or room and --microseconds within {ServoCalibration.MinMicroseconds}–{ServoCalibration.MaxMicroseconds}"]);
            }
            var sources = Program.Sources(parse);
            if (!Program.TryConfigure(sources with { Settings = [.. sources.Settings, $"Servo:{key}={pulse}"] }, out var options, out _, out var simulation, hardwareOnly: true))
            {
                return Program.ExitBadConfiguration;
            }
            using (simulation)
            {
                using var hardware = AgentHost.CreateHardware(options, new HardwareTimeline());
                var target = parse.GetValue(position) switch { "bed" => LensPosition.Bed, "room" => LensPosition.Room, _ => LensPosition.LensUp };
                await hardware.Servo.MoveAsync(target);
                Console.WriteLine($"lens at {parse.GetValue(position)} ({pulse} µs); PWM off again.");
                if (parse.GetValue(save))
                {
                    var file = sources.ConfigFile ?? AgentHost.SystemConfigFile;
                    Provisioner.SaveServo(file, key, pulse);
                    Console.WriteLine($"saved Servo:{key}={pulse} in {file}");
                }
                if (target != LensPosition.LensUp)
                {
                    await hardware.Servo.MoveAsync(LensPosition.LensUp);
                    Console.WriteLine("lens back up.");
                }
                return Program.ExitOk;
            }
        });
        return command;
    }

    public static Command Decommission()
    {
        var deviceId = new Option<string>("--device-id") { Description = "This unit's id, typed back from its label: a unit is never taken out of service by mistake", Required = true };
        var force = new Option<bool>("--force") { Description = "Erase even though the central could not be told or records have not reached it (export them first)" };
        var wait = new Option<int>("--wait-seconds") { Description = "How long to try to reach the central", DefaultValueFactory = _ => 60 };
        var command = new Command("decommission", "Take the unit out of service: show its last nights, safe state, tell the central, then erase its keys and state")
        {
            deviceId, force, wait,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!Program.TryConfigure(Program.Sources(parse), out var options, out _, out var simulation, hardwareOnly: true))
            {
                return Program.ExitBadConfiguration;
            }
            using (simulation)
            {
                using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
                var erase = new[] { options.State.Directory, options.Trust.KeysDirectory, Path.Combine(Path.GetDirectoryName(AgentHost.SystemConfigFile)!, "tls") };
                using var hardware = AgentHost.CreateHardware(options, new HardwareTimeline());
                var decommissioner = new Decommissioner(options, hardware, erase, Console.Out, loggers, () => ServiceState.Query().Active);
                return await decommissioner.RunAsync(parse.GetValue(deviceId)!, parse.GetValue(force), TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(wait))), cancellationToken);
            }
        });
        return command;
    }
}
