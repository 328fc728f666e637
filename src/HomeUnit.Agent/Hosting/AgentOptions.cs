using HomeUnit.Mqtt;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;
using HomeUnit.Protocol;

namespace HomeUnit.Agent.Hosting;

/// <summary>The agent's configuration (design §6). Defaults are a Pi's; <c>--simulate</c> overrides a few.</summary>
public sealed class AgentOptions
{
    public string DeviceId { get; set; } = "";
    public TrustOptions Trust { get; set; } = new();
    public StateOptions State { get; set; } = new();
    public HardwareOptions Hardware { get; set; } = new();
    public ServoOptions Servo { get; set; } = new();
    public PolicyOptions Policy { get; set; } = new();
    public HealthOptions Health { get; set; } = new();
    public CameraOptions Camera { get; set; } = new();
    /// <summary>Checked by <c>run</c> only (<see cref="MqttOptions.Validate"/>): <c>safe-state</c> must work whatever the link's settings.</summary>
    public MqttOptions Mqtt { get; set; } = new();

    /// <summary>Every problem, each naming its key; empty when the configuration is usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(DeviceId))
        {
            problems.Add("DeviceId: missing; set it to this unit's id (the CN of its certificate)");
        }
        else if (!DeviceIds.IsValid(DeviceId))
        {
            problems.Add($"DeviceId: '{DeviceId}' may hold only letters, digits, '.', '_' and '-' (at most 64), so it is a safe MQTT topic level");
        }
        problems.AddRange(Trust.Validate());
        Require(problems, "State:Directory", State.Directory);
        problems.AddRange(ValidateHardware());
        if (Policy.MaxSessionSeconds is < 5 or > 300)
        {
            problems.Add($"Policy:MaxSessionSeconds: {Policy.MaxSessionSeconds} must lie within 5–300 (a look lasts about 20–30 s)");
        }
        if (Policy.ClockSkewSeconds is < 0 or > 30)
        {
            problems.Add($"Policy:ClockSkewSeconds: {Policy.ClockSkewSeconds} must lie within 0–30");
        }
        problems.AddRange(Camera.Validate());
        if (Health.ReadinessLeadMinutes is < 1 or > 60)
        {
            problems.Add($"Health:ReadinessLeadMinutes: {Health.ReadinessLeadMinutes} must lie within 1–60");
        }
        if (Health.MinFreeMegabytes is < 1)
        {
            problems.Add($"Health:MinFreeMegabytes: {Health.MinFreeMegabytes} must be at least 1");
        }
        return problems;
    }

    /// <summary>
    /// Only what driving the lights, IR and servo needs. <c>safe-state</c> (systemd's ExecStopPost) checks
    /// just this, so an unrelated mistake elsewhere can never keep the unit from being made safe.
    /// </summary>
    public IReadOnlyList<string> ValidateHardware()
    {
        var problems = new List<string>();
        Require(problems, "Hardware:Root", Hardware.Root);
        if (Hardware.ButtonChip is < 0 or > 15 || Hardware.ButtonPin is < 0 or > 53)
        {
            problems.Add($"Hardware:ButtonChip/ButtonPin: gpiochip{Hardware.ButtonChip} line {Hardware.ButtonPin} is out of range (chip 0–15, line 0–53)");
        }
        if (!Directory.Exists(Hardware.Root))
        {
            problems.Add($"Hardware:Root: '{Hardware.Root}' does not exist");
        }
        Require(problems, "Hardware:PowerSupply", Hardware.PowerSupply);
        if (Hardware.PwmChannel is < 0 or > 15)
        {
            problems.Add($"Hardware:PwmChannel: {Hardware.PwmChannel} is not a PWM channel (0–15)");
        }
        if (Servo.Calibration().Problem() is { } calibration)
        {
            problems.Add($"Servo:{calibration}");
        }
        if (Servo.SettleMilliseconds is < 50 or > 5000)
        {
            problems.Add($"Servo:SettleMilliseconds: {Servo.SettleMilliseconds} must lie within 50–5000");
        }
        return problems;
    }

    private static void Require(List<string> problems, string key, string value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            problems.Add($"{key}: missing");
        }
    }
}

/// <summary>
/// The centrals this unit trusts. Either <see cref="Centrals"/> names each (issuer, role, keys), or —
/// as units provisioned before several centrals existed are — <see cref="Issuer"/> alone names one
/// primary that holds every key in <see cref="KeysDirectory"/>.
/// </summary>
public sealed class TrustOptions
{
    public string KeysDirectory { get; set; } = "/etc/homeunit/trust";

    /// <summary>The one central whose tokens are accepted (the <c>iss</c> claim), when <see cref="Centrals"/> is empty.</summary>
    public string Issuer { get; set; } = Grants.TrustPolicy.DefaultIssuer;

