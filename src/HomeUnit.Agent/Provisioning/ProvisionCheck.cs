using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.State;
using HomeUnit.Drivers;
using HomeUnit.Mqtt;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Protocol;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;

namespace HomeUnit.Agent.Provisioning;

/// <summary>One line of <c>homeunit provision check</c>: ok, or what is wrong and what to do.</summary>
public sealed record CheckLine(bool Ok, string Text, string? Fix = null);

/// <summary>
/// <c>homeunit provision check</c>, the installer's last step: the broker reachable over mTLS with the
/// unit's certificate accepted, the clock synced, a care plan in force (or an installation look still
/// possible), readiness, the lens calibrated, the service enabled and running. Short lines, for a
/// phone's terminal; each either ok or what to do. It never moves the servo or lights anything.
/// </summary>
public static class ProvisionCheck
{
    /// <summary>How long a broker that accepted the handshake gets to refuse the certificate after it (TLS 1.3 refuses late).</summary>
    public static readonly TimeSpan RefusalWait = TimeSpan.FromSeconds(2);

    public static async Task<IReadOnlyList<CheckLine>> RunAsync(AgentOptions options, IConfiguration configuration, ServiceState service, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var lines = new List<CheckLine>
        {
            await BrokerAsync(options.Mqtt, options.DeviceId, cancellationToken),
            new ClockTrust(new KernelFiles(options.Hardware.Root)).IsSynchronized
                ? new CheckLine(true, "clock synced")
                : new CheckLine(false, "clock not synced", "connect the network (NTP); wait a minute"),
            CarePlan(options.State.Directory, now),
            Lens(configuration),
        };
        if (service.Active)
        {
            // The running agent owns the camera; it runs the self-test itself before each check.
            lines.Add(new CheckLine(true, "readiness: the service tests", null));
        }
        else
        {
            using var hardware = AgentHost.CreateHardware(options, new HardwareTimeline());
            var result = await AgentHost.CreateSelfTest(options, hardware).RunAsync(cancellationToken);
            var failing = result.Parts.Where(p => p.Value != ReadinessParts.Ok).Select(p => $"{p.Key}: {p.Value}").ToList();
            lines.Add(result.Ready
                ? new CheckLine(true, "readiness: every part ok")
                : new CheckLine(false, "readiness: not ready", string.Join("; ", failing) + " (homeunit selftest)"));
        }
        lines.Add(service switch
        {
            { Enabled: true, Active: true } => new CheckLine(true, "service enabled and running"),
            { Enabled: false } => new CheckLine(false, "service not enabled", "sudo systemctl enable --now homeunit"),
            _ => new CheckLine(false, "service not running", "journalctl -u homeunit -n 20; then sudo systemctl restart homeunit"),
        });
        return lines;
    }

    /// <summary>Narrow enough for a phone: "ok" or "!!" and the finding, then what to do on the next line.</summary>
    public static string Format(IReadOnlyList<CheckLine> lines)
    {
        var text = new System.Text.StringBuilder();
        foreach (var line in lines)
        {
            text.Append(line.Ok ? "ok  " : "!!  ").Append(line.Text).Append('\n');
            if (line.Fix is not null)
            {
                text.Append("    → ").Append(line.Fix).Append('\n');
            }
        }
        var failing = lines.Count(l => !l.Ok);
        text.Append(failing == 0 ? "all ok: the unit is ready\n" : $"{failing} to fix, then check again\n");
        return text.ToString();
    }

