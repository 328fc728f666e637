using System.Text;
using HomeUnit.Central;
using HomeUnit.TestSupport;
using HomeUnit.Mqtt;
using HomeUnit.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HomeUnit.Tests.Link;

/// <summary>
/// The shipped broker configuration (deploy/mosquitto) gives a unit's certificate nothing of any other
/// unit and only its own status/event/audit (write) and grant/command/careplan (read); the central's
/// listener takes only the central's certificates; a revoked certificate is refused.
/// Proven with a real mosquitto and real certificates of two units.
/// </summary>
public sealed class BrokerLeastPrivilegeTests(ITestOutputHelper output) : BrokerTestClass(output)
{
    private const string A = "unit-a";
    private const string B = "unit-b";

    /// <summary>A connection with <paramref name="certificateOf"/>'s certificate asking for the client id <paramref name="clientId"/>.</summary>
    private MqttConnection Connection(string certificateOf, string clientId, int? port = null)
    {
        var options = Broker.ClientOptions(certificateOf);
        options.Port = port ?? options.Port;
        options.ConnectTimeoutSeconds = 10;
        var connection = new MqttConnection(options, options.Broker, clientId, null, Log.For<MqttConnection>());
        Owned.Add(connection);
        return connection;
    }

    private async Task<MqttConnection> Subscribed(string certificateOf, string clientId, params string[] filters)
    {
        var connection = Connection(certificateOf, clientId);
        await connection.ConnectAsync(CancellationToken.None);
        foreach (var filter in filters)
        {
            await connection.SubscribeAsync(filter, CancellationToken.None);
        }
        return connection;
    }

    private static string Text(MqttMessage message) => Encoding.UTF8.GetString(message.Payload);

