using HomeUnit.Agent.Session;
using HomeUnit.Protocol;

namespace HomeUnit.Agent.Health;

/// <summary>A self-test's verdict: each part (<see cref="ReadinessParts"/>) ok or what is wrong.</summary>
public sealed record SelfTestResult(bool Ready, IReadOnlyDictionary<string, string> Parts);

/// <summary>
/// The readiness self-test (design §4): the camera delivers a frame into memory, the servo and lights
/// answer, mains power, clock synced, storage writable. It moves nothing and lights nothing. The camera
/// is checked through <paramref name="checkCamera"/>: in the daemon that is the session machine's
/// <see cref="SessionMachine.CheckCameraAsync"/>, which keeps looks and self-tests from using it at once.
/// Self-tests run one at a time.
/// </summary>
public sealed class SelfTest(HealthReadings healthReadings, Func<CancellationToken, Task<string?>> checkCamera, HealthState health)
{
    private readonly SemaphoreSlim oneAtATime = new(1);

    public static readonly TimeSpan CameraTimeout = TimeSpan.FromSeconds(15);

    public async Task<SelfTestResult> RunAsync(CancellationToken cancellationToken)
    {
        await oneAtATime.WaitAsync(cancellationToken);
        try
        {
            return await RunOnceAsync(cancellationToken);
        }
        finally
        {
            oneAtATime.Release();
        }
    }

    private async Task<SelfTestResult> RunOnceAsync(CancellationToken cancellationToken)
    {
        var readings = healthReadings.ReadAll();
        var camera = readings[UnitFault.Camera];
        if (camera is null)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(CameraTimeout);
            try
            {
                camera = await checkCamera(timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                camera = $"no frame within {CameraTimeout.TotalSeconds:F0} s";
            }
        }
        var parts = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [ReadinessParts.Camera] = camera ?? ReadinessParts.Ok,
            [ReadinessParts.Servo] = readings[UnitFault.Servo] ?? ReadinessParts.Ok,
            [ReadinessParts.Lights] = readings[UnitFault.Light] ?? ReadinessParts.Ok,
            [ReadinessParts.Power] = readings[UnitFault.PowerLost] ?? readings[UnitFault.Undervoltage] ?? ReadinessParts.Ok,
            [ReadinessParts.Clock] = readings[UnitFault.Clock] ?? ReadinessParts.Ok,
            [ReadinessParts.Storage] = readings[UnitFault.Storage] ?? ReadinessParts.Ok,
        };
        var failed = parts.Where(p => p.Value != ReadinessParts.Ok).Select(p => p.Key).ToList();
        health.Set(UnitFault.SelfTest, failed.Count == 0 ? null : $"self-test failed: {string.Join(", ", failed)}");
        return new SelfTestResult(failed.Count == 0, parts);
    }
}