    /// <summary>A TLS handshake with the unit's certificate, without an MQTT session (which would take over the running agent's).</summary>
    private static async Task<CheckLine> BrokerAsync(HomeUnit.Mqtt.MqttOptions mqtt, string deviceId, CancellationToken cancellationToken)
    {
        var broker = $"{mqtt.Host}:{mqtt.Port}";
        if (mqtt.CaFile is null || mqtt.CertFile is null || mqtt.KeyFile is null)
        {
            return new CheckLine(false, "no broker certificates", "sudo homeunit provision init …");
        }
        using var tcp = new TcpClient();
        try
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connectTimeout.CancelAfter(TimeSpan.FromSeconds(10));
            await tcp.ConnectAsync(mqtt.Host, mqtt.Port, connectTimeout.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return new CheckLine(false, $"broker {broker} unreachable", "check the network, DNS and firewall (port " + mqtt.Port + ")");
        }
        X509Certificate2 ca, device;
        try
        {
            ca = X509Certificate2.CreateFromPem(File.ReadAllText(mqtt.CaFile));
            using var pem = X509Certificate2.CreateFromPemFile(mqtt.CertFile, mqtt.KeyFile);
            device = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            return new CheckLine(false, "unit certificate unreadable", "run as root; or provision init again");
        }
        string? untrusted = null;
        using (ca)
        using (device)
        await using (var tls = new SslStream(tcp.GetStream(), false, (_, certificate, sent, errors) =>
            (untrusted = BrokerCertificate.Problem(certificate, sent, errors, [ca], mqtt.Host)) is null))
        {
            try
            {
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = mqtt.Host,
                    ClientCertificates = [device],
                }, cancellationToken);
                // A broker that refuses the client certificate says so with an alert right after the handshake;
                // one that accepts it waits for MQTT's CONNECT.
                var buffer = new byte[1];
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                wait.CancelAfter(RefusalWait);
                var read = await tls.ReadAsync(buffer, wait.Token);
                return read == 0
                    ? new CheckLine(false, $"broker refused {deviceId}", "ask the centre: is the certificate registered, not revoked?")
                    : new CheckLine(true, $"broker ok, {deviceId} accepted");
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new CheckLine(true, $"broker ok, {deviceId} accepted");
            }
            catch (AuthenticationException)
            {
                return new CheckLine(false, $"broker {broker}: TLS failed{(untrusted is null ? "" : $": {untrusted}")}", "wrong CA or broker name: provision init again");
            }
            catch (IOException)
            {
                return new CheckLine(false, $"broker refused {deviceId}", "ask the centre: is the certificate registered, not revoked?");
            }
        }
    }

    private static CheckLine CarePlan(string stateDirectory, DateTimeOffset now)
    {
        var file = Path.Combine(stateDirectory, StateDatabase.FileName);
        const string None = "no care plan: installation look ok";
        if (!File.Exists(file))
        {
            return new CheckLine(true, None);
        }
        try
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT version, payload FROM careplan WHERE id = 1";
            using var reader = command.ExecuteReader();
            if (!reader.Read())
            {
                return new CheckLine(true, None);
            }
            var version = reader.GetInt64(0);
            using var payload = JsonDocument.Parse(reader.GetString(1));
            var validFrom = payload.RootElement.TryGetProperty("validFrom", out var v) && v.TryGetInt64(out var seconds) ? seconds : 0;
            return validFrom <= now.ToUnixTimeSeconds()
                ? new CheckLine(true, $"care plan v{version} in force")
                : new CheckLine(true, $"care plan v{version} from {DateTimeOffset.FromUnixTimeSeconds(validFrom):yyyy-MM-dd HH:mm}Z");
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 1)
        {
            return new CheckLine(true, None); // no careplan table yet: the agent has not run
        }
        catch (Exception e) when (e is SqliteException or JsonException or InvalidOperationException)
        {
            return new CheckLine(false, "care plan unreadable", "the centre must send it again");
        }
    }

    private static CheckLine Lens(IConfiguration configuration)
    {
        var missing = new[] { ("lens-up", nameof(ServoOptions.LensUpMicroseconds)), ("bed", nameof(ServoOptions.BedMicroseconds)), ("room", nameof(ServoOptions.RoomMicroseconds)) }
            .Where(p => configuration[$"Servo:{p.Item2}"] is null).Select(p => p.Item1).ToList();
        return missing.Count == 0
            ? new CheckLine(true, "lens calibrated")
            : new CheckLine(false, $"lens not calibrated: {string.Join(", ", missing)}", $"homeunit provision servo --position {missing[0]} --microseconds N --save");
    }
}

/// <summary>The service as systemd reports it.</summary>
public sealed record ServiceState(bool Enabled, bool Active)
{
    public static ServiceState Query(string unit = "homeunit.service") => new(Systemctl("is-enabled", unit), Systemctl("is-active", unit));

    private static bool Systemctl(string verb, string unit)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("systemctl", [verb, "--quiet", unit]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no systemd
        }
    }
}
