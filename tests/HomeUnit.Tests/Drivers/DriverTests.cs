using HomeUnit.TestSupport;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Tests.Infrastructure;

namespace HomeUnit.Tests.Drivers;

/// <summary>The real drivers against a simulated kernel tree: exact file contents and write order.</summary>
public sealed class DriverTests : IDisposable
{
    private readonly TempDirectory directory = new();
    private readonly HardwareTimeline timeline = new();

    private SimulatedKernel Tree(SimulatedBoard board = SimulatedBoard.Pi4) => SimulatedKernel.Create(directory.Combine("root"), board);

    private static List<(string Path, string Value)> RecordWrites(KernelFiles files)
    {
        var writes = new List<(string, string)>();
        files.Written += (path, value) => { lock (writes) writes.Add((path, value)); };
        return writes;
    }

    private StatusLight Light(KernelFiles files) =>
        new(new LedClassDevice(files, StatusLight.RedLabel), new LedClassDevice(files, StatusLight.GreenLabel), timeline);

    [Fact]
    public void Status_light_lights_the_new_colour_before_darkening_the_old()
    {
        using var kernel = Tree();
        var writes = RecordWrites(kernel.Files);
        var light = Light(kernel.Files);

        light.ShowCameraOn();
        Assert.Equal("1", kernel.Files.Read("sys/class/leds/homeunit-green/brightness"));
        Assert.Equal("0", kernel.Files.Read("sys/class/leds/homeunit-red/brightness"));
        light.ShowCameraOff();
        Assert.Equal("1", kernel.Files.Read("sys/class/leds/homeunit-red/brightness"));
        Assert.Equal("0", kernel.Files.Read("sys/class/leds/homeunit-green/brightness"));

        Assert.Equal(
            [("sys/class/leds/homeunit-green/brightness", "1"), ("sys/class/leds/homeunit-red/brightness", "0"),
             ("sys/class/leds/homeunit-red/brightness", "1"), ("sys/class/leds/homeunit-green/brightness", "0")],
            writes);
        TimelineAssert.GreenWheneverCapturing(timeline.Snapshot());
    }

    [Fact]
    public void Led_brightness_uses_max_brightness()
    {
        using var kernel = Tree();
        File.WriteAllText(kernel.Files.PathOf("sys/class/leds/homeunit-ir/max_brightness"), "255\n");
        new IrLight(new LedClassDevice(kernel.Files, IrLight.Label), timeline).Set(true);
        Assert.Equal("255", kernel.Files.Read("sys/class/leds/homeunit-ir/brightness"));
    }

    [Theory]
    [InlineData("banana")]
    [InlineData("")]
    [InlineData("0")]
    public void Led_with_a_bad_max_brightness_is_a_fault_and_nothing_is_written(string content)
    {
        using var kernel = Tree();
        File.WriteAllText(kernel.Files.PathOf("sys/class/leds/homeunit-green/max_brightness"), content);
        var writes = RecordWrites(kernel.Files);

        var fault = Assert.Throws<HardwareFault>(() => Light(kernel.Files).ShowCameraOn());

        Assert.Contains("homeunit-green", fault.Message);
        Assert.Empty(writes);
        Assert.Empty(timeline.Snapshot());
    }

    private static Task<SysfsPwmChannel> OpenPwm(SimulatedKernel kernel, int channel = 0) =>
        SysfsPwmChannel.OpenAsync(kernel.Files, kernel.PwmDevice, channel, TimeSpan.FromSeconds(5));

    [Theory]
    [InlineData(SimulatedBoard.Pi4, "sys/class/pwm/pwmchip0")]
    [InlineData(SimulatedBoard.Pi5, "sys/class/pwm/pwmchip2")]
    public async Task Pwm_chip_is_found_by_its_device_link_not_its_number(SimulatedBoard board, string expected)
    {
        using var kernel = Tree(board);
        Assert.Equal(expected, SysfsPwmChannel.FindChip(kernel.Files, kernel.PwmDevice));
        var writes = RecordWrites(kernel.Files);

        using var channel = await OpenPwm(kernel, kernel.PwmChannel);

        Assert.Equal([($"{expected}/export", kernel.PwmChannel.ToString())], writes);
        Assert.True(kernel.Files.Exists($"{expected}/pwm{kernel.PwmChannel}/enable"));
    }

