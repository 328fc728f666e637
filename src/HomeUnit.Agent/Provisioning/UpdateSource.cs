using System.Text.RegularExpressions;

namespace HomeUnit.Agent.Provisioning;

/// <summary>
/// The operator's signed apt repository as this unit's update source (docs/updates.md): its public key
/// in apt's keyring directory and one source line that trusts only that key (<c>signed-by</c>), so
/// apt takes from this repository nothing that key did not sign, and that key vouches for nothing else.
/// Checks everything first and changes nothing when anything is wrong.
/// </summary>
public static partial class UpdateSource
{
    public const string ListFile = "/etc/apt/sources.list.d/homeunit.list";
    public const string KeyFile = "/etc/apt/keyrings/homeunit-archive.asc";

    public static IReadOnlyList<string> Check(string repository, string suite, string keyFile)
    {
        var problems = new List<string>();
        var web = repository.StartsWith("https://", StringComparison.Ordinal) || repository.StartsWith("http://", StringComparison.Ordinal);
        var local = repository.StartsWith("file:/", StringComparison.Ordinal);
        if (!(web ? Uri.TryCreate(repository, UriKind.Absolute, out _) : local) || repository.Any(c => char.IsWhiteSpace(c) || c is ']' or '['))
        {
            problems.Add($"--repository: '{repository}' is not an https://, http:// or file: address");
        }
        if (!SuitePattern().IsMatch(suite))
        {
            problems.Add($"--suite: '{suite}' may hold only lower-case letters, digits, '.' and '-'");
        }
        if (!File.Exists(keyFile))
        {
            problems.Add($"--key: {keyFile} does not exist");
        }
        else
        {
            var text = File.ReadAllText(keyFile);
            if (text.Contains("PRIVATE KEY BLOCK", StringComparison.Ordinal))
            {
                problems.Add($"--key: {keyFile} holds a private key; give the repository's public key (gpg --armor --export)");
            }
            else if (!text.Contains("-----BEGIN PGP PUBLIC KEY BLOCK-----", StringComparison.Ordinal))
            {
                problems.Add($"--key: {keyFile} is not an armored OpenPGP public key (gpg --armor --export)");
            }
        }
        return problems;
    }

    /// <summary>Writes the key and the source line under <paramref name="root"/>; returns the files written.</summary>
    public static IReadOnlyList<string> Apply(string repository, string suite, string keyFile, string root = "/")
    {
        var key = Path.Join(root, KeyFile);
        var list = Path.Join(root, ListFile);
        Directory.CreateDirectory(Path.GetDirectoryName(key)!);
        Directory.CreateDirectory(Path.GetDirectoryName(list)!);
        // Readable by everyone: apt verifies signatures as its unprivileged _apt account.
        const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        File.Copy(keyFile, key, overwrite: true);
        File.SetUnixFileMode(key, Readable);
        File.WriteAllText(list,
            "# The operator's signed HomeUnit repository (homeunit provision updates); only its key is trusted for it.\n" +
            $"deb [signed-by={KeyFile}] {repository} {suite} main\n");
        File.SetUnixFileMode(list, Readable);
        return [key, list];
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{0,63}$")]
    private static partial Regex SuitePattern();
}
