using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using HomeUnit.Mqtt;
using HomeUnit.TestSupport;

namespace HomeUnit.Bench;

/// <summary>
/// Two ejabberd nodes (Debian's <c>ejabberd</c>, its MQTT v5 service <c>mod_mqtt</c>) clustered on loopback, each with
/// an mTLS MQTT listener on a free port. Identity is the client certificate: a client sends no username and no
/// password, its client id must equal its certificate's CN (<c>tls_verify</c>), and the topic ACL binds
/// <c>homeunit/v1/%u/…</c> to that identity — the same least privilege as the shipped mosquitto ACL.
/// </summary>
public sealed class EjabberdCluster : IAsyncDisposable
{
    public const string CentralIdentity = "central";

    /// <summary>A second central service (an event consumer), for a subscriber that comes later.</summary>
    public const string WatcherIdentity = "central-watch";
    private readonly string directory = Directory.CreateTempSubdirectory("homeunit-ejabberd-").FullName;
    private readonly string run = Guid.NewGuid().ToString("N")[..6];
    private readonly Dictionary<string, PemPair> clients = [];

    private EjabberdCluster()
    {
        Certificates = new Pki(Path.Combine(directory, "pki"));
        Ports = [LocalBroker.FreePort(), LocalBroker.FreePort()];
    }

    /// <summary>The CA and certificates: ejabberd 23.01 reads a CN only when it is a UTF8String, so they are made here.</summary>
    public Pki Certificates { get; }

    /// <summary>The MQTT port of node 0 and node 1.</summary>
    public int[] Ports { get; }