    public List<CentralOptions> Centrals { get; set; } = [];

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(KeysDirectory))
        {
            problems.Add("Trust:KeysDirectory: missing");
        }
        if (Centrals.Count == 0)
        {
            if (!Identifiers.IsValid(Issuer))
            {
                problems.Add("Trust:Issuer: missing or not printable ASCII (at most 128 characters)");
            }
            return problems;
        }
        var kids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Centrals.Count; i++)
        {
            var central = Centrals[i];
            var key = $"Trust:Centrals:{i}";
            if (!Identifiers.IsValid(central.Issuer ?? ""))
            {
                problems.Add($"{key}:Issuer: missing or not printable ASCII (at most 128 characters)");
            }
            else if (Centrals.Take(i).Any(c => c.Issuer == central.Issuer))
            {
                problems.Add($"{key}:Issuer: '{central.Issuer}' is named twice");
            }
            if (!Protocol.CentralRoles.All.Contains(central.Role))
            {
                problems.Add($"{key}:Role: '{central.Role}' must be primary or standby");
            }
            if (central.Keys.Count == 0)
            {
                problems.Add($"{key}:Keys: give at least one key id (its public key is <kid>.pem in Trust:KeysDirectory)");
            }
            foreach (var kid in central.Keys)
            {
                if (!System.Text.RegularExpressions.Regex.IsMatch(kid ?? "", "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"))
                {
                    problems.Add($"{key}:Keys: '{kid}' is not a key id (letters, digits, '.', '_', '-')");
                }
                else if (!kids.Add(kid!))
                {
                    problems.Add($"{key}:Keys: key '{kid}' is named twice; a key belongs to exactly one central");
                }
            }
        }
        var primaries = Centrals.Count(c => c.Role == Protocol.CentralRoles.Primary);
        if (primaries != 1)
        {
            problems.Add($"Trust:Centrals: exactly one central must be primary ({primaries} are)");
        }
        return problems;
    }

    /// <summary>The trusted keys as configured.</summary>
    /// <exception cref="InvalidDataException">A key file is missing or not a P-256 public key.</exception>
    public Grants.TrustedKeys LoadKeys() => Centrals.Count == 0
        ? Grants.TrustedKeys.Load(KeysDirectory, Issuer)
        : Grants.TrustedKeys.Load(KeysDirectory, [.. Centrals.Select(c => new Grants.TrustedCentral(c.Issuer, c.Role, [.. c.Keys]))]);
}

/// <summary>One trusted central: its <c>iss</c>, <c>primary</c> or <c>standby</c>, and the ids of its keys.</summary>
public sealed class CentralOptions
{
    public string Issuer { get; set; } = "";
    public string Role { get; set; } = "";
    public List<string> Keys { get; set; } = [];
}

public sealed class HealthOptions
{
    /// <summary>How long before each scheduled check the readiness self-test runs.</summary>
    public int ReadinessLeadMinutes { get; set; } = 5;

    /// <summary>Free space the state directory needs for the audit log and outbox.</summary>
    public int MinFreeMegabytes { get; set; } = 50;
}

public sealed class StateOptions
{
    public string Directory { get; set; } = "/var/lib/homeunit";
}

public sealed class HardwareOptions
{
    public string Root { get; set; } = "/";

    /// <summary>The PWM chip's device name (its <c>device</c> link); empty = the known Pi 4 / Pi 5 one.</summary>
    public string PwmDevice { get; set; } = "";

    /// <summary>The channel on that chip; empty = the board's channel for GPIO 18.</summary>
    public int? PwmChannel { get; set; }

    /// <summary>The power_supply device the UPS's power-good pin appears as.</summary>
    public string PowerSupply { get; set; } = "mains";

    /// <summary>The GPIO chip (<c>/dev/gpiochipN</c>) the privacy button's pin is on.</summary>
    public int ButtonChip { get; set; }

    /// <summary>The privacy button's GPIO line (BCM numbering): a push button to ground, the pull-up on.</summary>
    public int ButtonPin { get; set; } = 27;
}

public sealed class ServoOptions
{
    public int LensUpMicroseconds { get; set; } = 600;
    public int BedMicroseconds { get; set; } = 1500;
    public int RoomMicroseconds { get; set; } = 2000;
    public int SettleMilliseconds { get; set; } = 600;

    public ServoCalibration Calibration() => new(LensUpMicroseconds, BedMicroseconds, RoomMicroseconds);
}

public sealed class PolicyOptions
{
    public int MaxSessionSeconds { get; set; } = 60;
    public int ClockSkewSeconds { get; set; } = 30;
}
