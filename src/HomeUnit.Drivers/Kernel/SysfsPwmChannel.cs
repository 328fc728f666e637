using System.Device.Pwm;
using System.Diagnostics;

namespace HomeUnit.Drivers.Kernel;

/// <summary>
/// One PWM channel through <c>/sys/class/pwm</c>, as a .NET IoT <see cref="PwmChannel"/>. The chip is found
/// by where its <c>device</c> link points (fe20c000.pwm on a Pi 4, 1f00098000.pwm on a Pi 5), never by its
/// number, which differs between boards and boots; the files lie under the hardware root, so the same code
/// runs on a simulated tree. (System.Device.Gpio's own channel numbers chips and hard-codes /sys.)
/// </summary>
public sealed class SysfsPwmChannel : PwmChannel
{
    private const long NanosecondsPerSecond = 1_000_000_000;

    private readonly KernelFiles files;
    private readonly string directory;
    /// <summary>Every write and the dispose under one lock, so nothing can enable the output once it is disposed.</summary>
    private readonly Lock gate = new();
    private long periodNs;
    private long dutyNs;
    private double dutyCycle;
    private bool disposed;

    private SysfsPwmChannel(KernelFiles files, string directory)
    {
        this.files = files;
        this.directory = directory;
        periodNs = files.ReadNumber($"{directory}/period");
        dutyNs = files.ReadNumber($"{directory}/duty_cycle");
        dutyCycle = periodNs == 0 ? 0 : (double)dutyNs / periodNs;
    }

    /// <summary>
    /// Finds the chip whose device link ends with <paramref name="deviceName"/>, exports the channel if it is
    /// not yet, and waits — without holding a thread — until udev has made its files writable.
    /// </summary>
    public static async Task<SysfsPwmChannel> OpenAsync(KernelFiles files, string deviceName, int channel, TimeSpan exportTimeout, CancellationToken cancellationToken = default)
    {
        var chip = Chip(files, deviceName, channel);
        var directory = $"{chip}/pwm{channel}";
        if (!files.Exists($"{directory}/enable"))
        {
            files.Write($"{chip}/export", channel.ToString());
        }
        // The kernel creates pwmN at once, but udev changes its group a moment later.
        var waited = Stopwatch.StartNew();
        while (!Writable(files, directory))
        {
            if (waited.Elapsed > exportTimeout)
            {
                throw new HardwareFault($"{directory} did not become writable within {exportTimeout.TotalSeconds:F1} s after export (udev rule missing?)");
            }
            await Task.Delay(10, cancellationToken);
        }
        return new SysfsPwmChannel(files, directory);
    }

    /// <summary>
    /// What stands in the way of driving the channel, or null. Only reads: a channel not yet exported is
    /// judged by its chip's <c>export</c> file, so a health check never exports one.
    /// </summary>
    public static string? Problem(KernelFiles files, string deviceName, int channel)
    {
        var chip = Chip(files, deviceName, channel);
        var directory = $"{chip}/pwm{channel}";
        if (files.Exists($"{directory}/enable"))
        {
            return Writable(files, directory) ? null : $"{directory} is not writable";
        }
        return files.IsWritable($"{chip}/export") ? null : $"{chip}/export is not writable";
    }

    public static string? FindChip(KernelFiles files, string deviceName) =>
        files.Children("sys/class/pwm")
            .Where(name => name.StartsWith("pwmchip", StringComparison.Ordinal))
            .Select(name => $"sys/class/pwm/{name}")
            .FirstOrDefault(chip => files.LinkTarget($"{chip}/device") is { } target
                && Path.GetFileName(target.TrimEnd('/')) == deviceName);

    private static string Chip(KernelFiles files, string deviceName, int channel)
    {
        var chip = FindChip(files, deviceName)
            ?? throw new HardwareFault($"no PWM chip under sys/class/pwm has a device link to {deviceName} (is the pwm overlay in config.txt?)");
        var npwm = files.ReadNumber($"{chip}/npwm");
        if (channel < 0 || channel >= npwm)
        {
            throw new HardwareFault($"{chip} has {npwm} channels; channel {channel} does not exist");
        }
        return chip;
    }

    private static bool Writable(KernelFiles files, string directory) =>
        files.IsWritable($"{directory}/period") && files.IsWritable($"{directory}/duty_cycle") && files.IsWritable($"{directory}/enable");

    public override int Frequency
    {
        get => periodNs == 0 ? 0 : (int)Math.Round((double)NanosecondsPerSecond / periodNs);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, (int)(NanosecondsPerSecond / 2)); // a period of at least 2 ns
            lock (gate)
            {
                var period = NanosecondsPerSecond / value;
                Apply(period, (long)Math.Round(dutyCycle * period));
            }
        }
    }

    public override double DutyCycle
    {
        get => dutyCycle;
        set
        {
            if (!(value is >= 0 and <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "the duty cycle lies within 0.0–1.0");
            }
            lock (gate)
            {
                ObjectDisposedException.ThrowIf(disposed, this);
                dutyCycle = value;
                if (periodNs > 0)
                {
                    Apply(periodNs, (long)Math.Round(value * periodNs));
                }
            }
        }
    }

    public override void Start()
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            WriteEnable(true);
        }
    }

    /// <summary>Disables the output; once disposed there is nothing to stop (dispose disabled it).</summary>
    public override void Stop()
    {
        lock (gate)
        {
            if (!disposed)
            {
                WriteEnable(false);
            }
        }
    }

    /// <summary>
    /// The kernel refuses a duty cycle longer than the period, so when the duty grows past today's period the
    /// period goes first, otherwise the duty does. A value already there is not written again.
    /// </summary>
    private void Apply(long period, long duty)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (duty > periodNs)
        {
            WritePeriod(period);
            WriteDuty(duty);
        }
        else
        {
            WriteDuty(duty);
            WritePeriod(period);
        }
    }

    private void WritePeriod(long value)
    {
        if (value != periodNs)
        {
            files.Write($"{directory}/period", value.ToString());
            periodNs = value;
        }
    }

    private void WriteDuty(long value)
    {
        if (value != dutyNs)
        {
            files.Write($"{directory}/duty_cycle", value.ToString());
            dutyNs = value;
        }
    }

    private void WriteEnable(bool enabled) => files.Write($"{directory}/enable", enabled ? "1" : "0");

    /// <summary>
    /// Disables the output but leaves the channel exported: unexporting (as System.Device.Gpio's channel does)
    /// would make the next start wait for udev again, and an exported, disabled channel drives nothing.
    /// </summary>
    protected override void Dispose(bool disposing)
    {
        lock (gate)
        {
            if (!disposed)
            {
                try
                {
                    WriteEnable(false);
                }
                catch (HardwareFault)
                {
                    // Health reads the channel's files and reports servo.fault; there is no one to tell here.
                }
                disposed = true;
            }
        }
        base.Dispose(disposing);
    }
}