    public static async Task<EjabberdCluster> StartAsync()
    {
        var cluster = new EjabberdCluster();
        try
        {
            cluster.WriteConfiguration();
            await cluster.StartNodeAsync(0);
            await cluster.StartNodeAsync(1);
            cluster.Ctl(1, "join_cluster", cluster.NodeName(0));
            await Eventually.True(() => cluster.Ctl(0, "list_cluster").Contains(cluster.NodeName(1), StringComparison.Ordinal), "node 1 to join the cluster", TimeSpan.FromSeconds(60));
            return cluster;
        }
        catch
        {
            cluster.PrintLogs();
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The last lines of each node's logs, on standard error (when something went wrong).</summary>
    public void PrintLogs()
    {
        foreach (var log in Directory.EnumerateFiles(directory, "*.log", SearchOption.AllDirectories))
        {
            Console.Error.WriteLine($"{log}:\n{string.Join('\n', File.ReadLines(log).TakeLast(20))}");
        }
    }

    /// <summary>The Erlang VM running <paramref name="node"/>, found by its node name on the command line.</summary>
    public int NodePid(int node) =>
        Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(d => d!.All(char.IsDigit)).Select(int.Parse!)
            .First(pid =>
            {
                try
                {
                    var command = File.ReadAllText($"/proc/{pid}/cmdline");
                    return command.StartsWith("/usr/lib/erlang/erts", StringComparison.Ordinal) && command.Contains(NodeName(node), StringComparison.Ordinal);
                }
                catch (IOException)
                {
                    return false;
                }
            });

    public string NodeName(int node) => $"homeunit{node}-{run}@localhost";

    /// <summary>Link settings for <paramref name="identity"/> on <paramref name="node"/>: its certificate, no username.</summary>
    public MqttOptions ClientOptions(string identity, int node)
    {
        PemPair pair;
        lock (clients)
        {
            if (!clients.TryGetValue(identity, out pair!))
            {
                clients[identity] = pair = Certificates.Issue(identity, serverAuth: false);
            }
        }
        return new MqttOptions
        {
            Host = LocalBroker.Host, Port = Ports[node], CaFile = Certificates.CaFile, CertFile = pair.CertFile, KeyFile = pair.KeyFile,
            KeepAliveSeconds = 10, ReconnectMinSeconds = 1, ReconnectMaxSeconds = 2, ConnectTimeoutSeconds = 20,
        };
    }

    /// <summary>Stops a node as its service manager would; its MQTT sessions end with it.</summary>
    public void StopNode(int node) => Ctl(node, "stop");

    public async Task StartNodeAsync(int node)
    {
        Ctl(node, "start");
        Ctl(node, "started");
        await Eventually.True(() => Listening(Ports[node]), $"node {node} to listen on {Ports[node]}", TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in new[] { 1, 0 })
        {
            try
            {
                Ctl(node, "stop");
            }
            catch (InvalidOperationException)
            {
                // not running
            }
        }
        await Task.Yield();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string Ctl(int node, params string[] command)
    {
        var dir = Path.Combine(directory, $"node{node}");
        var start = new ProcessStartInfo("ejabberdctl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])[
            "--config", Path.Combine(dir, "ejabberd.yml"), "--ctl-config", Path.Combine(dir, "ejabberdctl.cfg"),
            "--spool", Path.Combine(dir, "spool"), "--logs", Path.Combine(dir, "logs"), "--node", NodeName(node), .. command])
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill();
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ejabberdctl {string.Join(' ', command)} on node {node}: exit {process.ExitCode}: {output.Result}{errors.Result}");
        }
        return output.Result;
    }

    /// <summary>The ACL of deploy/mosquitto/acl in ejabberd's words: a device publishes its status, event and audit and reads its grant, command and care plan; the central everything.</summary>
    private void WriteConfiguration()
    {
        var pki = Path.Combine(directory, "pki");
        var server = Certificates.Issue("broker", serverAuth: true);
        File.WriteAllText(Path.Combine(pki, "server-bundle.pem"), File.ReadAllText(server.CertFile) + File.ReadAllText(server.KeyFile));
        File.Copy(Certificates.CaFile, Path.Combine(pki, "clients-ca.pem"));
        for (var node = 0; node < 2; node++)
        {
            var dir = Path.Combine(directory, $"node{node}");
            Directory.CreateDirectory(Path.Combine(dir, "spool"));
            Directory.CreateDirectory(Path.Combine(dir, "logs"));
            File.WriteAllText(Path.Combine(dir, "ejabberdctl.cfg"), "INET_DIST_INTERFACE=127.0.0.1\n");
            File.WriteAllText(Path.Combine(dir, "ejabberd.yml"), $$"""
                loglevel: warning
                hosts:
                  - homeunit
                certfiles:
                  - {{pki}}/server-bundle.pem
                ca_file: {{pki}}/clients-ca.pem
                c2s_cafile: {{pki}}/clients-ca.pem
                listen:
                  -
                    port: {{Ports[node]}}
                    ip: "127.0.0.1"
                    module: mod_mqtt
                    backlog: 4096
                    tls: true
                    tls_verify: true
                    max_payload_size: 1048576
                acl:
                  central:
                    user:
                      - {{CentralIdentity}}
                      - {{WatcherIdentity}}
                access_rules:
                  central_only:
                    allow: central
                modules:
                  mod_mqtt:
                    session_expiry: 3600
                    max_queue: 5000
                    access_publish:
                      "homeunit/v1/%u/status": all
                      "homeunit/v1/%u/event": all
                      "homeunit/v1/%u/audit": all
                      "homeunit/v1/#": central_only
                    access_subscribe:
                      "homeunit/v1/%u/grant": all
                      "homeunit/v1/%u/command": all
                      "homeunit/v1/%u/careplan": all
                      "homeunit/v1/#": central_only
                """);
        }
        // ejabberdctl runs the node as the ejabberd user.
        Process.Start("chown", ["-R", "ejabberd:ejabberd", directory])!.WaitForExit();
        Process.Start("chmod", ["755", directory])!.WaitForExit();
    }

    private static bool Listening(int port)
    {
        try
        {
            using var probe = new System.Net.Sockets.TcpClient();
            probe.Connect(LocalBroker.Host, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }
}

/// <summary>A throw-away CA whose certificates carry their CN as a UTF8String.</summary>
public sealed class Pki
{
    private readonly string directory;
    private readonly X509Certificate2 ca;

    public Pki(string directory)
    {
        this.directory = directory;
        Directory.CreateDirectory(directory);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(Name("HomeUnit cluster test CA"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        CaFile = Path.Combine(directory, "ca.pem");
        File.WriteAllText(CaFile, ca.ExportCertificatePem() + "\n");
    }

    public string CaFile { get; }

    public PemPair Issue(string commonName, bool serverAuth)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(Name(commonName), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (serverAuth)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(System.Net.IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }
        using var certificate = request.Create(ca, ca.NotBefore, ca.NotAfter, RandomNumberGenerator.GetBytes(16));
        var pair = new PemPair(Path.Combine(directory, commonName + ".pem"), Path.Combine(directory, commonName + ".key"));
        File.WriteAllText(pair.CertFile, certificate.ExportCertificatePem() + "\n");
        File.WriteAllText(pair.KeyFile, key.ExportECPrivateKeyPem() + "\n");
        File.SetUnixFileMode(pair.KeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return pair;
    }

    private static X500DistinguishedName Name(string commonName)
    {
        var builder = new X500DistinguishedNameBuilder();
        builder.AddCommonName(commonName);
        return builder.Build();
    }
}
