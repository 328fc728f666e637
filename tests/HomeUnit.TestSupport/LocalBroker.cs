using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HomeUnit.Mqtt;

namespace HomeUnit.TestSupport;

/// <summary>
/// A real mosquitto on 127.0.0.1, running the shipped <c>deploy/mosquitto/mosquitto.conf</c>,
/// <c>acl</c> and <c>central.acl</c> with their paths pointed at a temp directory, certificates made
/// on the spot, and its two listeners (units, the central) on free ports (for the demo and the tests). It can be stopped and started again on the
/// same port (its persistence file keeps the sessions), and is killed on dispose.
/// </summary>
public sealed class LocalBroker : IAsyncDisposable
{
    public const string Host = "127.0.0.1";
    /// <summary>The CN of the central service's certificate (deploy/mosquitto/central.acl).</summary>
    public const string CentralIdentity = "central";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string directory = Directory.CreateTempSubdirectory("homeunit-broker-").FullName;
    private readonly StringBuilder log = new();
    private readonly Dictionary<string, PemPair> clients = [];
    private readonly string configurationFile;
    private Process? process;

    private LocalBroker(LocalCertificates? certificates)
    {
        try
        {
            Certificates = certificates ?? new LocalCertificates(Path.Combine(directory, "pki"));
            Port = FreePort();
            CentralPort = FreePort();
            configurationFile = WriteConfiguration();
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    public LocalCertificates Certificates { get; }

    /// <summary>The units' listener.</summary>
    public int Port { get; }

    /// <summary>The running mosquitto's process id (for a bench's CPU and memory readings).</summary>
    public int? ProcessId => process is { HasExited: false } running ? running.Id : null;

    /// <summary>The central's listener (central-CA certificates only).</summary>
    public int CentralPort { get; }

    /// <summary>Everything the broker printed (its log), for assertions and failure messages.</summary>
    public string Log
    {
        get { lock (log) return log.ToString(); }
    }

    /// <summary>
    /// Starts a broker on free ports. With <paramref name="samePkiAs"/> it is a second broker of the same
    /// central (the second path): the same CAs and server certificate, so the same unit certificate works on both.
    /// </summary>
    public static async Task<LocalBroker> LaunchAsync(LocalBroker? samePkiAs = null)
    {
        var broker = new LocalBroker(samePkiAs?.Certificates);
        try
        {
            await broker.StartAsync();
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Link settings for a device whose certificate CN is <paramref name="deviceId"/>, reconnecting
    /// quickly. The id <c>central</c> is the central service: its certificate comes from the central's
    /// CA and it connects to the central's listener.
    /// </summary>
    public MqttOptions ClientOptions(string deviceId)
    {
        var central = deviceId == CentralIdentity;
        PemPair pair;
        lock (clients)
        {
            if (!clients.TryGetValue(deviceId, out pair!))
            {
                clients[deviceId] = pair = central ? Certificates.CentralClient(deviceId) : Certificates.Client(deviceId);
            }
        }
        return new MqttOptions
        {
            Host = Host,
            Port = central ? CentralPort : Port,
            CaFile = Certificates.CaFile,
            CertFile = pair.CertFile,
            KeyFile = pair.KeyFile,
            KeepAliveSeconds = 10,
            ReconnectMinSeconds = 1,
            ReconnectMaxSeconds = 2,
            ConnectTimeoutSeconds = 20,
        };
    }

    /// <summary>The certificate and key <see cref="ClientOptions"/> gives <paramref name="deviceId"/>.</summary>
    public PemPair ClientCertificate(string deviceId)
    {
        var options = ClientOptions(deviceId);
        return new PemPair(options.CertFile!, options.KeyFile!);
    }

    /// <summary>Revokes a unit's certificate; the broker reads the new CRL when it next starts.</summary>
    public void Revoke(string deviceId) => Certificates.Revoke(ClientCertificate(deviceId));

    public async Task StartAsync()
    {
        if (process is { HasExited: false })
        {
            throw new InvalidOperationException("the broker is already running");
        }
        var start = new ProcessStartInfo(File.Exists("/usr/sbin/mosquitto") ? "/usr/sbin/mosquitto" : "mosquitto")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(configurationFile);
        process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var running = process;
        await Eventually.True(() => running.HasExited || (Listening(Port) && Listening(CentralPort)), $"mosquitto to listen on {Host}:{Port} and {CentralPort}", StartTimeout);
        if (running.HasExited)
        {
            throw new InvalidOperationException($"mosquitto exited with {running.ExitCode}:\n{Log}");
        }
    }

    /// <summary>Stops the broker as a service manager would (SIGTERM): it saves its sessions and closes every connection.</summary>
    public async Task StopAsync()
    {
        if (process is not { HasExited: false } running)
        {
            return;
        }
        Process.Start("kill", ["-TERM", running.Id.ToString()])!.WaitForExit();
        await running.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
    }

    /// <summary>Freezes the broker (SIGSTOP): its sockets stay open but nothing answers, as with a hung host.</summary>
    public void Freeze() => Signal("STOP");

    /// <summary>Lets a frozen broker run on (SIGCONT).</summary>
    public void Thaw() => Signal("CONT");

    /// <summary>Kills the broker (SIGKILL): no goodbye, nothing saved since its last autosave.</summary>
    public async Task KillAsync()
    {
        if (process is not { HasExited: false } running)
        {
            return;
        }
        running.Kill();
        await running.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
    }

    private void Signal(string signal)
    {
        if (process is not { HasExited: false } running)
        {
            throw new InvalidOperationException("the broker is not running");
        }
        Process.Start("kill", [$"-{signal}", running.Id.ToString()])!.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        if (process is { HasExited: false } running)
        {
            running.Kill();
            await running.WaitForExitAsync();
        }
        process?.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                log.AppendLine(line);
            }
        }
    }

    private static bool Listening(int port)
    {
        try
        {
            using var probe = new TcpClient();
            probe.Connect(Host, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>The shipped configuration with its paths, listener and log destination rewritten; each must be found.</summary>
    private string WriteConfiguration()
    {
        var deploy = Path.Combine(RepositoryRoot(), "deploy", "mosquitto");
        var etc = Path.Combine(directory, "etc");
        var data = Path.Combine(directory, "data");
        Directory.CreateDirectory(etc);
        Directory.CreateDirectory(data);
        File.Copy(Certificates.CaFile, Path.Combine(etc, "ca.pem"));
        File.Copy(Certificates.Server.CertFile, Path.Combine(etc, "server.pem"));
        File.Copy(Certificates.Server.KeyFile, Path.Combine(etc, "server.key"));
        File.Copy(Certificates.CentralCaFile, Path.Combine(etc, "central-ca.pem"));
        File.Copy(Path.Combine(deploy, "acl"), Path.Combine(etc, "acl"));
        File.Copy(Path.Combine(deploy, "central.acl"), Path.Combine(etc, "central.acl"));

        var text = File.ReadAllText(Path.Combine(deploy, "mosquitto.conf"));
        text = ReplaceOnce(text, "listener 8883\n", $"listener {Port} {Host}\n");
        text = ReplaceOnce(text, "listener 8884\n", $"listener {CentralPort} {Host}\n");
        // The revocation lists are the PKI's own files, so a revocation shows at the next start.
        text = ReplaceOnce(text, "crlfile /etc/mosquitto/homeunit/crl.pem\n", $"crlfile {Certificates.CrlFile}\n");
        text = ReplaceOnce(text, "crlfile /etc/mosquitto/homeunit/central-crl.pem\n", $"crlfile {Certificates.CentralCrlFile}\n");
        text = ReplaceOnce(text, "log_dest syslog\n", "log_dest stderr\n");
        text = ReplaceOnce(text, "persistence_location /var/lib/mosquitto/\n", $"persistence_location {data}/\n");
        text = text.Replace("/etc/mosquitto/homeunit/", etc + "/", StringComparison.Ordinal);
        if (Environment.UserName == "root")
        {
            // Run as root, mosquitto would switch to the user "mosquitto", who cannot read the temp files.
            text = "user root\n" + text;
        }
        var path = Path.Combine(directory, "mosquitto.conf");
        File.WriteAllText(path, text);
        return path;
    }

    private static string ReplaceOnce(string text, string find, string replacement)
    {
        var at = text.IndexOf(find, StringComparison.Ordinal);
        if (at < 0 || text.IndexOf(find, at + 1, StringComparison.Ordinal) >= 0)
        {
            throw new InvalidOperationException($"deploy/mosquitto/mosquitto.conf must contain '{find.Trim()}' exactly once");
        }
        return text[..at] + replacement + text[(at + find.Length)..];
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "HomeUnit.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("HomeUnit.sln not found above " + AppContext.BaseDirectory);
    }
}
