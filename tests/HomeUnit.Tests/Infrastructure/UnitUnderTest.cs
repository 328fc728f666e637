using HomeUnit.Central.Simulation;
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
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.Tests.Infrastructure;

/// <summary>
/// A unit assembled in-process from its real parts: the real drivers on a simulated kernel tree, a real
/// SQLite state file, the audit log, the session state machine, health, and the real ffmpeg camera on its
/// test pattern streaming to a real SRT receiver per look (unless the test gives a camera of its own).
/// </summary>
public sealed class UnitUnderTest : IDisposable
{
    public const string Passphrase = "a-secret-passphrase-123";

    public const string DeviceId = "unit-test-1";

    private readonly TempDirectory directory = new();

    public UnitUnderTest(Func<HardwareTimeline, ICamera>? camera = null, SimulatedBoard board = SimulatedBoard.Pi4)
    {
        Kernel = SimulatedKernel.Create(directory.Combine("kernel"), board);
        Timeline = new HardwareTimeline();
        Hardware = new UnitHardware(
            new HardwareSettings(Kernel.Files.Root, null, null, SimulatedKernel.MainsSupply, new ServoCalibration(), TimeSpan.FromMilliseconds(100)),
            Timeline,
            () => (camera ?? (t => new FfmpegCamera(new CameraOptions { Source = CameraSources.TestSource }, Kernel.Files, t)))(Timeline));
        Database = new StateDatabase(directory.Combine("state"));
        Outbox = new Outbox(Database);
        Audit = new AuditLog(Database, DeviceId, TimeProvider.System);
        Events = new Events(Database, TimeProvider.System, NullLogger<Events>.Instance);
        Sessions = new SessionMachine(Hardware, Audit, Events, TimeProvider.System, NullLogger<SessionMachine>.Instance);
        Checks = new HealthChecks(Hardware, new ClockTrust(Hardware.Files), new HealthSettings(StateDirectory, "dev/video0", MinFreeBytes: 1024 * 1024));
        Monitor = new HealthMonitor(Checks, Health, Sessions, Events, new LoopHeartbeats(), NullLogger<HealthMonitor>.Instance);
        SelfTest = new SelfTest(Checks, Sessions.CheckCameraAsync, Health);
    }

    public string StateDirectory => directory.Combine("state");

    public SimulatedKernel Kernel { get; }
    public HardwareTimeline Timeline { get; }
    public UnitHardware Hardware { get; }
    public StateDatabase Database { get; }
    public Outbox Outbox { get; }
    public AuditLog Audit { get; }
    public Events Events { get; }
    public SessionMachine Sessions { get; }
    public HealthState Health { get; } = new();
    public HealthChecks Checks { get; }
    public HealthMonitor Monitor { get; }
    public SelfTest SelfTest { get; }

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
