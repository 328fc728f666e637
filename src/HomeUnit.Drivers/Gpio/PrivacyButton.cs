using System.Device.Gpio;
using System.Diagnostics;

namespace HomeUnit.Drivers.Gpio;

/// <summary>
/// The resident's privacy button: a push button from a GPIO pin to ground with the pin's pull-up on,
/// so a press reads Low. Read through System.Device.Gpio (libgpiod on the Pi, the simulated driver
/// elsewhere). <see cref="Pressed"/> is raised once per press: an edge to pressed counts only when the
/// button had been still for <see cref="Debounce"/>, so contact bounce is not a second press.
/// </summary>
public sealed class PrivacyButton : IDisposable
{
    public static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(30);

    private readonly GpioController controller;
    private readonly int pin;
    private readonly HardwareTimeline timeline;
    private readonly object gate = new();
    private bool pressed;
    private long lastChange;

    public PrivacyButton(GpioController controller, int pin, HardwareTimeline timeline)
    {
        this.controller = controller;
        this.pin = pin;
        this.timeline = timeline;
        controller.OpenPin(pin, PinMode.InputPullUp);
        pressed = controller.Read(pin) == PinValue.Low;
        controller.RegisterCallbackForPinValueChangedEvent(pin, PinEventTypes.Falling | PinEventTypes.Rising, OnChanged);
    }

    /// <summary>Raised on the driver's thread; handlers hand the press on rather than act on it there.</summary>
    public event Action? Pressed;

    private void OnChanged(object sender, PinValueChangedEventArgs change)
    {
        var now = Stopwatch.GetTimestamp();
        bool press;
        lock (gate)
        {
            var isPressed = change.ChangeType == PinEventTypes.Falling;
            if (isPressed == pressed)
            {
                return;
            }
            press = isPressed && (lastChange == 0 || Stopwatch.GetElapsedTime(lastChange, now) >= Debounce);
            pressed = isPressed;
            lastChange = now;
        }
        timeline.Record(Parts.Button, change.ChangeType == PinEventTypes.Falling ? "pressed" : "released");
        if (press)
        {
            Pressed?.Invoke();
        }
    }

    public void Dispose()
    {
        controller.UnregisterCallbackForPinValueChangedEvent(pin, OnChanged);
        controller.Dispose();
    }
}
