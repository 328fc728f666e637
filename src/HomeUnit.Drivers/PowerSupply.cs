using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Drivers;

/// <summary>
/// Mains power through the power_supply class (a UPS HAT's power-good pin via the gpio-charger
/// overlay) and the firmware's undervoltage alarm through the <c>rpi_volt</c> hwmon device.
/// </summary>
public sealed class PowerSupply(KernelFiles files, string supplyName)
{
    /// <summary>True on mains, false on battery.</summary>
    public bool MainsOnline
    {
        get
        {
            var online = files.Read($"sys/class/power_supply/{supplyName}/online");
            return online switch
            {
                "1" => true,
                "0" => false,
                _ => throw new HardwareFault($"sys/class/power_supply/{supplyName}/online holds '{KernelFiles.Printable(online)}', not 0 or 1"),
            };
        }
    }

    /// <summary>True while the supply voltage is below what the Pi needs.</summary>
    public bool Undervoltage
    {
        get
        {
            var hwmon = files.Children("sys/class/hwmon")
                .Select(name => $"sys/class/hwmon/{name}")
                .FirstOrDefault(dir => files.Exists($"{dir}/name") && files.Read($"{dir}/name") == "rpi_volt")
                ?? throw new HardwareFault("no hwmon device named rpi_volt");
            return files.ReadNumber($"{hwmon}/in0_lcrit_alarm") != 0;
        }
    }
}
