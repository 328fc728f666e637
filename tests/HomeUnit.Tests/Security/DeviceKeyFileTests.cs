using HomeUnit.Agent;
using HomeUnit.Agent.Hosting;
using HomeUnit.TestSupport;
using HomeUnit.Tests.Infrastructure;

namespace HomeUnit.Tests.Security;

/// <summary>The device key is refused at start when any account but the service's user can read it.</summary>
public sealed class DeviceKeyFileTests : IDisposable
{
    private const UnixFileMode Owner = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly TempDirectory directory = new();

    public void Dispose() => directory.Dispose();

    private string Key(UnixFileMode mode)
    {
        var path = directory.Combine("device.key");
        File.WriteAllText(path, "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n");
        File.SetUnixFileMode(path, mode);
        return path;
    }

    [Fact]
    public void A_key_only_its_owner_reads_or_shared_with_the_services_own_group_is_accepted()
    {
        Assert.Null(DeviceKeyFile.Problem(Key(Owner)));
        Assert.Null(DeviceKeyFile.Problem(Key(UnixFileMode.UserRead)));
        // The file's group is this process's group: as provisioning installs it (root:homeunit 0640).
        Assert.Null(DeviceKeyFile.Problem(Key(Owner | UnixFileMode.GroupRead)));
    }

    [Theory]
    [InlineData(UnixFileMode.OtherRead, "0604")]
    [InlineData(UnixFileMode.GroupRead | UnixFileMode.OtherRead, "0644")]
    [InlineData(UnixFileMode.OtherWrite, "0602")]
    public void A_key_other_accounts_can_read_or_write_is_refused_naming_the_file_and_its_mode(UnixFileMode extra, string mode)
    {
        var path = Key(Owner | extra);

        var problem = DeviceKeyFile.Problem(path);

        Assert.NotNull(problem);
        Assert.StartsWith("Mqtt:KeyFile: ", problem);
        Assert.Contains($"{path} has mode {mode}", problem, StringComparison.Ordinal);
        Assert.Contains("other accounts can read or write it", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_readable_by_a_group_that_is_not_the_services_or_owned_by_another_account_is_refused()
    {
        const UnixFileMode shared = Owner | UnixFileMode.GroupRead;

        var group = DeviceKeyFile.Problem("/k", shared, uid: 0, gid: 44, user: 998, group: 998);
        var owner = DeviceKeyFile.Problem("/k", Owner, uid: 1000, gid: 998, user: 998, group: 998);

        Assert.Equal("Mqtt:KeyFile: the device key must be readable only by the service's user, but /k has mode 0640, owner uid 0, group gid 44: "
            + "its group is not the service's group (gid 998), so other accounts can read it (chmod 600, or 640 with the service's group)", group);
        Assert.Contains("it belongs to another account than the service's (uid 998)", owner, StringComparison.Ordinal);
        Assert.Null(DeviceKeyFile.Problem("/k", shared, uid: 0, gid: 998, user: 998, group: 998));
        // root:homeunit 0600 passes no other account, but not the service either.
        Assert.Contains("the service cannot either", DeviceKeyFile.Problem("/k", Owner, uid: 0, gid: 998, user: 998, group: 998), StringComparison.Ordinal);
        Assert.Null(DeviceKeyFile.Problem("/k", Owner, uid: 0, gid: 0, user: 0, group: 0));
        Assert.Null(DeviceKeyFile.Problem("/k", Owner, uid: 998, gid: 4242, user: 998, group: 998));
    }

    [Fact]
    public async Task The_agent_with_a_world_readable_device_key_stops_before_touching_hardware_with_a_configuration_error()
    {
        var certificates = new LocalCertificates(directory.Combine("pki"));
        var unit = certificates.Client("unit-key");
        File.SetUnixFileMode(unit.KeyFile, Owner | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Directory.CreateDirectory(directory.Combine("root"));

        var (exitCode, text) = await AgentProcess.RunAsync([
            "run", "--set", "DeviceId=unit-key", "--set", $"Hardware:Root={directory.Combine("root")}", "--set", $"State:Directory={directory.Combine("state")}",
            "--set", $"Mqtt:CaFile={certificates.CaFile}", "--set", $"Mqtt:CertFile={unit.CertFile}", "--set", $"Mqtt:KeyFile={unit.KeyFile}",
        ]);

        Assert.Equal(Program.ExitBadConfiguration, exitCode);
        Assert.Contains($"homeunit: configuration: Mqtt:KeyFile: the device key must be readable only by the service's user, but {unit.KeyFile} has mode 0644", text, StringComparison.Ordinal);
        Assert.False(Directory.Exists(directory.Combine("state")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(directory.Combine("root")));
    }
}
