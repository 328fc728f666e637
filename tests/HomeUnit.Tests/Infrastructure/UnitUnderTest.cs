using HomeUnit.Central;
using HomeUnit.TestSupport;
using HomeUnit.Agent;
using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.Session;
using HomeUnit.Agent.State;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace HomeUnit.Tests.Infrastructure;

/// <summary>
/// A unit composed in-process exactly as the host composes it, from its real parts: the real drivers on a simulated kernel tree, a real
/// SQLite state file, the audit log, the session state machine, health, and the real ffmpeg camera on its
/// test pattern streaming to a real SRT receiver per look (unless the test gives a camera of its own).
/// </summary>
public sealed class UnitUnderTest : IDisposable
{
    public const string Passphrase = "a-secret-passphrase-123";

    public const string DeviceId = "unit-test-1";

    private readonly TempDirectory directory = new();
    private readonly ServiceProvider provider;

    /// <summary>The agent as the host composes it (<see cref="AgentComposition"/>), on a simulated tree and a state directory of its own.</summary>
    public UnitUnderTest(Func<HardwareTimeline, ICamera>? camera = null, SimulatedBoard board = SimulatedBoard.Pi4)
    {
        Kernel = SimulatedKernel.Create(directory.Combine("kernel"), board);
        var keys = Directory.CreateDirectory(directory.Combine("trust")).FullName;
        var options = new AgentOptions
        {
            DeviceId = DeviceId,
            State = { Directory = StateDirectory },
            Trust = { KeysDirectory = keys },
            Hardware = { Root = Kernel.Files.Root, PowerSupply = SimulatedKernel.MainsSupply },
            Servo = { SettleMilliseconds = 100 },
            Camera = { Source = CameraSources.TestSource },
            Health = { MinFreeMegabytes = 1 },
        };
        provider = new ServiceCollection().AddLogging()
            .AddAgent(options, TrustedKeys.Load(keys), new AgentSeams { Timeline = Timeline, Camera = camera })
            .BuildServiceProvider();
    }

    public string StateDirectory => directory.Combine("state");

    public SimulatedKernel Kernel { get; }
    public HardwareTimeline Timeline { get; } = new();
    public UnitHardware Hardware => Get<UnitHardware>();
    public StateDatabase Database => Get<StateDatabase>();
    public Outbox Outbox => Get<Outbox>();
    public AuditLog Audit => Get<AuditLog>();
    public Events Events => Get<Events>();
    public SessionMachine Sessions => Get<SessionMachine>();
    public HealthState Health => Get<HealthState>();
    public HealthReadings Readings => Get<HealthReadings>();
    public HealthMonitor Monitor => Get<HealthMonitor>();
    public SelfTest SelfTest => Get<SelfTest>();

    private T Get<T>() where T : notnull => provider.GetRequiredService<T>();

    private readonly List<SrtReceiver> receivers = [];

    /// <summary>The receiver of the latest look.</summary>
    public SrtReceiver Receiver => receivers[^1];

    /// <summary>A validated look streaming to a new receiver (an ffmpeg listener serves one look).</summary>
    public async Task<SessionRequest> RequestAsync(TimeSpan? length = null, LensPosition view = LensPosition.Bed)
    {
        var receiver = await SrtReceiver.StartAsync(Passphrase);
        receivers.Add(receiver);
        return Request(receiver.Url, length, view);
    }

    /// <summary>A validated look to <paramref name="url"/> (for cameras that do not stream).</summary>
    public static SessionRequest Request(string url = "srt://127.0.0.1:9", TimeSpan? length = null, LensPosition view = LensPosition.Bed) => new(
        $"grant-{Guid.NewGuid():N}", "operator-7", "scheduled", view, length ?? TimeSpan.FromSeconds(1),
        new StreamTarget(url, "check", Passphrase), "c1");

    public string Brightness(string label) => Kernel.Files.Read($"sys/class/leds/{label}/brightness");

    public void Dispose()
    {
        Monitor.StopAsync(CancellationToken.None).Wait(TimeSpan.FromSeconds(10));
        Sessions.StopAsync(EndReason.AgentStopping).Wait(TimeSpan.FromSeconds(10));
        foreach (var receiver in receivers)
        {
            receiver.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
        }
        Kernel.Dispose();
        directory.Dispose();
    }
}
