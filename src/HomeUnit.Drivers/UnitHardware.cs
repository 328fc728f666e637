using System.Device.Pwm;
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

/// <summary>
/// The unit's parts, built on the kernel files under one root. Only the drivers touch those files: what the
/// rest of the agent may know of a part is what it does and, through the <c>…Problem</c> readings, what is
/// wrong with it. A reading changes nothing (it never exports the PWM channel).
/// </summary>
public sealed class UnitHardware : IDisposable
{
    /// <summary>Known boards: the PWM device GPIO 18 belongs to, and its channel there.</summary>
    private static readonly (string Device, int Channel)[] KnownPwm = [("fe20c000.pwm", 0), ("1f00098000.pwm", 2)];
    private static readonly TimeSpan ExportTimeout = TimeSpan.FromSeconds(2);

    private readonly KernelFiles files;
    private readonly HardwareSettings settings;
    private readonly Lazy<ICamera> camera;

    /// <summary>The camera is made on first use: making the lights, IR and servo safe never depends on it.</summary>
    public UnitHardware(HardwareSettings settings, HardwareTimeline timeline, Func<ICamera> camera)
    {
        files = new KernelFiles(settings.Root);
        this.settings = settings;
        Timeline = timeline;
        this.camera = new Lazy<ICamera>(camera);
        Light = new StatusLight(new LedClassDevice(files, StatusLight.RedLabel), new LedClassDevice(files, StatusLight.GreenLabel), timeline);
        Ir = new IrLight(new LedClassDevice(files, IrLight.Label), timeline);
        Servo = new PanServo(OpenPwmAsync, settings.Calibration, settings.ServoSettle, timeline);
        Power = new PowerSupply(files, settings.PowerSupply);
    }

    public HardwareTimeline Timeline { get; }

    public StatusLight Light { get; }

    public IrLight Ir { get; }

    public PanServo Servo { get; }

    public PowerSupply Power { get; }

    public ICamera Camera => camera.Value;

    /// <summary>What keeps the servo's PWM channel from being driven, or null.</summary>
    public string? ServoProblem()
    {
        var (device, channel) = PwmOfBoard();
        return SysfsPwmChannel.Problem(files, device, channel);
    }

    /// <summary>Which of the status light's and the IR light's LEDs cannot be set, or null.</summary>
    public string? LightProblem()
    {
        var broken = Light.Devices.Append(Ir.Device).Where(led => !led.Present || !led.Writable).Select(led => led.Label).ToList();
        return broken.Count == 0 ? null : $"LED not writable: {string.Join(", ", broken)}";
    }

    /// <summary>Null when the camera's device node (under the hardware root) is there.</summary>
    public string? CameraProblem(string device) => files.Exists(device) ? null : $"{device} is missing";

    private async Task<PwmChannel> OpenPwmAsync(CancellationToken cancellationToken)
    {
        var (device, channel) = PwmOfBoard();
        return await SysfsPwmChannel.OpenAsync(files, device, channel, ExportTimeout, cancellationToken);
    }

    /// <summary>The configured PWM device and channel, else those of the first known board found.</summary>
    private (string Device, int Channel) PwmOfBoard()
    {
        if (settings.PwmDevice is { Length: > 0 } device)
        {
            return (device, settings.PwmChannel ?? 0);
        }
        foreach (var (known, channel) in KnownPwm)
        {
            if (SysfsPwmChannel.FindChip(files, known) is not null)
            {
                return (known, settings.PwmChannel ?? channel);
            }
        }
        throw new HardwareFault($"no PWM chip of a known board ({string.Join(", ", KnownPwm.Select(k => k.Device))}); set Hardware:PwmDevice");
    }

    public void Dispose() => Servo.Dispose();

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
