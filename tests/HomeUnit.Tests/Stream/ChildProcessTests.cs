using HomeUnit.TestSupport;
using HomeUnit.Drivers.Camera;
using HomeUnit.Tests.Infrastructure;

namespace HomeUnit.Tests.Stream;

/// <summary>Stopping a capture process: SIGTERM first, SIGKILL after a second, and return only once it is gone.</summary>
public sealed class ChildProcessTests
{
    [Fact]
    public async Task Stop_ends_a_process_with_SIGTERM()
    {
        using var child = await ChildProcess.StartAsync("/usr/bin/setpriv", "/bin/sleep", ["600"]);

        await child.StopAsync();

        Assert.Equal(128 + 15, await child.Exited);
        Assert.False(AgentProcess.IsAlive(child.Id));
    }

    [Fact]
    public async Task Stop_kills_a_process_that_ignores_SIGTERM()
    {
        // An ignored signal stays ignored across exec, so this sleep cannot be stopped with SIGTERM.
        using var child = await ChildProcess.StartAsync("/usr/bin/setpriv", "/bin/sh", ["-c", "trap '' TERM; exec sleep 600"]);
        await Eventually.True(() => File.ReadAllText($"/proc/{child.Id}/comm").Trim() == "sleep", "the shell to become sleep");

        await child.StopAsync();

        Assert.Equal(128 + 9, await child.Exited);
        Assert.False(AgentProcess.IsAlive(child.Id));
    }
}
