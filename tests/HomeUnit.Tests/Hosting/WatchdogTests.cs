using System.Net.Sockets;
using System.Text;
using HomeUnit.Agent.Hosting;
using HomeUnit.TestSupport;
using HomeUnit.Tests.Infrastructure;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging.Abstractions;

namespace HomeUnit.Tests.Hosting;

/// <summary>systemd's watchdog is fed (through the library's notifier) only while every main loop turns, so a stuck loop becomes a restart.</summary>
public sealed class WatchdogTests : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private readonly TempDirectory directory = new();
    private readonly Socket systemd = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);

    public WatchdogTests() => systemd.Bind(new UnixDomainSocketEndPoint(directory.Combine("notify")));

    private string? Receive(TimeSpan timeout)
    {
        systemd.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        var buffer = new byte[256];
        try
        {
            return Encoding.UTF8.GetString(buffer, 0, systemd.Receive(buffer));
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private void Drain()
    {
        while (systemd.Available > 0)
        {
            Receive(Interval);
        }
    }

    /// <summary>
    /// The library's own notifier, aimed at this test's socket. It reads <c>$NOTIFY_SOCKET</c> once, when
    /// made; outside systemd the host registers none, which is why the watchdog takes it as a parameter.
    /// </summary>
    private static SystemdNotifier LibraryNotifier(string socket)
    {
        lock (typeof(WatchdogTests))
        {
            var before = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
            Environment.SetEnvironmentVariable("NOTIFY_SOCKET", socket);
            try
            {
                return new SystemdNotifier();
            }
            finally
            {
                Environment.SetEnvironmentVariable("NOTIFY_SOCKET", before);
            }
        }
    }

    [Theory]
    [InlineData(false, true)]  // not under systemd: the host registers no notifier
    [InlineData(true, false)]  // under systemd, but the unit sets no WatchdogSec
    public async Task Without_a_watchdog_to_feed_the_watchdog_sends_nothing(bool notifier, bool watched)
    {
        var heartbeats = new LoopHeartbeats();
        heartbeats.Beat("health");
        var service = new SystemdWatchdog(notifier ? LibraryNotifier(directory.Combine("notify")) : null, watched ? Interval : null,
            heartbeats, NullLogger<SystemdWatchdog>.Instance);
        await service.StartAsync(CancellationToken.None);
        try
        {
            await service.ExecuteTask!.WaitAsync(Eventually.DefaultTimeout); // returned at once: nothing to feed
            Assert.Equal(0, systemd.Available); // and with it ended, nothing more can come
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_loop_that_ended_on_purpose_no_longer_starves_the_watchdog()
    {
        var heartbeats = new LoopHeartbeats();
        heartbeats.Beat("drain");
        await Eventually.True(() => heartbeats.Stale(Interval * 2).Contains("drain"), "the drain's last beat to be stale");
        heartbeats.Forget("drain"); // its connection ended: it is not stuck, it is gone
        using var beating = new CancellationTokenSource();
        var loop = Task.Run(async () =>
        {
            while (!beating.IsCancellationRequested)
            {
                heartbeats.Beat("health");
                await Task.Delay(20);
            }
        });
        var service = new SystemdWatchdog(LibraryNotifier(directory.Combine("notify")), Interval, heartbeats, NullLogger<SystemdWatchdog>.Instance);
        await service.StartAsync(CancellationToken.None);
        try
        {
            Assert.Equal("WATCHDOG=1", Receive(TimeSpan.FromSeconds(10)));
        }
        finally
        {
            await beating.CancelAsync();
            await loop;
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task The_watchdog_is_fed_while_the_loops_turn_and_starved_while_one_is_stuck()
    {
        var heartbeats = new LoopHeartbeats();
        using var beating = new CancellationTokenSource();
        var paused = false;
        var loop = Task.Run(async () =>
        {
            while (!beating.IsCancellationRequested)
            {
                if (!Volatile.Read(ref paused))
                {
                    heartbeats.Beat("health");
                }
                await Task.Delay(20);
            }
        });
        var service = new SystemdWatchdog(LibraryNotifier(directory.Combine("notify")), Interval, heartbeats, NullLogger<SystemdWatchdog>.Instance);
        await service.StartAsync(CancellationToken.None);
        try
        {
            Assert.Equal("WATCHDOG=1", Receive(TimeSpan.FromSeconds(10)));

            Volatile.Write(ref paused, true); // the loop is stuck from now on
            await Eventually.True(() => heartbeats.Stale(Interval * 2).Count > 0, "the loop to be seen as stuck");
            Receive(Interval); // a feed decided just before the loop went stale may still be on its way
            Drain();
            Assert.Null(Receive(Interval * 10)); // then ten intervals without a single feed

            Volatile.Write(ref paused, false);
            Assert.Equal("WATCHDOG=1", Receive(TimeSpan.FromSeconds(10)));
        }
        finally
        {
            await beating.CancelAsync();
            await loop;
            await service.StopAsync(CancellationToken.None);
        }
    }

    public void Dispose()
    {
        systemd.Dispose();
        directory.Dispose();
    }
}
