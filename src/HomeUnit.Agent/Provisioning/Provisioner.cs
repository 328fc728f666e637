using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Nodes;
using HomeUnit.Protocol;

namespace HomeUnit.Agent.Provisioning;

/// <summary>A standby central: its <c>iss</c> and its public keys (<c>&lt;kid&gt;.pem</c>).</summary>
public sealed record StandbyCentral(string Issuer, IReadOnlyList<string> KeyFiles);

/// <summary>
/// What an installer gives when setting up a unit: <see cref="TrustedKeyFiles"/> are the primary
/// central's keys (its <c>iss</c> is <see cref="Issuer"/>); <see cref="Standbys"/> the standby centrals.
/// </summary>
public sealed record ProvisionRequest(
    string DeviceId,
    string BrokerHost,
    int BrokerPort,
    string CaFile,
    string CertFile,
    string KeyFile,
    IReadOnlyList<string> TrustedKeyFiles,
    string CameraSource,
    string Issuer = HomeUnit.Protocol.CentralDefaults.Issuer,
    IReadOnlyList<StandbyCentral>? Standbys = null,
    IReadOnlyList<(string Host, int Port)>? SecondBrokers = null)
{
    public IReadOnlyList<StandbyCentral> StandbyCentrals => Standbys ?? [];

    public IReadOnlyList<(string Host, int Port)> FurtherBrokers => SecondBrokers ?? [];
}

/// <summary>
/// Writes a unit's configuration and copies its certificates and the central's trusted keys into the
/// configuration directory, after checking that they belong together. Checks everything first and
/// changes nothing when anything is wrong. Never prints key material.
/// </summary>
public static partial class Provisioner
{
    public static IReadOnlyList<string> Check(ProvisionRequest request)
    {
        var problems = new List<string>();
        if (!DeviceIds.IsValid(request.DeviceId))
        {
            problems.Add($"--device-id: '{request.DeviceId}' may hold only letters, digits, '.', '_' and '-'");
        }
        if (string.IsNullOrWhiteSpace(request.BrokerHost) || request.BrokerPort is < 1 or > 65535)
        {
            problems.Add("--broker: give host:port of the central's MQTT broker");
        }
        if (request.FurtherBrokers.Any(b => string.IsNullOrWhiteSpace(b.Host) || b.Port is < 1 or > 65535))
        {
            problems.Add("--second-broker: give host:port");
        }
        foreach (var (option, file) in new[] { ("--ca", request.CaFile), ("--cert", request.CertFile), ("--key", request.KeyFile) })
        {
            if (!File.Exists(file))
            {
                problems.Add($"{option}: {file} does not exist");
            }
        }
        if (problems.Count == 0)
        {
            problems.AddRange(CheckCertificates(request));
        }
        if (request.TrustedKeyFiles.Count == 0)
        {
            problems.Add("--trust: give at least one central public key, named <kid>.pem");
        }
        foreach (var file in request.TrustedKeyFiles)
        {
            if (CheckTrustedKey(file) is { } problem)
            {
                problems.Add($"--trust: {problem}");
            }
        }
        problems.AddRange(CheckStandbys(request));
        if (request.CameraSource is not ("v4l2" or "rpicam"))
        {
            problems.Add($"--camera: '{request.CameraSource}' is not v4l2 or rpicam");
        }
        return problems;
    }

    private static IEnumerable<string> CheckCertificates(ProvisionRequest request)
    {
        X509Certificate2 device;
        try
        {
            device = X509Certificate2.CreateFromPemFile(request.CertFile, request.KeyFile);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            // The message could name key internals; say only what the installer can act on.
            return ["--cert/--key: the certificate and the private key do not belong together or cannot be read"];
        }
        using (device)
        {
            var problems = new List<string>();
            var commonName = device.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
            if (commonName != request.DeviceId)
            {
                problems.Add($"--cert: its CN is '{commonName}', but the device id is '{request.DeviceId}' (the broker uses the CN as the identity)");
            }
            if (device.NotAfter < DateTime.Now)
            {
                problems.Add($"--cert: expired on {device.NotAfter:yyyy-MM-dd}");
            }
            try
            {
                var ca = X509Certificate2.CreateFromPem(File.ReadAllText(request.CaFile));
                using var chain = new X509Chain();
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                if (!chain.Build(device))
                {
                    problems.Add("--ca: the device certificate was not issued under this CA");
                }
            }
            catch (CryptographicException)
            {
                problems.Add("--ca: not a PEM certificate");
            }
            return problems;
        }
    }

    private static IEnumerable<string> CheckStandbys(ProvisionRequest request)
    {
        var issuers = new HashSet<string>(StringComparer.Ordinal) { request.Issuer };
        var kids = request.TrustedKeyFiles.Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        if (!Identifiers.IsValid(request.Issuer))
        {
            yield return $"--issuer: '{request.Issuer}' is not an issuer (printable ASCII, at most 128 characters)";
        }
        foreach (var standby in request.StandbyCentrals)
        {
            if (!Identifiers.IsValid(standby.Issuer) || !issuers.Add(standby.Issuer))
            {
                yield return $"--standby: '{standby.Issuer}' is not a new issuer (each central once, printable ASCII)";
            }
            if (standby.KeyFiles.Count == 0)
            {
                yield return $"--standby: give {standby.Issuer}'s keys as ISSUER=KEY.pem[,KEY.pem]";
            }
            foreach (var file in standby.KeyFiles)
            {
                if (CheckTrustedKey(file) is { } problem)
                {
                    yield return $"--standby: {problem}";
                }
                else if (!kids.Add(Path.GetFileName(file)))
                {
                    yield return $"--standby: {Path.GetFileName(file)} is named twice; a key belongs to exactly one central";
                }
            }
        }
    }

