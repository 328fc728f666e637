using System.Text.RegularExpressions;

namespace HomeUnit.Tests.Infrastructure;

/// <summary>
/// The log of <c>strace -f</c> (one syscall a line, prefixed by the thread id): which processes descend from a
/// program's execve, and every call by which they could have put bytes into a file or changed the filesystem.
/// </summary>
public sealed partial class StraceLog
{
    // Calls that change the filesystem without an open-for-writing.
    private static readonly HashSet<string> Mutating =
    [
        "creat", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "mkdir", "mkdirat",
        "mknod", "mknodat", "truncate", "unlink", "unlinkat", "rmdir",
    ];

    private readonly List<(int Pid, string Text)> lines;

    private StraceLog(List<(int Pid, string Text)> lines)
    {
        this.lines = lines;
    }

    /// <summary>The strace arguments that produce a log this class reads.</summary>
    public static string[] Command(string logPath) =>
        ["/usr/bin/strace", "-f", "-qq", "-s", "512", "-o", logPath, "-e", "trace=%file,openat2,%process", "--"];

    public static StraceLog Read(string path) => new(
        [.. File.ReadLines(path).Select(l => LinePattern().Match(l)).Where(m => m.Success)
            .Select(m => (int.Parse(m.Groups["pid"].Value), m.Groups["text"].Value))]);

    /// <summary>Every thread and process that execve'd a program matching <paramref name="program"/>, and all their descendants.</summary>
    public IReadOnlySet<int> TreeOf(Func<string, bool> program)
    {
        var tree = lines.Where(l => ExecPattern().Match(l.Text) is { Success: true } m && program(m.Groups["path"].Value))
            .Select(l => l.Pid).ToHashSet();
        var children = lines.Select(l => (l.Pid, Match: ClonePattern().Match(l.Text))).Where(c => c.Match.Success)
            .Select(c => (Parent: c.Pid, Child: int.Parse(c.Match.Groups["child"].Value))).ToList();
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var (parent, child) in children)
            {
                grew |= tree.Contains(parent) && tree.Add(child);
            }
        }
        return tree;
    }

    /// <summary>Programs the given processes executed.</summary>
    public IEnumerable<string> Executed(IReadOnlySet<int> pids) =>
        lines.Where(l => pids.Contains(l.Pid)).Select(l => ExecPattern().Match(l.Text)).Where(m => m.Success).Select(m => m.Groups["path"].Value);

    /// <summary>Every open with write access (or create/truncate) and every filesystem-changing call by the given processes.</summary>
    public IEnumerable<string> Writes(IReadOnlySet<int> pids)
    {
        foreach (var (pid, text) in lines.Where(l => pids.Contains(l.Pid)))
        {
            var call = CallPattern().Match(text);
            if (!call.Success)
            {
                continue;
            }
            var name = call.Groups["name"].Value;
            if (Mutating.Contains(name) || (name is "open" or "openat" or "openat2" && WriteFlags().IsMatch(text)))
            {
                yield return $"{pid} {text}";
            }
        }
    }

    /// <summary>The signal that ended a process ("SIGKILL"), or null if it exited or is not in the log.</summary>
    public string? KilledBy(int pid) =>
        lines.Where(l => l.Pid == pid).Select(l => KilledPattern().Match(l.Text)).LastOrDefault(m => m.Success)?.Groups["signal"].Value;

    [GeneratedRegex(@"^(?<pid>\d+)\s+(?<text>.*)$")]
    private static partial Regex LinePattern();

    // The program named by an execve, whether or not the line was split by another thread's call.
    [GeneratedRegex(@"^execve\(""(?<path>[^""]*)""")]
    private static partial Regex ExecPattern();

    // A complete clone/fork line or the resumed half of one, returning the new thread's or process's id.
    [GeneratedRegex(@"^(?:<\.\.\. )?(?:clone3?|fork|vfork)\b.*\)\s+=\s+(?<child>\d+)")]
    private static partial Regex ClonePattern();

    [GeneratedRegex(@"^(?<name>\w+)\(")]
    private static partial Regex CallPattern();

    [GeneratedRegex(@"\b(O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND)\b")]
    private static partial Regex WriteFlags();

    [GeneratedRegex(@"^\+\+\+ killed by (?<signal>SIG\w+)")]
    private static partial Regex KilledPattern();
}
