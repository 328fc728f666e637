using System.Security.Cryptography;
using HomeUnit.Central;
using HomeUnit.Agent.Grants;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit;

namespace HomeUnit.Tests.Grants;

/// <summary>P8: trusted central keys, one PEM per kid, several at once for rotation.</summary>
public sealed class TrustedKeyTests
{
    [Fact]
    public async Task Grants_signed_by_either_key_are_accepted_during_a_rotation()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan());
        using var next = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        File.WriteAllText(Path.Combine(rig.KeysDirectory, "central-2.pem"), next.ExportSubjectPublicKeyInfoPem());
        rig.Restart();
        var nextSigner = new CentralSigner(next, "central-2", CentralSigner.DefaultIssuer);

        Assert.True((await rig.Authorizer.AuthorizeAsync(rig.Grant())).Accepted);
        Assert.True((await rig.Authorizer.AuthorizeAsync(nextSigner.Grant(rig.GrantSpec(), rig.Clock.GetUtcNow()))).Accepted);

        File.Delete(Path.Combine(rig.KeysDirectory, "central-1.pem"));
        rig.Restart();
        Assert.Equal(RefusalReason.UnknownKey, (await rig.Authorizer.AuthorizeAsync(rig.Grant())).Reason);
    }

    [Fact]
    public void Private_key_in_the_trust_directory_stops_the_agent_naming_the_file()
    {
        using var rig = new GrantRig();
        var (privatePem, _) = CentralSigner.CreateKeyPair();
        File.WriteAllText(Path.Combine(rig.KeysDirectory, "oops.pem"), privatePem);

        var error = Assert.Throws<InvalidDataException>(() => TrustedKeys.Load(rig.KeysDirectory));

        Assert.Contains("oops.pem", error.Message);
        Assert.DoesNotContain("BEGIN", error.Message);
    }

    [Fact]
    public void Key_of_another_curve_or_junk_stops_the_agent()
    {
        using var rig = new GrantRig();
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        File.WriteAllText(Path.Combine(rig.KeysDirectory, "p384.pem"), p384.ExportSubjectPublicKeyInfoPem());
        Assert.Contains("P-256", Assert.Throws<InvalidDataException>(() => TrustedKeys.Load(rig.KeysDirectory)).Message);

        File.WriteAllText(Path.Combine(rig.KeysDirectory, "p384.pem"), "hello");
        Assert.Contains("p384.pem", Assert.Throws<InvalidDataException>(() => TrustedKeys.Load(rig.KeysDirectory)).Message);
    }

    [Fact]
    public void Missing_directory_is_named()
    {
        Assert.Contains("Trust:KeysDirectory", Assert.Throws<InvalidDataException>(() => TrustedKeys.Load("/nonexistent/keys")).Message);
    }
}
