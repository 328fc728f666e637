using System.Diagnostics;
using System.Text;
using System.Text.Json;
using HomeUnit.Central;
using HomeUnit.TestSupport;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.Bench;

/// <summary>
/// <c>cluster</c>: the link's end-to-end behaviour on a clustered MQTT v5 engine (<see cref="EjabberdCluster"/>, two
/// nodes on loopback): the real <c>homeunit run --simulate</c> on node 0, the central on node 1. Checks identity
/// (client id bound to the certificate), per-device access, the retained status across nodes and for a late
/// subscriber, the will, the outbox's delivery across a restart of the unit's node, and what happens to messages
/// for the central while the central's own node restarts. One JSON object per check.
/// </summary>
public static class ClusterBench
{
    private const string Unit = "unit-a";
    private const string Other = "unit-b";
    private const string Third = "unit-c";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync()
    {
        var failures = 0;
        void Check(string check, bool passed, object? detail = null)
        {
            failures += passed ? 0 : 1;
            Console.WriteLine(JsonSerializer.Serialize(new { bench = "cluster", check, passed, detail }));
        }

        var clock = Stopwatch.StartNew();
        await using var cluster = await EjabberdCluster.StartAsync();
        Check("cluster-formed", true, new { seconds = Math.Round(clock.Elapsed.TotalSeconds, 1), nodes = new[] { cluster.NodeName(0), cluster.NodeName(1) } });
        ILogger log = NullLogger.Instance;
        CentralClient central;
        try
        {
            central = await CentralClient.ConnectAsync(cluster.ClientOptions(EjabberdCluster.CentralIdentity, 1), log, ["homeunit/v1/#"]);
        }
        catch (TimeoutException)
        {
            cluster.PrintLogs();
            throw;
        }
        await using var _ = central;

        var work = Directory.CreateTempSubdirectory("homeunit-cluster-unit-").FullName;
        var state = Path.Combine(work, "state");
        var kernel = Path.Combine(state, "kernel");
        Directory.CreateDirectory(Path.Combine(work, "trust"));
        File.WriteAllText(Path.Combine(work, "trust", "central.pem"), HomeUnit.Central.CentralSigner.CreateKeyPair().PublicPem);
        AgentProcess StartUnit()
        {
            var tls = cluster.ClientOptions(Unit, 0);
            string[] settings =
            [
                $"DeviceId={Unit}", $"State:Directory={state}", $"Hardware:Root={kernel}", $"Trust:KeysDirectory={Path.Combine(work, "trust")}",
                $"Mqtt:Host={tls.Host}", $"Mqtt:Port={tls.Port}", $"Mqtt:CaFile={tls.CaFile}", $"Mqtt:CertFile={tls.CertFile}", $"Mqtt:KeyFile={tls.KeyFile}",
                "Mqtt:ReconnectMaxSeconds=2", "Mqtt:KeepAliveSeconds=5",
            ];
            return AgentProcess.Start(["run", "--simulate", .. settings.SelectMany(s => new[] { "--set", s })]);
        }
        string Topic(string device, string topic) => Topics.For(device, topic);
        bool Status(HomeUnit.Mqtt.MqttMessage m, string stateName) =>
            m.Topic == Topic(Unit, Topics.Status) && JsonDocument.Parse(m.Payload).RootElement.GetProperty("state").GetString() == stateName;
        int Events(string type) => central.Messages.Count(m => m.Topic == Topic(Unit, Topics.Event)
            && JsonDocument.Parse(m.Payload).RootElement.GetProperty("type").GetString() == type);

        var agent = StartUnit();
        try
        {
            // Identity: the unit's own certificate and id connect; its status crosses from node 0 to the central on node 1.
            var online = await Try(() => central.WaitForAsync(m => Status(m, "online"), "unit-a online", Patience));
            Check("identity-from-certificate-and-status-across-nodes", online, new { unitNode = 0, centralNode = 1 });

            // Per-device access, tried with the unit's certificate by a stock client.
            var spoofed = await MosquittoPub(cluster, Unit, clientId: Other, Topic(Other, Topics.Status), "spoofed");
            Check("client-id-other-than-certificate-cn-refused", spoofed.Contains("Not authorized", StringComparison.Ordinal), spoofed.Trim());
            // A third unit, with its own certificate, tries another unit's topics and to grant itself a look.
            var forged = await MosquittoPub(cluster, Third, clientId: Third, Topic(Other, Topics.Status), "forged");
            var ownGrant = await MosquittoPub(cluster, Third, clientId: Third, Topic(Third, Topics.Grant), "self-granted");
            await Task.Delay(TimeSpan.FromSeconds(2));
            var leaked = central.Messages.Any(m => Encoding.UTF8.GetString(m.Payload) is "forged" or "self-granted" or "spoofed");
            Check("publish-outside-own-prefix-or-to-own-grant-refused", !leaked && forged.Contains("forbidden", StringComparison.Ordinal) && ownGrant.Contains("forbidden", StringComparison.Ordinal),
                new { forged = forged.Trim(), ownGrant = ownGrant.Trim() });
            var subscribe = await MosquittoSub(cluster, Third, Third, Topic(Other, Topics.Grant));
            Check("subscribe-to-another-units-grant-refused", subscribe.Contains("denied", StringComparison.Ordinal), subscribe.Trim());

            // Retained status for a subscriber that comes later, on the other node.
            var retainedSame = await MosquittoSub(cluster, EjabberdCluster.WatcherIdentity, EjabberdCluster.WatcherIdentity, Topic(Unit, Topics.Status), node: 0, wait: 3);
            Check("retained-status-for-a-late-subscriber-on-the-units-node", retainedSame.Contains("\"online\"", StringComparison.Ordinal), retainedSame.Trim());
            var retained = await MosquittoSub(cluster, EjabberdCluster.WatcherIdentity, EjabberdCluster.WatcherIdentity, Topic(Unit, Topics.Status), node: 1, wait: 3);
            Check("retained-status-for-a-late-subscriber-on-the-other-node", retained.Contains("\"online\"", StringComparison.Ordinal), retained.Trim());

            // The outbox across a restart of the unit's node: events raised while node 0 is down arrive afterwards.
            var lostBefore = Events(EventType.PowerLost.Code());
            var restoredBefore = Events(EventType.PowerRestored.Code());
            var stopped = Stopwatch.StartNew();
            cluster.StopNode(0);
            File.WriteAllText(Path.Combine(kernel, "sys/class/power_supply/mains/online"), "0");
            await Task.Delay(TimeSpan.FromSeconds(2));
            File.WriteAllText(Path.Combine(kernel, "sys/class/power_supply/mains/online"), "1");
            await Task.Delay(TimeSpan.FromSeconds(2));
            await cluster.StartNodeAsync(0);
            var delivered = await Try(() => Eventually.True(() => Events(EventType.PowerLost.Code()) > lostBefore && Events(EventType.PowerRestored.Code()) > restoredBefore, "the queued events", Patience));
            Check("outbox-delivers-across-a-restart-of-the-units-node", delivered, new { outageSeconds = Math.Round(stopped.Elapsed.TotalSeconds, 1) });

            // Messages for the central while the central's own node restarts: its persistent session lives on that node.
            var beforeCentralOutage = (Lost: Events(EventType.PowerLost.Code()), Restored: Events(EventType.PowerRestored.Code()));
            cluster.StopNode(1);
            File.WriteAllText(Path.Combine(kernel, "sys/class/power_supply/mains/online"), "0");
            await Task.Delay(TimeSpan.FromSeconds(2));
            File.WriteAllText(Path.Combine(kernel, "sys/class/power_supply/mains/online"), "1");
            await Task.Delay(TimeSpan.FromSeconds(2));
            await cluster.StartNodeAsync(1);
            var survived = await Try(() => Eventually.True(() => Events(EventType.PowerLost.Code()) > beforeCentralOutage.Lost && Events(EventType.PowerRestored.Code()) > beforeCentralOutage.Restored, "events sent while the central's node was down", TimeSpan.FromSeconds(20)));
            Console.WriteLine(JsonSerializer.Serialize(new { bench = "cluster", check = "messages-for-the-central-while-its-node-restarts", delivered = survived, note = "informational: a persistent session and its queue live on one node" }));

            // The will: kill -9 the unit; the broker's will says offline to the central on the other node.
            var offlineBefore = central.Messages.Count(m => Status(m, "offline"));
            agent.KillHard();
            var will = await Try(() => Eventually.True(() => central.Messages.Count(m => Status(m, "offline")) > offlineBefore, "the will", Patience));
            Check("will-offline-across-nodes-after-kill-9", will);
        }
        finally
        {
            Console.Error.WriteLine(string.Join("\n", agent.Output.Split('\n').TakeLast(15)));
            agent.Dispose();
            Directory.Delete(work, recursive: true);
        }
        return failures == 0 ? 0 : 1;
    }

    private static async Task<bool> Try(Func<Task> wait)
    {
        try
        {
            await wait();
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private static Task<string> MosquittoPub(EjabberdCluster cluster, string identity, string clientId, string topic, string message) =>
        Tool(cluster, identity, "mosquitto_pub", ["-i", clientId, "-t", topic, "-m", message, "-q", "1"], node: 0);

    private static Task<string> MosquittoSub(EjabberdCluster cluster, string identity, string clientId, string topic, int node = 0, int wait = 2) =>
        Tool(cluster, identity, "mosquitto_sub", ["-i", clientId, "-t", topic, "-v", "-W", wait.ToString(), "-C", "1"], node);

    private static async Task<string> Tool(EjabberdCluster cluster, string identity, string program, string[] arguments, int node)
    {
        var options = cluster.ClientOptions(identity, node);
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["-V", "mqttv5", "-h", options.Host, "-p", options.Port.ToString(), "--cafile", options.CaFile!,
            "--cert", options.CertFile!, "--key", options.KeyFile!, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return await output + await errors;
    }
}
