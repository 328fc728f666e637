namespace HomeUnit.Drivers.Kernel;

/// <summary>
/// A Linux LED-class device (<c>/sys/class/leds/&lt;label&gt;</c>), set up by a gpio-led overlay. It is
/// lit steadily, or blinked by the kernel's <c>timer</c> trigger, which keeps the pattern without the agent.
/// </summary>
public sealed class LedClassDevice(KernelFiles files, string label)
{
    private string Directory => $"sys/class/leds/{label}";

    public string Label => label;

    public bool Present => files.Exists($"{Directory}/brightness");

    public bool Writable => files.IsWritable($"{Directory}/brightness");

    /// <summary>Lit or dark, steadily: a blink trigger left from before (even by an earlier run) is removed first.</summary>
    public void Set(bool on)
    {
        var max = MaxBrightness();
        if (ActiveTrigger() is { } trigger && trigger != "none")
        {
            files.Write($"{Directory}/trigger", "none");
        }
        files.Write($"{Directory}/brightness", on ? max.ToString() : "0");
    }

    /// <summary>Blinks by the kernel's timer trigger: lit for <paramref name="on"/>, dark for <paramref name="off"/>, over and over.</summary>
    public void Blink(TimeSpan on, TimeSpan off)
    {
        var max = MaxBrightness();
        files.Write($"{Directory}/trigger", "timer");
        files.Write($"{Directory}/delay_on", ((long)on.TotalMilliseconds).ToString());
        files.Write($"{Directory}/delay_off", ((long)off.TotalMilliseconds).ToString());
        files.Write($"{Directory}/brightness", max.ToString());
    }

    private long MaxBrightness()
    {
        var max = files.ReadNumber($"{Directory}/max_brightness");
        return max > 0 ? max : throw new HardwareFault($"{Directory}/max_brightness is {max}; the LED cannot be lit");
    }

    /// <summary>The kernel lists the triggers with the active one in brackets ("[none] timer heartbeat").</summary>
    private string? ActiveTrigger()
    {
        if (!files.Exists($"{Directory}/trigger"))
        {
            return null;
        }
        var text = files.Read($"{Directory}/trigger");
        var open = text.IndexOf('[');
        var close = text.IndexOf(']', open + 1);
        return open >= 0 && close > open ? text[(open + 1)..close] : text.Trim();
    }
}
