using HomeUnit.Central;
using HomeUnit.Mqtt;
using HomeUnit.TestSupport;
using Xunit.Abstractions;

namespace HomeUnit.Tests.Infrastructure;

/// <summary>
/// A test class with its own real mosquitto (the shipped configuration). What a test opens goes in
/// <see cref="Owned"/> and is disposed newest first before the broker stops; the broker's log ends up in the test output.
/// </summary>
public abstract class BrokerTestClass(ITestOutputHelper output) : IAsyncLifetime
{
    protected TestLog Log { get; } = new(output);
    protected List<IAsyncDisposable> Owned { get; } = [];
    protected LocalBroker Broker { get; private set; } = null!;

    public async Task InitializeAsync() => Broker = await LocalBroker.LaunchAsync();

    /// <summary>The central's client (its own certificate), subscribed to <paramref name="filters"/>; closed with the test.</summary>
    protected async Task<CentralClient> Central(string clientId = LocalBroker.CentralIdentity, params string[] filters)
    {
        var central = await CentralClient.ConnectAsync(Broker.ClientOptions(LocalBroker.CentralIdentity), Log.For<CentralClient>(), filters, clientId);
        Owned.Add(central);
        return central;
    }

    /// <summary>The next message on <paramref name="connection"/>, within <see cref="Eventually.DefaultTimeout"/>.</summary>
    protected static async Task<MqttMessage> NextMessage(IMqttConnection connection)
    {
        await using var messages = connection.ReadMessagesAsync(CancellationToken.None).GetAsyncEnumerator();
        Assert.True(await messages.MoveNextAsync().AsTask().WaitAsync(Eventually.DefaultTimeout), "the connection closed instead");
        return messages.Current;
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var item in Enumerable.Reverse(Owned))
        {
            await item.DisposeAsync();
        }
        output.WriteLine(Broker.Log);
        await Broker.DisposeAsync();
    }
}
