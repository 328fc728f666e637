using System.Net.Sockets;
using System.Text;

namespace HomeUnit.Agent.Hosting;

/// <summary>
/// systemd's notify protocol, written by hand: one datagram to <c>$NOTIFY_SOCKET</c>
/// (READY=1, WATCHDOG=1, STOPPING=1). Does nothing when not started by systemd.
/// </summary>
public sealed class SdNotify(string? socketPath, TimeSpan? watchdogInterval)
{
    /// <summary>As systemd set it up: <c>$NOTIFY_SOCKET</c> and half of <c>$WATCHDOG_USEC</c>.</summary>
    public static SdNotify FromEnvironment() => new(
        Environment.GetEnvironmentVariable("NOTIFY_SOCKET"),
        long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), out var usec) && usec > 0
            ? TimeSpan.FromMicroseconds(usec / 2.0)
            : null);

    /// <summary>How often to feed the watchdog (half of <c>WatchdogSec</c>), or null when systemd does not watch.</summary>
    public TimeSpan? WatchdogInterval => watchdogInterval;

    public void Ready() => Send("READY=1");

    public void Watchdog() => Send("WATCHDOG=1");

    public void Stopping() => Send("STOPPING=1");

    private void Send(string message)
    {
        if (string.IsNullOrEmpty(socketPath))
        {
            return;
        }
        // An abstract socket is written with a leading '@'; the address starts with a NUL byte instead.
        var path = socketPath[0] == '@' ? "\0" + socketPath[1..] : socketPath;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.SendTo(Encoding.UTF8.GetBytes(message), new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            // systemd gone or socket closed: nothing to tell.
        }
    }
}
