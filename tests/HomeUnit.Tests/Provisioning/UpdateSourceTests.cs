using HomeUnit.Agent.Provisioning;
using HomeUnit.Tests.Infrastructure;

namespace HomeUnit.Tests.Provisioning;

/// <summary>The unit trusts the operator's repository key for that repository only, and nothing wrong is written.</summary>
public sealed class UpdateSourceTests : IDisposable
{
    private const string PublicKey = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ0000000\n-----END PGP PUBLIC KEY BLOCK-----\n";
    private readonly TempDirectory directory = new();

    private string KeyFile(string text)
    {
        var file = directory.Combine("key.asc");
        File.WriteAllText(file, text);
        return file;
    }

    [Fact]
    public void The_source_line_trusts_only_the_operators_key()
    {
        var key = KeyFile(PublicKey);
        Assert.Empty(UpdateSource.Check("https://updates.central.example/homeunit", "stable", key));

        UpdateSource.Apply("https://updates.central.example/homeunit", "stable", key, directory.Combine("root"));

        var list = File.ReadAllText(directory.Combine("root", "etc", "apt", "sources.list.d", "homeunit.list"));
        Assert.Contains("deb [signed-by=/etc/apt/keyrings/homeunit-archive.asc] https://updates.central.example/homeunit stable main", list);
        Assert.Equal(PublicKey, File.ReadAllText(directory.Combine("root", "etc", "apt", "keyrings", "homeunit-archive.asc")));
    }

    [Fact]
    public void A_local_repository_is_accepted()
    {
        Assert.Empty(UpdateSource.Check("file:/srv/homeunit", "staging", KeyFile(PublicKey)));
    }

    [Fact]
    public void A_private_key_is_refused_and_not_copied()
    {
        var key = KeyFile("-----BEGIN PGP PRIVATE KEY BLOCK-----\nsecret\n-----END PGP PRIVATE KEY BLOCK-----\n");

        var problems = UpdateSource.Check("https://updates.central.example/homeunit", "stable", key);

        Assert.Contains(problems, p => p.Contains("holds a private key") && !p.Contains("secret"));
    }

    [Theory]
    [InlineData("ftp://updates.example/homeunit", "stable", "--repository")]
    [InlineData("https://updates.example/x] trusted=yes [", "stable", "--repository")]
    [InlineData("https://updates.example/homeunit", "Stable main", "--suite")]
    public void A_bad_repository_or_suite_is_refused(string repository, string suite, string option)
    {
        Assert.Contains(UpdateSource.Check(repository, suite, KeyFile(PublicKey)), p => p.StartsWith(option, StringComparison.Ordinal));
    }

    [Fact]
    public void A_file_that_is_no_key_is_refused()
    {
        Assert.Contains(UpdateSource.Check("https://updates.example/homeunit", "stable", KeyFile("hello")), p => p.Contains("not an armored OpenPGP public key"));
    }

    public void Dispose() => directory.Dispose();
}
