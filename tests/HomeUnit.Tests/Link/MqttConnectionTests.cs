using HomeUnit.Central;
using HomeUnit.TestSupport;
using System.Text;
using HomeUnit.Mqtt;
using HomeUnit.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace HomeUnit.Tests.Link;

/// <summary>The MQTTnet connection against a real broker running the shipped configuration (mTLS + ACL).</summary>
public sealed class MqttConnectionTests(ITestOutputHelper output) : BrokerTestClass(output)
{

    private MqttConnection Connection(MqttOptions options, string clientId)
    {
        var connection = new MqttConnection(options, options.Broker, clientId, null, Log.For<MqttConnection>());
        Owned.Add(connection);
        return connection;
    }

    private async Task<MqttConnection> ConnectedDevice(string deviceId)
    {
        var device = Connection(Broker.ClientOptions(deviceId), deviceId);
        await device.ConnectAsync(CancellationToken.None);
        return device;
    }

    [Fact]
    public async Task Device_and_central_exchange_messages_over_mutual_tls()
    {
        var central = await Central(filters: "homeunit/v1/+/event");
        var device = await ConnectedDevice("unit-a");
        await device.SubscribeAsync("homeunit/v1/unit-a/grant", CancellationToken.None);

        await device.PublishAsync("homeunit/v1/unit-a/event", "hello"u8.ToArray(), retain: false, CancellationToken.None);
        await central.WaitForAsync(m => m.Topic == "homeunit/v1/unit-a/event" && Encoding.UTF8.GetString(m.Payload) == "hello", "the event at the central");

        await central.PublishAsync("homeunit/v1/unit-a/grant", "a-grant"u8.ToArray());
        var grant = await NextMessage(device);
        Assert.Equal("homeunit/v1/unit-a/grant", grant.Topic);
        Assert.Equal("a-grant", Encoding.UTF8.GetString(grant.Payload));
        Assert.Equal(MqttConnectionState.Connected, device.State);
    }

    [Fact]
    public async Task Publishes_from_many_threads_are_each_acknowledged()
    {
        var central = await Central(filters: "homeunit/v1/+/event");
        var device = await ConnectedDevice("unit-a");

        // Eight threads publish at once, together keeping the broker's whole send window in flight (as a
        // caller must: beyond it mosquitto queues for the central and, past its queue limit, drops).
        using var window = new SemaphoreSlim(device.SendWindow);
        var publishes = Enumerable.Range(0, 8).Select(thread => Task.Run(async () =>
        {
            var mine = new List<Task>();
            for (var i = 0; i < 250; i++)
            {
                await window.WaitAsync();
                var text = $"{thread}-{i}";
                mine.Add(Task.Run(async () =>
                {
                    try
                    {
                        await device.PublishAsync("homeunit/v1/unit-a/event", Encoding.UTF8.GetBytes(text), false, CancellationToken.None);
                    }
                    finally
                    {
                        window.Release();
                    }
                }));
            }
            await Task.WhenAll(mine);
        }));
        await Task.WhenAll(publishes).WaitAsync(TimeSpan.FromSeconds(60));

        await Eventually.True(() => central.Payloads("homeunit/v1/unit-a/event").Count == 2000, "2000 events at the central");
        Assert.Equal(2000, central.Payloads("homeunit/v1/unit-a/event").Distinct().Count());
    }

    [Fact]
    public async Task Client_without_a_certificate_is_refused()
    {
        var options = Broker.ClientOptions("unit-a");
        options.CertFile = null;
        options.KeyFile = null;
        var device = Connection(options, "unit-a");

        await Assert.ThrowsAsync<MqttException>(() => device.ConnectAsync(CancellationToken.None).WaitAsync(Eventually.DefaultTimeout));

        Assert.Equal(MqttConnectionState.Closed, device.State);
        await Eventually.True(() => Broker.Log.Contains("peer did not return a certificate", StringComparison.Ordinal), "the broker to log the missing certificate");
    }

    [Fact]
    public async Task Client_certificate_from_an_unrelated_ca_is_refused()
    {
        var stranger = Broker.Certificates.Client("unit-a", fromOtherCa: true);
        var options = Broker.ClientOptions("unit-a");
        options.CertFile = stranger.CertFile;
        options.KeyFile = stranger.KeyFile;
        var device = Connection(options, "unit-a");

        await Assert.ThrowsAsync<MqttException>(() => device.ConnectAsync(CancellationToken.None).WaitAsync(Eventually.DefaultTimeout));

        Assert.Equal(MqttConnectionState.Closed, device.State);
    }

    [Fact]
    public async Task Broker_certificate_not_signed_by_the_configured_ca_is_refused_with_the_reason()
    {
        var options = Broker.ClientOptions("unit-a");
        options.CaFile = Broker.Certificates.OtherCaFile;
        var device = Connection(options, "unit-a");

        var refused = await Assert.ThrowsAsync<MqttException>(() => device.ConnectAsync(CancellationToken.None).WaitAsync(Eventually.DefaultTimeout));

        Assert.StartsWith("TLS: the broker's certificate is not signed by the CA in Mqtt:CaFile", refused.Message, StringComparison.Ordinal);
        Assert.Equal(refused.Message, await device.Closed);
    }

