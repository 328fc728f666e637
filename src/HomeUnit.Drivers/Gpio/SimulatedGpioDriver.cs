using System.Device.Gpio;
using HomeUnit.Drivers.Kernel;

namespace HomeUnit.Drivers.Gpio;

/// <summary>
/// A GPIO driver for the simulated unit: each input pin is a file under the hardware root holding
/// <c>1</c> while its push button is pressed and <c>0</c> otherwise. The button is wired as on the
/// board (to ground, pull-up on), so a pressed button reads Low. The file is read when it is written
/// (inotify) and, in case a notification is lost, every <see cref="Poll"/>; each level must last until it
/// has been read, as a real press lasts longer than its debounce time. Tests, the demo and outside tools
/// press it by writing the file.
/// </summary>
public sealed class SimulatedGpioDriver : GpioDriver
{
    public static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    private readonly KernelFiles files;
    private readonly IReadOnlyDictionary<int, string> inputs;
    private readonly Dictionary<int, PinValue> values = [];
    private readonly Dictionary<int, (PinEventTypes Types, PinChangeEventHandler Handler)> callbacks = [];
    private readonly object gate = new();
    private readonly CancellationTokenSource stop = new();
    private readonly SemaphoreSlim written = new(0);
    private readonly List<FileSystemWatcher> watchers = [];
    private readonly Thread poller;

    public SimulatedGpioDriver(KernelFiles files, IReadOnlyDictionary<int, string> inputs)
    {
        this.files = files;
        this.inputs = inputs;
        foreach (var file in inputs.Values.Select(files.PathOf))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            var watcher = new FileSystemWatcher(Path.GetDirectoryName(file)!, Path.GetFileName(file))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName,
            };
            watcher.Changed += (_, _) => Written();
            watcher.Created += (_, _) => Written();
            watcher.Renamed += (_, _) => Written();
            watcher.EnableRaisingEvents = true;
            watchers.Add(watcher);
        }
        // One thread reads the pins, so edges reach the callback one at a time and in order.
        poller = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    written.Wait(Poll, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                PollInputs();
            }
        }) { IsBackground = true, Name = "simulated-gpio" };
        poller.Start();
    }

    protected override int PinCount => 28;

    protected override void OpenPin(int pinNumber)
    {
        if (!inputs.ContainsKey(pinNumber))
        {
            throw new InvalidOperationException($"simulated GPIO {pinNumber} has nothing wired to it");
        }
        lock (gate)
        {
            values[pinNumber] = Level(pinNumber);
        }
    }

    protected override void ClosePin(int pinNumber)
    {
        lock (gate)
        {
            values.Remove(pinNumber);
            callbacks.Remove(pinNumber);
        }
    }

    protected override void SetPinMode(int pinNumber, PinMode mode)
    {
        if (!IsPinModeSupported(pinNumber, mode))
        {
            throw new InvalidOperationException($"simulated GPIO {pinNumber} is a button input");
        }
    }

    protected override PinMode GetPinMode(int pinNumber) => PinMode.InputPullUp;

    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => mode is PinMode.InputPullUp or PinMode.Input;

    protected override PinValue Read(int pinNumber) => Level(pinNumber);

    protected override void Write(int pinNumber, PinValue value) =>
        throw new InvalidOperationException($"simulated GPIO {pinNumber} is an input");

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken)
    {
        var before = Level(pinNumber);
        while (!cancellationToken.IsCancellationRequested)
        {
            var now = Level(pinNumber);
            if (now != before && eventTypes.HasFlag(now == PinValue.Low ? PinEventTypes.Falling : PinEventTypes.Rising))
            {
                return new WaitForEventResult { EventTypes = now == PinValue.Low ? PinEventTypes.Falling : PinEventTypes.Rising, TimedOut = false };
            }
            before = now;
            cancellationToken.WaitHandle.WaitOne(Poll);
        }
        return new WaitForEventResult { EventTypes = PinEventTypes.None, TimedOut = true };
    }

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback)
    {
        lock (gate)
        {
            callbacks[pinNumber] = (eventTypes, callback);
        }
    }

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback)
    {
        lock (gate)
        {
            callbacks.Remove(pinNumber);
        }
    }

    private void Written()
    {
        if (written.CurrentCount == 0)
        {
            written.Release();
        }
    }

    /// <summary>Pressed (<c>1</c>) pulls the pin Low; anything else, or no file, leaves it High.</summary>
    private PinValue Level(int pinNumber)
    {
        try
        {
            return files.Exists(inputs[pinNumber]) && files.Read(inputs[pinNumber]).Trim() == "1" ? PinValue.Low : PinValue.High;
        }
        catch (HardwareFault)
        {
            return PinValue.High;
        }
    }

    private void PollInputs()
    {
        List<(int Pin, PinEventTypes Edge, PinChangeEventHandler Handler)> due = [];
        lock (gate)
        {
            foreach (var pin in values.Keys.ToList())
            {
                var now = Level(pin);
                if (now == values[pin])
                {
                    continue;
                }
                values[pin] = now;
                var edge = now == PinValue.Low ? PinEventTypes.Falling : PinEventTypes.Rising;
                if (callbacks.TryGetValue(pin, out var callback) && callback.Types.HasFlag(edge))
                {
                    due.Add((pin, edge, callback.Handler));
                }
            }
        }
        foreach (var (pin, edge, handler) in due)
        {
            handler(this, new PinValueChangedEventArgs(edge, pin));
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var watcher in watchers)
            {
                watcher.Dispose();
            }
            stop.Cancel();
            poller.Join();
            stop.Dispose();
            written.Dispose();
        }
        base.Dispose(disposing);
    }
}
