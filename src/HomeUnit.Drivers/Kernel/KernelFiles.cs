namespace HomeUnit.Drivers.Kernel;

/// <summary>
/// The kernel's attribute files (sysfs, /dev, /run) under a root: "/" on a Pi, a temporary tree in
/// simulation and tests. Every driver reads and writes through here so that a test can observe the
/// exact order of writes while the real files are still written.
/// </summary>
public sealed class KernelFiles(string root)
{
    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>Raised after each successful write, with the path relative to the root.</summary>
    public event Action<string, string>? Written;

    public string PathOf(string relative) => Path.Combine(Root, relative.TrimStart('/'));

    public bool Exists(string relative) => File.Exists(PathOf(relative)) || Directory.Exists(PathOf(relative));

    public string Read(string relative)
    {
        try
        {
            return File.ReadAllText(PathOf(relative)).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HardwareFault($"cannot read {relative}: {e.Message}", e);
        }
    }

    public long ReadNumber(string relative)
    {
        var text = Read(relative);
        return long.TryParse(text, out var value)
            ? value
            : throw new HardwareFault($"{relative} holds '{Printable(text)}', not a number");
    }

    public void Write(string relative, string value)
    {
        try
        {
            // sysfs takes one write per open; a regular file in a simulated tree is replaced whole.
            using var stream = new FileStream(PathOf(relative), FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite);
            var bytes = System.Text.Encoding.ASCII.GetBytes(value);
            stream.Write(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HardwareFault($"cannot write {relative}: {e.Message}", e);
        }
        Written?.Invoke(relative, value);
    }

    public bool IsWritable(string relative)
    {
        try
        {
            using var stream = new FileStream(PathOf(relative), FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Where a sysfs link such as <c>pwmchip0/device</c> points, or null.</summary>
    public string? LinkTarget(string relative)
    {
        try
        {
            var info = new FileInfo(PathOf(relative));
            return info.LinkTarget ?? new DirectoryInfo(PathOf(relative)).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HardwareFault($"cannot read the link {relative}: {e.Message}", e);
        }
    }

    public IReadOnlyList<string> Children(string relativeDirectory)
    {
        var full = PathOf(relativeDirectory);
        try
        {
            return Directory.Exists(full)
                ? [.. Directory.EnumerateFileSystemEntries(full).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)]
                : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HardwareFault($"cannot list {relativeDirectory}: {e.Message}", e);
        }
    }

    internal static string Printable(string text) =>
        new(text.Take(40).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}

/// <summary>A part of the hardware does not answer as it must.</summary>
public sealed class HardwareFault(string message, Exception? inner = null) : Exception(message, inner);