    [Fact]
    public async Task Device_cannot_publish_or_read_under_another_devices_prefix()
    {
        var central = await Central(filters: "homeunit/v1/#");
        var device = await ConnectedDevice("unit-a");

        var publish = await Assert.ThrowsAsync<MqttRefusedException>(() =>
            device.PublishAsync("homeunit/v1/unit-b/event", "forged"u8.ToArray(), false, CancellationToken.None));
        await device.PublishAsync("homeunit/v1/unit-a/event", "own"u8.ToArray(), false, CancellationToken.None);

        Assert.Equal(0x87, publish.ReasonCode);
        // Published after the forged one on the same connection: once it is in, the forged one would have been too.
        await central.WaitForAsync(m => m.Topic == "homeunit/v1/unit-a/event", "the device's own event");
        Assert.DoesNotContain(central.Messages, m => m.Topic.StartsWith("homeunit/v1/unit-b/", StringComparison.Ordinal));

        // mosquitto 2.0 grants the subscription but filters every message on it by the ACL.
        await device.SubscribeAsync("homeunit/v1/unit-b/grant", CancellationToken.None);
        await device.SubscribeAsync("homeunit/v1/unit-a/grant", CancellationToken.None);
        await central.PublishAsync("homeunit/v1/unit-b/grant", "for-b"u8.ToArray());
        await central.PublishAsync("homeunit/v1/unit-a/grant", "for-a"u8.ToArray());
        var first = await NextMessage(device);
        Assert.Equal("homeunit/v1/unit-a/grant", first.Topic);
        Assert.Equal(MqttConnectionState.Connected, device.State);
    }

    [Fact]
    public async Task Oversized_inbound_messages_are_dropped_and_the_connection_keeps_working()
    {
        var central = await Central();
        var options = Broker.ClientOptions("unit-a");
        options.MaxPayloadBytes = 1024;
        var device = Connection(options, "unit-a");
        await device.ConnectAsync(CancellationToken.None);
        await device.SubscribeAsync("homeunit/v1/unit-a/grant", CancellationToken.None);

        await central.PublishAsync("homeunit/v1/unit-a/grant", new byte[1500]);      // over the limit, under the packet size we announce
        await central.PublishAsync("homeunit/v1/unit-a/grant", "small"u8.ToArray());

        var next = await NextMessage(device);
        Assert.Equal("small", Encoding.UTF8.GetString(next.Payload));
        Assert.Contains(Log.Lines, l => l.Contains("dropped a 1500-byte message on homeunit/v1/unit-a/grant", StringComparison.Ordinal));
        Assert.Equal(MqttConnectionState.Connected, device.State);
    }

    [Fact]
    public async Task Lost_broker_closes_the_connection_and_later_publishes_fail_without_queueing()
    {
        var device = await ConnectedDevice("unit-a");

        await Broker.StopAsync();
        var reason = await device.Closed.WaitAsync(Eventually.DefaultTimeout);

        Assert.NotEqual("closed by this client", reason);
        Assert.Equal(MqttConnectionState.Closed, device.State);
        var failed = await Assert.ThrowsAsync<MqttException>(() =>
            device.PublishAsync("homeunit/v1/unit-a/event", "late"u8.ToArray(), false, CancellationToken.None));
        Assert.Contains("nothing was sent", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clean_disconnect_drops_the_will_and_dispose_while_connected_publishes_it()
    {
        var central = await Central(filters: "homeunit/v1/+/status");
        var will = new MqttWill("homeunit/v1/unit-a/status", "gone"u8.ToArray(), Retain: false);
        var clean = new MqttConnection(Broker.ClientOptions("unit-a"), Broker.ClientOptions("unit-a").Broker, "unit-a", will, Log.For<MqttConnection>());
        await clean.ConnectAsync(CancellationToken.None);
        await clean.DisconnectAsync(CancellationToken.None);
        await clean.DisposeAsync();

        var abrupt = new MqttConnection(Broker.ClientOptions("unit-b"), Broker.ClientOptions("unit-b").Broker, "unit-b", will with { Topic = "homeunit/v1/unit-b/status" }, Log.For<MqttConnection>());
        await abrupt.ConnectAsync(CancellationToken.None);
        await abrupt.DisposeAsync();

        await central.WaitForAsync(m => m.Topic == "homeunit/v1/unit-b/status", "unit-b's will");
        Assert.DoesNotContain(central.Messages, m => m.Topic == "homeunit/v1/unit-a/status");
    }

    [Fact]
    public async Task Refused_connack_ends_the_connection_with_the_brokers_reason()
    {
        // TLS accepts the certificate, but without a CN the broker has no username for it and refuses the CONNECT.
        var nameless = Broker.Certificates.ClientWithoutCommonName();
        var options = Broker.ClientOptions("unit-a");
        options.CertFile = nameless.CertFile;
        options.KeyFile = nameless.KeyFile;
        var device = Connection(options, "unit-a");

        var refused = await Assert.ThrowsAsync<MqttRefusedException>(() => device.ConnectAsync(CancellationToken.None).WaitAsync(Eventually.DefaultTimeout));

        Assert.Equal("the broker refused the connection: Bad User Name or Password (0x86)", refused.Message);
        Assert.Equal(0x86, refused.ReasonCode);
        Assert.Equal(MqttConnectionState.Closed, device.State);
    }
}
