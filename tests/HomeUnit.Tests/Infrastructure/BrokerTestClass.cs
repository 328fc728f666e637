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
