namespace HomeUnit.Drivers.Kernel;

/// <summary>Board shapes the simulated tree can take: the PWM chip's device and number differ.</summary>
public enum SimulatedBoard
{
    Pi4,
    Pi5,
}

/// <summary>
/// A sysfs-shaped tree on disk, so the real drivers run unchanged in simulation and tests: LED-class
/// devices, a PWM chip found through its device link, the power_supply and hwmon files, /dev/video0
/// and systemd-timesyncd's marker. Plays the kernel's one active part — creating a PWM channel's
/// directory when its number is written to <c>export</c> — and lets tests and the demo flip power,
/// undervoltage, camera and clock.
/// </summary>
public sealed class SimulatedKernel : IDisposable
{
    public const string MainsSupply = "mains";

    /// <summary>The resident's privacy button: <c>1</c> while pressed, <c>0</c> when released (read by the simulated GPIO driver).</summary>
    public const string PrivacyButtonFile = "sim/privacy-button";

    private readonly List<FileSystemWatcher> exportWatchers = [];

    private SimulatedKernel(string root, SimulatedBoard board)
    {
        Files = new KernelFiles(root);
        Board = board;
        foreach (var label in new[] { StatusLight.RedLabel, StatusLight.GreenLabel, IrLight.Label })
        {
            WriteFile($"sys/class/leds/{label}/brightness", "0");
            WriteFile($"sys/class/leds/{label}/max_brightness", "1");
        }
        // Pi 5 has more than one PWM chip: discovery must pick by device link, not by number.
        if (board == SimulatedBoard.Pi5)
        {
            AddPwmChip("pwmchip0", "../../../devices/platform/axi/1000120000.pcie/1f0009c000.pwm", 4);
            AddPwmChip("pwmchip2", "../../../devices/platform/axi/1000120000.pcie/" + PwmDevice, 4);
        }
        else
        {
            AddPwmChip("pwmchip0", "../../../devices/platform/soc/" + PwmDevice, 2);
        }
        WriteFile($"sys/class/power_supply/{MainsSupply}/type", "Mains");
        WriteFile($"sys/class/power_supply/{MainsSupply}/online", "1");
        WriteFile("sys/class/hwmon/hwmon0/name", "cpu_thermal");
        WriteFile("sys/class/hwmon/hwmon1/name", "rpi_volt");
        WriteFile("sys/class/hwmon/hwmon1/in0_lcrit_alarm", "0");
        WriteFile("dev/video0", "");
        WriteFile("run/systemd/timesync/synchronized", "");
        WriteFile(PrivacyButtonFile, "0");
        // The kernel acts when export is written, so the simulation does too (inotify): polling the
        // export files would keep a thread waking a hundred times a second on an idle unit.
        foreach (var chip in Files.Children("sys/class/pwm"))
        {
            var watcher = new FileSystemWatcher(Files.PathOf($"sys/class/pwm/{chip}"), "export")
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName,
            };
            watcher.Changed += (_, _) => ServeExports();
            watcher.Created += (_, _) => ServeExports();
            watcher.Renamed += (_, _) => ServeExports();
            watcher.EnableRaisingEvents = true;
            exportWatchers.Add(watcher);
        }
        ServeExports();
    }

    public KernelFiles Files { get; }

    public SimulatedBoard Board { get; }

    /// <summary>The name the PWM chip's device link ends in on this board.</summary>
    public string PwmDevice => Board == SimulatedBoard.Pi5 ? "1f00098000.pwm" : "fe20c000.pwm";

    /// <summary>GPIO 18 is channel 0 on a Pi 4 and channel 2 on a Pi 5.</summary>
    public int PwmChannel => Board == SimulatedBoard.Pi5 ? 2 : 0;

    public string PwmChipDirectory => SysfsPwmChannel.FindChip(Files, PwmDevice)!;

    public static SimulatedKernel Create(string root, SimulatedBoard board = SimulatedBoard.Pi4) => new(root, board);

    public void SetMains(bool online) => Files.Write($"sys/class/power_supply/{MainsSupply}/online", online ? "1" : "0");

    public void SetUndervoltage(bool alarm) => Files.Write("sys/class/hwmon/hwmon1/in0_lcrit_alarm", alarm ? "1" : "0");

    public void SetCameraPresent(bool present)
    {
        if (present) WriteFile("dev/video0", "");
        else File.Delete(Files.PathOf("dev/video0"));
    }

    /// <summary>Holds the privacy button down (true) or lets it go.</summary>
    public void SetPrivacyButton(bool pressed) => Files.Write(PrivacyButtonFile, pressed ? "1" : "0");

    public void SetClockSynchronized(bool synchronized)
    {
        if (synchronized) WriteFile("run/systemd/timesync/synchronized", "");
        else File.Delete(Files.PathOf("run/systemd/timesync/synchronized"));
    }

    private void AddPwmChip(string chip, string deviceLink, int channels)
    {
        var dir = $"sys/class/pwm/{chip}";
        WriteFile($"{dir}/npwm", channels.ToString());
        WriteFile($"{dir}/export", "");
        WriteFile($"{dir}/unexport", "");
        var link = Files.PathOf($"{dir}/device");
        if (!Path.Exists(link))
        {
            File.CreateSymbolicLink(link, deviceLink);
        }
    }

    private void ServeExports()
    {
        lock (exportWatchers)
        {
            ServeExportsLocked();
        }
    }

    private void ServeExportsLocked()
    {
        try
        {
            foreach (var chip in Files.Children("sys/class/pwm"))
            {
                var export = $"sys/class/pwm/{chip}/export";
                if (!Files.Exists(export) || !int.TryParse(Files.Read(export), out var channel))
                {
                    continue;
                }
                var dir = $"sys/class/pwm/{chip}/pwm{channel}";
                WriteFile($"{dir}/period", "0");
                WriteFile($"{dir}/duty_cycle", "0");
                WriteFile($"{dir}/polarity", "normal");
                // enable last: the driver treats it as the sign that the channel exists.
                WriteFile($"{dir}/enable", "0");
                File.WriteAllText(Files.PathOf(export), "");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or HardwareFault)
        {
            // A test may be tearing the tree down or making it read-only; the next write to export tries again.
        }
    }

    /// <summary>Files appear whole, as kernel attributes do: written aside, then renamed into place.</summary>
    private void WriteFile(string relative, string content)
    {
        var path = Files.PathOf(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var aside = path + ".new";
        File.WriteAllText(aside, content);
        File.Move(aside, path, overwrite: true);
    }

    public void Dispose()
    {
        foreach (var watcher in exportWatchers)
        {
            watcher.Dispose();
        }
    }
}
