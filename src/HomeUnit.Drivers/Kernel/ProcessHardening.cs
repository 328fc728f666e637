using System.Runtime.InteropServices;

namespace HomeUnit.Drivers.Kernel;

/// <summary>
/// What a process that holds a stream passphrase, or runs the capture, leaves behind when it crashes or
/// starts a child: no core file, no attach point, no inherited descriptor.
/// </summary>
public static partial class ProcessHardening
{
    private const int RlimitCore = 4;
    private const int PrSetDumpable = 4;
    private const int FGetFd = 1;
    private const int FSetFd = 2;
    private const int FdCloexec = 1;

    /// <summary>
    /// RLIMIT_CORE 0 for this process and every child it starts from now on (the limit is inherited), so a
    /// crashing ffmpeg writes no core file (systemd-coredump honours the limit too). Only the soft limit: the
    /// hard one is the host's to lower (the agent does, <see cref="NoCoreFilesNorAttach"/>).
    /// </summary>
    public static void NoCoreFiles() => SetCoreLimit(0, GetCoreLimit().Maximum);

    /// <summary>
    /// The agent's own hardening: RLIMIT_CORE 0, soft and hard (it cannot be raised again), and
    /// PR_SET_DUMPABLE 0: no core even where a core handler ignores limits, and no ptrace attach or
    /// /proc/PID/mem read by other processes of the same user. exec resets "dumpable", which is why children
    /// rely on the limit.
    /// </summary>
    public static void NoCoreFilesNorAttach()
    {
        SetCoreLimit(0, 0);
        if (Prctl(PrSetDumpable, 0, 0, 0, 0) != 0)
        {
            throw new InvalidOperationException($"prctl(PR_SET_DUMPABLE, 0) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>
    /// Marks every descriptor above stderr close-on-exec. .NET opens its own that way; this catches those the
    /// process inherited or a native library opened, so a child gets only the pipes it is given.
    /// </summary>
    public static void CloseDescriptorsOnExec()
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(entry), out var fd) && fd > 2 && Fcntl(fd, FGetFd, 0) is var flags and >= 0 && (flags & FdCloexec) == 0)
            {
                _ = Fcntl(fd, FSetFd, flags | FdCloexec);
            }
        }
    }

    private static Rlimit GetCoreLimit() =>
        GetRlimit(RlimitCore, out var limit) == 0 ? limit
            : throw new InvalidOperationException($"getrlimit(RLIMIT_CORE) failed: errno {Marshal.GetLastPInvokeError()}");

    private static void SetCoreLimit(ulong current, ulong maximum)
    {
        var limit = new Rlimit(current, maximum);
        if (SetRlimit(RlimitCore, in limit) != 0)
        {
            throw new InvalidOperationException($"setrlimit(RLIMIT_CORE, {current}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct Rlimit(ulong Current, ulong Maximum);

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRlimit(int resource, out Rlimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRlimit(int resource, in Rlimit limit);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);
}
