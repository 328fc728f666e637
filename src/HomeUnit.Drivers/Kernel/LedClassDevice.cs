namespace HomeUnit.Drivers.Kernel;

/// <summary>A Linux LED-class device (<c>/sys/class/leds/&lt;label&gt;</c>), set up by a gpio-led overlay.</summary>
public sealed class LedClassDevice(KernelFiles files, string label)
{
    private string Directory => $"sys/class/leds/{label}";

    public string Label => label;

    public bool Present => files.Exists($"{Directory}/brightness");

    public bool Writable => files.IsWritable($"{Directory}/brightness");

    public void Set(bool on)
    {
        var max = files.ReadNumber($"{Directory}/max_brightness");
        if (max <= 0)
        {
            throw new HardwareFault($"{Directory}/max_brightness is {max}; the LED cannot be lit");
        }
        files.Write($"{Directory}/brightness", on ? max.ToString() : "0");
    }
}
