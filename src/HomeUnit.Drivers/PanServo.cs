using System.Device.Pwm;
using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Drivers;

/// <summary>Pulse widths in microseconds for each lens position, measured per device at installation.</summary>
public sealed record ServoCalibration(int LensUpMicroseconds = 600, int BedMicroseconds = 1500, int RoomMicroseconds = 2000)
{
    public const int MinMicroseconds = 500;
    public const int MaxMicroseconds = 2500;

    public int PulseFor(LensPosition position) => position switch
    {
        LensPosition.LensUp => LensUpMicroseconds,
        LensPosition.Bed => BedMicroseconds,
        LensPosition.Room => RoomMicroseconds,
        _ => throw new ArgumentOutOfRangeException(nameof(position)),
    };

    /// <summary>Null when every pulse lies within what the servo takes, else what is wrong.</summary>
    public string? Problem() =>
        new[] { (nameof(LensUpMicroseconds), LensUpMicroseconds), (nameof(BedMicroseconds), BedMicroseconds), (nameof(RoomMicroseconds), RoomMicroseconds) }
            .Where(p => p.Item2 is < MinMicroseconds or > MaxMicroseconds)
            .Select(p => $"{p.Item1} is {p.Item2} µs; it must lie within {MinMicroseconds}–{MaxMicroseconds} µs")
            .FirstOrDefault();
}

/// <summary>
/// The pan servo that turns the lens (P2). 50 Hz; each move drives the pulse, waits for the servo to
/// settle, then stops the PWM so the servo holds silently — no hum, no jitter at night. It drives any
/// .NET IoT <see cref="PwmChannel"/> (the sysfs channel on GPIO 18, or a servo board's channel), opened on
/// first use, so a missing overlay is a servo fault, not a crash.
/// </summary>
public sealed class PanServo(Func<CancellationToken, Task<PwmChannel>> openChannel, ServoCalibration calibration, TimeSpan settle, HardwareTimeline timeline) : IDisposable
{
    public const int FrequencyHz = 50;
    private const double PeriodMicroseconds = 1_000_000.0 / FrequencyHz;

    /// <summary>One move at a time: the channel is opened once, and a move never overlaps another's settle.</summary>
    private readonly SemaphoreSlim gate = new(1, 1);
    private PwmChannel? channel;

    /// <summary>Turns the lens and silences the servo. Whatever the channel fails with is a <see cref="HardwareFault"/>.</summary>
    public async Task MoveAsync(LensPosition position, CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            await DriveAsync(position, cancellationToken);
        }
        catch (Exception e) when (e is not (HardwareFault or OperationCanceledException))
        {
            // Another PWM source (a servo board over I2C, say) fails in its own words; the unit reads a servo fault.
            throw new HardwareFault($"the servo's PWM channel failed: {e.Message}", e);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task DriveAsync(LensPosition position, CancellationToken cancellationToken)
    {
        var name = Name(position);
        var pwm = channel ??= await openChannel(cancellationToken);
        try
        {
            pwm.Frequency = FrequencyHz;
            pwm.DutyCycle = calibration.PulseFor(position) / PeriodMicroseconds;
            pwm.Start();
            timeline.Record(Parts.Servo, $"{name} pwm-on");
            await Task.Delay(settle, cancellationToken);
        }
        finally
        {
            // Silent even if the move was interrupted or half set up: a humming servo is heard in a quiet bedroom.
            pwm.Stop();
            timeline.Record(Parts.Servo, $"{name} pwm-off");
        }
    }

    public void Dispose() => channel?.Dispose();

    public static string Name(LensPosition position) => position switch
    {
        LensPosition.LensUp => "lens-up",
        LensPosition.Bed => "bed",
        LensPosition.Room => "room",
        _ => position.ToString(),
    };
}
