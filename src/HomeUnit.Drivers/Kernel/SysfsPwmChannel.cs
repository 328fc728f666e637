namespace HomeUnit.Drivers.Kernel;

/// <summary>
/// One PWM channel through <c>/sys/class/pwm</c>. The chip is found by where its <c>device</c> link
/// points (fe20c000.pwm on a Pi 4, 1f00098000.pwm on a Pi 5), never by its number, which differs
/// between boards and boots. Exports the channel when needed and waits until udev has made it writable.
/// </summary>
public sealed class SysfsPwmChannel
{
    private readonly KernelFiles files;
    private readonly string channelDirectory;
    private long period;
    private long duty;

    private SysfsPwmChannel(KernelFiles files, string chipDirectory, int channel)
    {
        this.files = files;
        ChipDirectory = chipDirectory;
        Channel = channel;
        channelDirectory = $"{chipDirectory}/pwm{channel}";
    }

    public string ChipDirectory { get; }

    public int Channel { get; }

    /// <summary>Finds the chip whose device link ends with <paramref name="deviceName"/> and opens its channel.</summary>
    public static SysfsPwmChannel Open(KernelFiles files, string deviceName, int channel, TimeSpan exportTimeout)
    {
        var chip = FindChip(files, deviceName)
            ?? throw new HardwareFault($"no PWM chip under sys/class/pwm has a device link to {deviceName} (is the pwm overlay in config.txt?)");
        var npwm = files.ReadNumber($"{chip}/npwm");
        if (channel < 0 || channel >= npwm)
        {
            throw new HardwareFault($"{chip} has {npwm} channels; channel {channel} does not exist");
        }
        var pwm = new SysfsPwmChannel(files, chip, channel);
        pwm.Export(exportTimeout);
        return pwm;
    }

    public static string? FindChip(KernelFiles files, string deviceName) =>
        files.Children("sys/class/pwm")
            .Where(name => name.StartsWith("pwmchip", StringComparison.Ordinal))
            .Select(name => $"sys/class/pwm/{name}")
            .FirstOrDefault(chip => files.LinkTarget($"{chip}/device") is { } target
                && Path.GetFileName(target.TrimEnd('/')) == deviceName);

    private void Export(TimeSpan timeout)
    {
        if (!files.Exists($"{channelDirectory}/enable"))
        {
            files.Write($"{ChipDirectory}/export", Channel.ToString());
        }
        // The kernel creates pwmN at once, but udev changes its group a moment later: wait for writability.
        var deadline = DateTime.UtcNow + timeout;
        while (!(files.IsWritable($"{channelDirectory}/period") && files.IsWritable($"{channelDirectory}/duty_cycle") && files.IsWritable($"{channelDirectory}/enable")))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new HardwareFault($"{channelDirectory} did not become writable within {timeout.TotalSeconds:F1} s after export (udev rule missing?)");
            }
            Thread.Sleep(10);
        }
        period = files.ReadNumber($"{channelDirectory}/period");
        duty = files.ReadNumber($"{channelDirectory}/duty_cycle");
    }

    /// <summary>
    /// Sets period and duty cycle in nanoseconds. The kernel refuses a duty cycle longer than the
    /// period, so when lowering, duty goes first; when raising, period goes first.
    /// </summary>
    public void Configure(long periodNs, long dutyNs)
    {
        if (dutyNs < 0 || dutyNs > periodNs)
        {
            throw new ArgumentOutOfRangeException(nameof(dutyNs), $"duty {dutyNs} ns must lie within the period {periodNs} ns");
        }
        if (dutyNs > period)
        {
            WritePeriod(periodNs);
            WriteDuty(dutyNs);
        }
        else
        {
            WriteDuty(dutyNs);
            WritePeriod(periodNs);
        }
    }

    private void WritePeriod(long value)
    {
        if (value != period)
        {
            files.Write($"{channelDirectory}/period", value.ToString());
            period = value;
        }
    }

    private void WriteDuty(long value)
    {
        if (value != duty)
        {
            files.Write($"{channelDirectory}/duty_cycle", value.ToString());
            duty = value;
        }
    }

    public void SetEnabled(bool enabled) => files.Write($"{channelDirectory}/enable", enabled ? "1" : "0");

    public bool Writable => files.IsWritable($"{channelDirectory}/enable");
}