    [Fact]
    public async Task Another_units_certificate_asking_for_a_units_client_id_gets_its_own_session_and_the_unit_keeps_its_grants()
    {
        var central = await Central("central");
        var b = await Subscribed(B, B, $"homeunit/v1/{B}/grant");

        // A's certificate asks for B's client id and B's topics; the broker names it after its certificate.
        var a = await Subscribed(A, B, $"homeunit/v1/{B}/grant", $"homeunit/v1/{A}/grant");
        await central.PublishAsync($"homeunit/v1/{B}/grant", "grant-for-b");
        await central.PublishAsync($"homeunit/v1/{A}/grant", "marker-for-a");

        var atB = await NextMessage(b);
        Assert.Equal("grant-for-b", Text(atB));
        // Published after B's grant on the same connection: had A been given B's grant, it would come first.
        var atA = await NextMessage(a);
        Assert.Equal("marker-for-a", Text(atA));
        Assert.Equal(MqttConnectionState.Connected, b.State);
        Assert.Equal(MqttConnectionState.Connected, a.State);
        Assert.Contains($"as {A} (", Broker.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("already connected, closing old connection", Broker.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_units_certificate_cannot_resume_an_absent_units_session()
    {
        var central = await Central("central");
        var b = await Subscribed(B, B, $"homeunit/v1/{B}/grant");
        await b.DisconnectAsync(CancellationToken.None);
        await central.PublishAsync($"homeunit/v1/{B}/grant", "queued-for-b");

        var a = await Subscribed(A, B);
        await a.DisconnectAsync(CancellationToken.None);

        var back = await Subscribed(B, B);
        var queued = await NextMessage(back);
        Assert.Equal("queued-for-b", Text(queued));
        Assert.Equal($"homeunit/v1/{B}/grant", queued.Topic);
    }

    [Theory]
    [InlineData("grant")]
    [InlineData("command")]
    [InlineData("careplan")]
    public async Task A_unit_cannot_write_its_own_inbound_topics(string topic)
    {
        var device = await Subscribed(A, A);

        var refused = await Assert.ThrowsAsync<MqttRefusedException>(() =>
            device.PublishAsync($"homeunit/v1/{A}/{topic}", "forged"u8.ToArray(), retain: false, CancellationToken.None));

        Assert.Equal(0x87, refused.ReasonCode);
    }

    [Fact]
    public async Task A_unit_cannot_clear_the_centrals_retained_care_plan()
    {
        var central = await Central("central");
        await central.PublishAsync($"homeunit/v1/{A}/careplan", "the-care-plan", retain: true);
        var device = await Subscribed(A, A);

        var refused = await Assert.ThrowsAsync<MqttRefusedException>(() =>
            device.PublishAsync($"homeunit/v1/{A}/careplan", ReadOnlyMemory<byte>.Empty, retain: true, CancellationToken.None));

        Assert.Equal(0x87, refused.ReasonCode);
        var later = await Subscribed(A, A, $"homeunit/v1/{A}/careplan");
        var retained = await NextMessage(later);
        Assert.Equal("the-care-plan", Text(retained));
    }

    [Fact]
    public async Task A_unit_writes_its_status_event_and_audit_and_reads_only_its_grant_command_and_care_plan()
    {
        var central = await Central("central", "homeunit/v1/+/status", "homeunit/v1/+/event", "homeunit/v1/+/audit");
        var device = await Subscribed(A, A,
            $"homeunit/v1/{A}/status", $"homeunit/v1/{A}/event", $"homeunit/v1/{A}/audit", $"homeunit/v1/{B}/command",
            $"homeunit/v1/{A}/grant", $"homeunit/v1/{A}/command", $"homeunit/v1/{A}/careplan");

        foreach (var topic in new[] { "status", "event", "audit" })
        {
            await device.PublishAsync($"homeunit/v1/{A}/{topic}", Encoding.UTF8.GetBytes(topic), retain: false, CancellationToken.None);
            await central.WaitForAsync(m => m.Topic == $"homeunit/v1/{A}/{topic}", $"the unit's {topic} at the central");
        }
        await central.PublishAsync($"homeunit/v1/{B}/command", "for-b");
        foreach (var topic in new[] { "grant", "command", "careplan" })
        {
            await central.PublishAsync($"homeunit/v1/{A}/{topic}", topic);
        }

        // Its own status, event and audit were published before; had they come back, they would come first.
        await using var messages = device.ReadMessagesAsync(CancellationToken.None).GetAsyncEnumerator();
        var received = new List<string>();
        while (received.Count < 3)
        {
            Assert.True(await messages.MoveNextAsync().AsTask().WaitAsync(Eventually.DefaultTimeout), "the connection closed");
            received.Add(messages.Current.Topic);
        }
        Assert.Equal([$"homeunit/v1/{A}/grant", $"homeunit/v1/{A}/command", $"homeunit/v1/{A}/careplan"], received);
    }

    [Theory]
    [InlineData("status")]
    [InlineData("event")]
    [InlineData("audit")]
    public async Task The_central_cannot_write_what_a_unit_reports(string topic)
    {
        var central = Connection(LocalBroker.CentralIdentity, "central-forger");
        await central.ConnectAsync(CancellationToken.None);

        var refused = await Assert.ThrowsAsync<MqttRefusedException>(() =>
            central.PublishAsync($"homeunit/v1/{A}/{topic}", "forged"u8.ToArray(), retain: false, CancellationToken.None));

        Assert.Equal(0x87, refused.ReasonCode);
    }

    [Fact]
    public async Task The_central_may_connect_with_several_client_ids_at_once()
    {
        var first = await Central("central-1", "homeunit/v1/+/event");
        var second = await Central("central-2", "homeunit/v1/+/event");
        var device = await Subscribed(A, A);

        await device.PublishAsync($"homeunit/v1/{A}/event", "seen-by-both"u8.ToArray(), retain: false, CancellationToken.None);

        await first.WaitForAsync(m => Text(m) == "seen-by-both", "the event at the first central connection");
        await second.WaitForAsync(m => Text(m) == "seen-by-both", "the event at the second central connection");
    }

    [Fact]
    public async Task A_units_certificate_is_refused_on_the_centrals_listener()
    {
        var device = Connection(A, "central-impostor", Broker.CentralPort);

        await Assert.ThrowsAsync<MqttException>(() => device.ConnectAsync(CancellationToken.None).WaitAsync(Eventually.DefaultTimeout));

        Assert.Equal(MqttConnectionState.Closed, device.State);
    }

    [Fact]
    public async Task A_revoked_units_certificate_is_refused_and_other_units_still_connect()
    {
        var before = await Subscribed(A, A);
        await before.DisconnectAsync(CancellationToken.None);

        Broker.Revoke(A);
        await Broker.StopAsync();
        await Broker.StartAsync();

        var revoked = Connection(A, A);
        await Assert.ThrowsAsync<MqttException>(() => revoked.ConnectAsync(CancellationToken.None).WaitAsync(Eventually.DefaultTimeout));
        Assert.Equal(MqttConnectionState.Closed, revoked.State);
        var other = await Subscribed(B, B);
        Assert.Equal(MqttConnectionState.Connected, other.State);
        Assert.Contains("certificate verify failed", Broker.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_message_larger_than_a_unit_accepts_is_refused_at_the_broker_and_never_stalls_the_units_grants()
    {
        var central = await Central("central");
        var device = await Subscribed(A, A, $"homeunit/v1/{A}/grant");

        // mosquitto 2.0 keeps an unsendable message's in-flight slot forever; 20 of them would stop the unit's grants.
        for (var i = 0; i < 21; i++)
        {
            await Assert.ThrowsAnyAsync<MqttException>(() => central.PublishAsync($"homeunit/v1/{A}/grant", new byte[70_000]));
        }
        await central.PublishAsync($"homeunit/v1/{A}/grant", "after-the-oversized-ones");

        var next = await NextMessage(device);
        Assert.Equal("after-the-oversized-ones", Text(next));
    }
}
