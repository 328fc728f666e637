using System.Runtime.InteropServices;

namespace HomeUnit.Agent.Hosting;

/// <summary>
/// The device's private key (<c>Mqtt:KeyFile</c>) must be readable by the service's user only: owned by it or
/// by root, no access for other accounts, and group access only for the service's own group (as
/// <c>homeunit provision</c> installs it: root:homeunit 0640). Anything wider stops the agent at start.
/// </summary>
public static partial class DeviceKeyFile
{
    private const int AtFdCwd = -100;
    private const uint StatxBasicStats = 0x7ff;
    private const int StatxSize = 256;
    private const int UidOffset = 20;
    private const int GidOffset = 24;
    private const int ModeOffset = 28;

    /// <summary>"Mqtt:KeyFile: what is wrong", or null when only the service's user can read the key.</summary>
    public static string? Problem(string path)
    {
        Span<byte> statx = stackalloc byte[StatxSize];
        if (Statx(AtFdCwd, path, 0, StatxBasicStats, statx) != 0)
        {
            return $"Mqtt:KeyFile: cannot read the permissions of {path} (errno {Marshal.GetLastPInvokeError()})";
        }
        var uid = BitConverter.ToUInt32(statx[UidOffset..]);
        var gid = BitConverter.ToUInt32(statx[GidOffset..]);
        var mode = (UnixFileMode)(BitConverter.ToUInt16(statx[ModeOffset..]) & 0xfff);
        return Problem(path, mode, uid, gid, GetEuid(), GetEgid());
    }

    /// <summary>The rule itself, for a file of <paramref name="mode"/>, <paramref name="uid"/> and <paramref name="gid"/> read by the service's <paramref name="user"/> and <paramref name="group"/>.</summary>
    public static string? Problem(string path, UnixFileMode mode, uint uid, uint gid, uint user, uint group)
    {
        string? wrong = null;
        if ((mode & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
        {
            wrong = "other accounts can read or write it";
        }
        else if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite)) != 0 && gid != group)
        {
            wrong = $"its group is not the service's group (gid {group}), so other accounts can read it";
        }
        else if (uid != user && uid != 0)
        {
            wrong = $"it belongs to another account than the service's (uid {user})";
        }
        else if (uid != user && (mode & UnixFileMode.GroupRead) == 0)
        {
            // root's own key: the service reads it only through its group.
            wrong = "it belongs to root and the service's group may not read it, so the service cannot either";
        }
        return wrong is null ? null
            : $"Mqtt:KeyFile: the device key must be readable only by the service's user, but {path} has mode "
              + $"{Convert.ToString((int)mode, 8).PadLeft(4, '0')}, owner uid {uid}, group gid {gid}: {wrong} (chmod 600, or 640 with the service's group)";
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, Span<byte> buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    private static partial uint GetEgid();
}
