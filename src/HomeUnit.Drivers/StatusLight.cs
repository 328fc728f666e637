using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Drivers;

/// <summary>
/// The red/green light the resident reads (P3): green = camera on, red = camera off. Changes are
/// make-before-break — the new colour is lit before the old one goes dark — so the light is never
/// dark while powered, but for the short dark beats of the two red patterns below. Neither ever
/// lights green, so neither can be mistaken for the camera being on:
/// <list type="bullet">
/// <item><see cref="ShowPaused"/>: the resident's privacy pause — red that goes dark for a short beat every
/// two seconds (<see cref="PausedOn"/>/<see cref="PausedOff"/>), for as long as the pause lasts. Mostly lit, so it
/// still reads "camera off"; the regular beat is visible from bed in a dark room and unlike any other state.</item>
/// <item><see cref="ShowRefused"/>: the answer to a press when the care plan allows no pause — a quick red
/// flicker (<see cref="RefusedBeat"/>) for about a second, then steady red again.</item>
/// </list>
/// The beat is made here by writing <c>brightness</c>, the one LED file the agent's group may write (the
/// kernel's timer trigger would need <c>trigger</c> and the <c>delay_*</c> files it creates as root). The
/// timeline records the pattern when it starts, not every beat. Every change of colour stops the beat first,
/// under one lock, so no beat can light red once green is on.
/// </summary>
public sealed class StatusLight(LedClassDevice red, LedClassDevice green, HardwareTimeline timeline)
{
    public const string RedLabel = "homeunit-red";
    public const string GreenLabel = "homeunit-green";

    public static readonly TimeSpan PausedOn = TimeSpan.FromMilliseconds(1700);
    public static readonly TimeSpan PausedOff = TimeSpan.FromMilliseconds(300);
    public static readonly TimeSpan RefusedBeat = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan RefusedFor = TimeSpan.FromSeconds(1.2);

    internal IEnumerable<LedClassDevice> Devices => [red, green];

    private readonly object gate = new();
    private long beatGeneration;
    private ITimer? beat;

    /// <summary>Green: call before capture starts.</summary>
    public void ShowCameraOn()
    {
        lock (gate)
        {
            StopBeat();
            Switch(green, Parts.Green, red, Parts.Red);
        }
    }

    /// <summary>Red: call only after capture has stopped.</summary>
    public void ShowCameraOff()
    {
        lock (gate)
        {
            StopBeat();
            Switch(red, Parts.Red, green, Parts.Green);
        }
    }

    /// <summary>The privacy pause: red with a short dark beat every two seconds. Call only while no capture runs.</summary>
    public void ShowPaused() => ShowRedPattern(PausedOn, PausedOff, "paused");

    /// <summary>A press the care plan does not allow: a quick red flicker; <see cref="ShowCameraOff"/> afterwards.</summary>
    public void ShowRefused() => ShowRedPattern(RefusedBeat, RefusedBeat, "refused");

    private void ShowRedPattern(TimeSpan on, TimeSpan off, string name)
    {
        lock (gate)
        {
            StopBeat();
            Switch(red, Parts.Red, green, Parts.Green);
            timeline.Record(Parts.Red, $"blink {name} {on.TotalMilliseconds:0}/{off.TotalMilliseconds:0} ms");
            var generation = beatGeneration;
            var lit = true;
            beat = TimeProvider.System.CreateTimer(_ =>
            {
                lock (gate)
                {
                    if (generation != beatGeneration)
                    {
                        return; // the pattern was stopped or replaced while this beat waited
                    }
                    lit = !lit;
                    try
                    {
                        red.Set(lit);
                    }
                    catch (HardwareFault)
                    {
                        // Health reads the LED's files and reports light.fault; the beat goes on.
                    }
                    beat?.Change(lit ? on : off, Timeout.InfiniteTimeSpan);
                }
            }, null, on, Timeout.InfiniteTimeSpan);
        }
    }

    private void StopBeat()
    {
        beatGeneration++;
        beat?.Dispose();
        beat = null;
    }

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

    internal LedClassDevice Device => device;

    public void Set(bool on)
    {
        device.Set(on);
        timeline.Record(Parts.Ir, on ? "on" : "off");
    }
}