    [Fact]
    public async Task Missing_pwm_chip_or_channel_is_a_clear_fault()
    {
        using var kernel = Tree();
        Assert.Contains("no PWM chip", (await Assert.ThrowsAsync<HardwareFault>(() => SysfsPwmChannel.OpenAsync(kernel.Files, "nothing.pwm", 0, TimeSpan.FromSeconds(1)))).Message);
        Assert.Contains("has 2 channels", (await Assert.ThrowsAsync<HardwareFault>(() => OpenPwm(kernel, 5))).Message);
        Assert.Contains("has 2 channels", Assert.Throws<HardwareFault>(() => SysfsPwmChannel.Problem(kernel.Files, kernel.PwmDevice, 5)).Message);
    }

    /// <summary>A tree with a chip but no kernel to create the channel directory when export is written.</summary>
    private KernelFiles ChipWithoutKernel()
    {
        var files = new KernelFiles(directory.Combine("bare"));
        Directory.CreateDirectory(files.PathOf("sys/class/pwm/pwmchip0"));
        File.WriteAllText(files.PathOf("sys/class/pwm/pwmchip0/npwm"), "2");
        File.WriteAllText(files.PathOf("sys/class/pwm/pwmchip0/export"), "");
        File.CreateSymbolicLink(files.PathOf("sys/class/pwm/pwmchip0/device"), "../../../devices/platform/soc/fe20c000.pwm");
        return files;
    }

    [Fact]
    public async Task Export_that_never_becomes_writable_is_a_fault_after_the_timeout()
    {
        var files = ChipWithoutKernel();

        var fault = await Assert.ThrowsAsync<HardwareFault>(() => SysfsPwmChannel.OpenAsync(files, "fe20c000.pwm", 0, TimeSpan.FromMilliseconds(300)));

        Assert.Contains("did not become writable", fault.Message);
        Assert.Equal("0", files.Read("sys/class/pwm/pwmchip0/export"));
    }

