using System.Diagnostics;

namespace HomeUnit.Tests.Infrastructure;

/// <summary>
/// Makes a file or directory unwritable even for root (chattr +i on ext4), as a read-only mount or a
/// wrong owner would make it for the agent's own user; undone on dispose.
/// </summary>
public sealed class Immutable : IDisposable
{
    private readonly string path;

    public Immutable(string path)
    {
        this.path = path;
        Chattr("+i");
    }

    private void Chattr(string flag)
    {
        using var chattr = Process.Start(new ProcessStartInfo("chattr", [flag, path]) { RedirectStandardError = true })!;
        chattr.WaitForExit();
        if (chattr.ExitCode != 0)
        {
            throw new InvalidOperationException($"chattr {flag} {path}: {chattr.StandardError.ReadToEnd()}");
        }
    }

    public void Dispose() => Chattr("-i");
}