    private static string? CheckTrustedKey(string file)
    {
        if (!File.Exists(file))
        {
            return $"{file} does not exist";
        }
        if (!file.EndsWith(".pem", StringComparison.Ordinal))
        {
            return $"{file}: name it <kid>.pem (the file name is the key id)";
        }
        try
        {
            using var key = ECDsa.Create();
            key.ImportFromPem(File.ReadAllText(file));
            return key.KeySize == 256 ? null : $"{file}: not a P-256 key (ES256 needs one)";
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            return $"{file}: not an EC public key in PEM";
        }
    }

    /// <summary>Writes everything into <paramref name="configDirectory"/>; returns the files written.</summary>
    public static IReadOnlyList<string> Apply(ProvisionRequest request, string configDirectory)
    {
        var tls = Path.Combine(configDirectory, "tls");
        var trust = Path.Combine(configDirectory, "trust");
        Directory.CreateDirectory(tls);
        Directory.CreateDirectory(trust);
        var written = new List<string>
        {
            Copy(request.CaFile, Path.Combine(tls, "ca.pem"), secret: false),
            Copy(request.CertFile, Path.Combine(tls, "device.pem"), secret: false),
            Copy(request.KeyFile, Path.Combine(tls, "device.key"), secret: true),
        };
        written.AddRange(request.TrustedKeyFiles.Concat(request.StandbyCentrals.SelectMany(s => s.KeyFiles))
            .Select(file => Copy(file, Path.Combine(trust, Path.GetFileName(file)), secret: false)));

        var configFile = Path.Combine(configDirectory, "homeunit.json");
        var config = File.Exists(configFile) ? JsonNode.Parse(File.ReadAllText(configFile))?.AsObject() ?? [] : [];
        config["DeviceId"] = request.DeviceId;
        config["Mqtt"] = new JsonObject
        {
            ["Host"] = request.BrokerHost,
            ["Port"] = request.BrokerPort,

            ["CaFile"] = Path.Combine(tls, "ca.pem"),
            ["CertFile"] = Path.Combine(tls, "device.pem"),
            ["KeyFile"] = Path.Combine(tls, "device.key"),
        };
        var centrals = new JsonArray { Central(request.Issuer, HomeUnit.Protocol.CentralRoles.Primary, request.TrustedKeyFiles) };
        foreach (var standby in request.StandbyCentrals)
        {
            centrals.Add(Central(standby.Issuer, HomeUnit.Protocol.CentralRoles.Standby, standby.KeyFiles));
        }
        if (request.FurtherBrokers.Count > 0)
        {
            config["Mqtt"]!["Brokers"] = new JsonArray([.. new[] { (request.BrokerHost, request.BrokerPort) }.Concat(request.FurtherBrokers)
                .Select(b => (JsonNode)$"{b.Item1}:{b.Item2}")]);
        }
        config["Trust"] = new JsonObject { ["KeysDirectory"] = trust, ["Centrals"] = centrals };
        config["Camera"] = new JsonObject { ["Source"] = request.CameraSource };
        File.WriteAllText(configFile, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        written.Add(configFile);
        return written;
    }

    private static JsonObject Central(string issuer, string role, IReadOnlyList<string> keyFiles) => new()
    {
        ["Issuer"] = issuer,
        ["Role"] = role,
        ["Keys"] = new JsonArray([.. keyFiles.Select(f => (JsonNode)Path.GetFileNameWithoutExtension(f))]),
    };

    /// <summary>Saves a servo calibration value into the configuration file.</summary>
    public static void SaveServo(string configFile, string key, int microseconds)
    {
        var config = File.Exists(configFile) ? JsonNode.Parse(File.ReadAllText(configFile))?.AsObject() ?? [] : [];
        var servo = config["Servo"] as JsonObject ?? [];
        servo[key] = microseconds;
        config["Servo"] = servo;
        File.WriteAllText(configFile, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The group the service runs as (deploy/systemd/homeunit.service): it must read the key, nobody else.</summary>
    public const string ServiceGroup = "homeunit";

    private static string Copy(string from, string to, bool secret)
    {
        File.Copy(from, to, overwrite: true);
        if (secret)
        {
            // root:homeunit 0640 — the service reads it; other accounts cannot.
            File.SetUnixFileMode(to, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            if (GroupId(ServiceGroup) is { } gid && Chown(to, -1, gid) != 0)
            {
                throw new IOException($"cannot give {to} to group {ServiceGroup}");
            }
        }
        else
        {
            File.SetUnixFileMode(to, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
        return to;
    }

    private static int? GroupId(string name) =>
        File.ReadLines("/etc/group").Select(line => line.Split(':')).Where(f => f.Length > 2 && f[0] == name)
            .Select(f => int.TryParse(f[2], out var gid) ? gid : (int?)null).FirstOrDefault();

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "chown", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int Chown(string path, int owner, int group);
}