    [Fact]
    public async Task Waiting_for_udev_after_export_holds_no_thread_and_can_be_cancelled()
    {
        var files = ChipWithoutKernel();
        using var cancel = new CancellationTokenSource();

        // A wait that blocked its thread would come back only after the 30 s timeout, finished.
        var open = SysfsPwmChannel.OpenAsync(files, "fe20c000.pwm", 0, TimeSpan.FromSeconds(30), cancel.Token);
        Assert.False(open.IsCompleted);
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => open);
    }

    [Fact]
    public async Task Servo_move_exports_sets_period_before_duty_then_goes_silent_after_settling()
    {
        using var kernel = Tree();
        var writes = RecordWrites(kernel.Files);
        using var servo = new PanServo(async _ => await OpenPwm(kernel), new ServoCalibration(600, 1500, 2000), TimeSpan.FromMilliseconds(50), timeline);

        await servo.MoveAsync(LensPosition.Bed);

        const string pwm = "sys/class/pwm/pwmchip0/pwm0";
        Assert.Equal(
            [("sys/class/pwm/pwmchip0/export", "0"), ($"{pwm}/period", "20000000"), ($"{pwm}/duty_cycle", "1500000"),
             ($"{pwm}/enable", "1"), ($"{pwm}/enable", "0")],
            writes);
        Assert.Equal("0", kernel.Files.Read($"{pwm}/enable"));
        Assert.Equal(["bed pwm-on", "bed pwm-off"], timeline.Snapshot().Select(e => e.State));

        writes.Clear();
        await servo.MoveAsync(LensPosition.LensUp);
        // Same period: only the duty changes; no re-export.
        Assert.Equal([($"{pwm}/duty_cycle", "600000"), ($"{pwm}/enable", "1"), ($"{pwm}/enable", "0")], writes);
    }

    [Fact]
    public async Task Lowering_the_period_writes_the_duty_cycle_first_and_raising_it_the_period_first()
    {
        using var kernel = Tree();
        using var channel = await OpenPwm(kernel);
        channel.Frequency = 50;
        channel.DutyCycle = 0.1;
        var writes = RecordWrites(kernel.Files);

        channel.Frequency = 1000;
        channel.DutyCycle = 0.5;

        const string pwm = "sys/class/pwm/pwmchip0/pwm0";
        Assert.Equal([($"{pwm}/duty_cycle", "100000"), ($"{pwm}/period", "1000000"), ($"{pwm}/duty_cycle", "500000")], writes);
        Assert.Equal(1000, channel.Frequency);

        writes.Clear();
        channel.Frequency = 50;
        Assert.Equal([($"{pwm}/period", "20000000"), ($"{pwm}/duty_cycle", "10000000")], writes);
        Assert.Throws<ArgumentOutOfRangeException>(() => channel.DutyCycle = 1.5);
        Assert.Throws<ArgumentOutOfRangeException>(() => channel.Frequency = 0);
        Assert.Equal("10000000", kernel.Files.Read($"{pwm}/duty_cycle"));
    }

    [Fact]
    public async Task Disposing_the_channel_disables_it_and_leaves_it_exported()
    {
        using var kernel = Tree();
        var channel = await OpenPwm(kernel);
        channel.Frequency = 50;
        channel.Start();

        channel.Dispose();
        channel.Dispose();

        Assert.Equal("0", kernel.Files.Read("sys/class/pwm/pwmchip0/pwm0/enable"));
        Assert.Throws<ObjectDisposedException>(channel.Start);
        Assert.Throws<ObjectDisposedException>(() => channel.DutyCycle = 0.5);
        channel.Stop(); // nothing to stop: dispose disabled it
        Assert.Equal("0", kernel.Files.Read("sys/class/pwm/pwmchip0/pwm0/enable"));
        // Still exported: a second open writes nothing to export.
        var writes = RecordWrites(kernel.Files);
        using var again = await OpenPwm(kernel);
        Assert.Empty(writes);
    }

    [Fact]
    public async Task Servo_interrupted_while_settling_still_disables_pwm()
    {
        using var kernel = Tree();
        using var servo = new PanServo(async _ => await OpenPwm(kernel), new ServoCalibration(), TimeSpan.FromSeconds(30), timeline);
        using var cancel = new CancellationTokenSource();
        var move = servo.MoveAsync(LensPosition.Room, cancel.Token);
        await Eventually.True(() => timeline.Snapshot().Any(e => e.State == "room pwm-on"), "the servo to start moving");

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => move);
        Assert.Equal("0", kernel.Files.Read("sys/class/pwm/pwmchip0/pwm0/enable"));
        Assert.Equal("room pwm-off", timeline.Snapshot()[^1].State);
    }

    /// <summary>Stands for any other PWM source of the ecosystem (a PCA9685 board's channel, say): pure bookkeeping.</summary>
    private sealed class RecordingPwmChannel : System.Device.Pwm.PwmChannel
    {
        public List<string> Calls { get; } = [];
        /// <summary>Start fails as an I2C board's channel would.</summary>
        public bool Broken { get; init; }
        private int frequency;
        private double dutyCycle;

        public override int Frequency { get => frequency; set { frequency = value; Calls.Add($"frequency {value}"); } }
        public override double DutyCycle { get => dutyCycle; set { dutyCycle = value; Calls.Add($"duty {value:0.####}"); } }
        public override void Start()
        {
            Calls.Add("start");
            if (Broken)
            {
                throw new IOException("I2C write to 0x40 failed");
            }
        }
        public override void Stop() => Calls.Add("stop");
        protected override void Dispose(bool disposing) => Calls.Add("dispose");
    }

    [Fact]
    public async Task Servo_drives_any_pwm_channel_the_same_way()
    {
        var pwm = new RecordingPwmChannel();
        var servo = new PanServo(_ => Task.FromResult<System.Device.Pwm.PwmChannel>(pwm), new ServoCalibration(600, 1500, 2000), TimeSpan.FromMilliseconds(10), timeline);

        await servo.MoveAsync(LensPosition.Room);
        await servo.MoveAsync(LensPosition.LensUp);
        servo.Dispose();

        Assert.Equal(["frequency 50", "duty 0.1", "start", "stop", "frequency 50", "duty 0.03", "start", "stop", "dispose"], pwm.Calls);
    }

    [Fact]
    public async Task A_pwm_channel_that_fails_in_its_own_words_is_a_servo_fault_and_is_still_stopped()
    {
        var pwm = new RecordingPwmChannel { Broken = true };
        using var servo = new PanServo(_ => Task.FromResult<System.Device.Pwm.PwmChannel>(pwm), new ServoCalibration(), TimeSpan.FromMilliseconds(10), timeline);

        var fault = await Assert.ThrowsAsync<HardwareFault>(() => servo.MoveAsync(LensPosition.LensUp));

        Assert.Contains("I2C write to 0x40 failed", fault.Message);
        Assert.Equal("stop", pwm.Calls[^1]);
        Assert.Equal(["lens-up pwm-off"], timeline.Snapshot().Select(e => e.State));
    }

    [Fact]
    public async Task Moves_asked_for_at_once_open_the_channel_once_and_never_overlap()
    {
        using var kernel = Tree();
        var opened = 0;
        using var servo = new PanServo(async _ => { Interlocked.Increment(ref opened); return await OpenPwm(kernel); }, new ServoCalibration(), TimeSpan.FromMilliseconds(50), timeline);

        await Task.WhenAll(servo.MoveAsync(LensPosition.Room), servo.MoveAsync(LensPosition.LensUp), servo.MoveAsync(LensPosition.Bed));

        Assert.Equal(1, opened);
        var states = timeline.Snapshot().Select(e => e.State).ToList();
        Assert.Equal(6, states.Count);
        for (var i = 0; i < states.Count; i += 2)
        {
            Assert.EndsWith("pwm-on", states[i]);
            Assert.Equal(states[i].Replace("pwm-on", "pwm-off"), states[i + 1]);
        }
        Assert.Equal("0", kernel.Files.Read("sys/class/pwm/pwmchip0/pwm0/enable"));
    }

    [Fact]
    public void Power_supply_reads_mains_and_undervoltage()
    {
        using var kernel = Tree();
        var power = new PowerSupply(kernel.Files, SimulatedKernel.MainsSupply);
        Assert.True(power.MainsOnline);
        Assert.False(power.Undervoltage);

        kernel.SetMains(false);
        kernel.SetUndervoltage(true);

        Assert.False(power.MainsOnline);
        Assert.True(power.Undervoltage);
    }

    [Fact]
    public void Power_supply_with_garbage_or_missing_files_is_a_clear_fault()
    {
        using var kernel = Tree();
        File.WriteAllText(kernel.Files.PathOf("sys/class/power_supply/mains/online"), "\u0001maybe");
        var power = new PowerSupply(kernel.Files, SimulatedKernel.MainsSupply);
        Assert.Contains("not 0 or 1", Assert.Throws<HardwareFault>(() => power.MainsOnline).Message);
        Assert.Contains("cannot read", Assert.Throws<HardwareFault>(() => new PowerSupply(kernel.Files, "ups").MainsOnline).Message);
        File.WriteAllText(kernel.Files.PathOf("sys/class/hwmon/hwmon1/name"), "other");
        Assert.Contains("rpi_volt", Assert.Throws<HardwareFault>(() => power.Undervoltage).Message);
    }

    public void Dispose() => directory.Dispose();
}
