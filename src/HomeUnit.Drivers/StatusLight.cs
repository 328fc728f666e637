using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Drivers;

/// <summary>
/// The red/green light the resident reads (P3): green = camera on, red = camera off. Changes are
/// make-before-break — the new colour is lit before the old one goes dark — so the light is never
/// dark while powered.
/// </summary>
public sealed class StatusLight(LedClassDevice red, LedClassDevice green, HardwareTimeline timeline)
{
    public const string RedLabel = "homeunit-red";
    public const string GreenLabel = "homeunit-green";

    public IEnumerable<LedClassDevice> Devices => [red, green];

    /// <summary>Green: call before capture starts.</summary>
    public void ShowCameraOn() => Switch(green, Parts.Green, red, Parts.Red);

    /// <summary>Red: call only after capture has stopped.</summary>
    public void ShowCameraOff() => Switch(red, Parts.Red, green, Parts.Green);

    private void Switch(LedClassDevice on, string onPart, LedClassDevice off, string offPart)
    {
        on.Set(true);
        timeline.Record(onPart, "on");
        off.Set(false);
        timeline.Record(offPart, "off");
    }
}

/// <summary>The infrared illuminator (an LED-class device), lit only during a look.</summary>
public sealed class IrLight(LedClassDevice device, HardwareTimeline timeline)
{
    public const string Label = "homeunit-ir";

    public LedClassDevice Device => device;

    public void Set(bool on)
    {
        device.Set(on);
        timeline.Record(Parts.Ir, on ? "on" : "off");
    }
}
