using HomeUnit.Drivers.Camera;
using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Drivers;

/// <summary>Where the unit's parts are and how the servo is calibrated.</summary>
public sealed record HardwareSettings(
    string Root,
    string? PwmDevice,
    int? PwmChannel,
    string PowerSupply,
    ServoCalibration Calibration,
    TimeSpan ServoSettle);

/// <summary>The unit's parts, built on the kernel files under one root.</summary>
public sealed class UnitHardware
{
    /// <summary>Known boards: the PWM device GPIO 18 belongs to, and its channel there.</summary>
    private static readonly (string Device, int Channel)[] KnownPwm = [("fe20c000.pwm", 0), ("1f00098000.pwm", 2)];

    private readonly Lazy<ICamera> camera;

    /// <summary>The camera is made on first use: making the lights, IR and servo safe never depends on it.</summary>
    public UnitHardware(HardwareSettings settings, HardwareTimeline timeline, Func<ICamera> camera)
    {
        Files = new KernelFiles(settings.Root);
        Timeline = timeline;
        this.camera = new Lazy<ICamera>(camera);
        Light = new StatusLight(new LedClassDevice(Files, StatusLight.RedLabel), new LedClassDevice(Files, StatusLight.GreenLabel), timeline);
        Ir = new IrLight(new LedClassDevice(Files, IrLight.Label), timeline);
        Servo = new PanServo(() => OpenPwm(settings), settings.Calibration, settings.ServoSettle, timeline);
        Power = new PowerSupply(Files, settings.PowerSupply);
    }

    public KernelFiles Files { get; }

    public HardwareTimeline Timeline { get; }

    public StatusLight Light { get; }

    public IrLight Ir { get; }

    public PanServo Servo { get; }

    public PowerSupply Power { get; }

    public ICamera Camera => camera.Value;

    private SysfsPwmChannel OpenPwm(HardwareSettings settings)
    {
        var timeout = TimeSpan.FromSeconds(2);
        if (settings.PwmDevice is { Length: > 0 } device)
        {
            return SysfsPwmChannel.Open(Files, device, settings.PwmChannel ?? 0, timeout);
        }
        foreach (var (known, channel) in KnownPwm)
        {
            if (SysfsPwmChannel.FindChip(Files, known) is not null)
            {
                return SysfsPwmChannel.Open(Files, known, settings.PwmChannel ?? channel, timeout);
            }
        }
        throw new HardwareFault($"no PWM chip of a known board ({string.Join(", ", KnownPwm.Select(k => k.Device))}); set Hardware:PwmDevice");
    }

    /// <summary>
    /// Red on, IR off, lens up with PWM disabled. Every step is tried even when one fails, because a
    /// part that answers should be safe even if another does not. Returns the faults met.
    /// </summary>
    public async Task<IReadOnlyList<string>> DriveSafeStateAsync()
    {
        var faults = new List<string>();
        Try(Light.ShowCameraOff, "light", faults);
        Try(() => Ir.Set(false), "ir", faults);
        try
        {
            await Servo.MoveAsync(LensPosition.LensUp);
        }
        catch (HardwareFault e)
        {
            faults.Add($"servo: {e.Message}");
        }
        return faults;
    }

    private static void Try(Action step, string part, List<string> faults)
    {
        try
        {
            step();
        }
        catch (HardwareFault e)
        {
            faults.Add($"{part}: {e.Message}");
        }
    }
}
