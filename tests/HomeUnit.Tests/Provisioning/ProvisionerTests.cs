using System.Text.Json.Nodes;
using HomeUnit.Central;
using HomeUnit.Agent.Provisioning;
using HomeUnit.TestSupport;
using HomeUnit.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace HomeUnit.Tests.Provisioning;

/// <summary>An installer's set-up is checked whole before anything is written, and never shows key material.</summary>
public sealed class ProvisionerTests : IDisposable
{
    private readonly TempDirectory directory = new();
    private readonly LocalCertificates pki;
    private readonly string trustKey;

    public ProvisionerTests()
    {
        pki = new LocalCertificates(directory.Combine("pki"));
        trustKey = directory.Combine("central-1.pem");
        File.WriteAllText(trustKey, CentralSigner.CreateKeyPair().PublicPem);
    }

    private ProvisionRequest Request(string deviceId = "hu-0042", PemPair? pair = null, string? ca = null, string? trust = null)
    {
        pair ??= pki.Client("hu-0042");
        return new ProvisionRequest(deviceId, "mqtt.central.example", 8883, ca ?? pki.CaFile, pair.CertFile, pair.KeyFile, [trust ?? trustKey], "v4l2");
    }

    [Fact]
    public void A_matching_set_is_written_with_the_private_key_readable_only_by_its_owner()
    {
        Assert.Empty(Provisioner.Check(Request()));

        var written = Provisioner.Apply(Request(), directory.Combine("etc"));

        var config = JsonNode.Parse(File.ReadAllText(directory.Combine("etc", "homeunit.json")))!;
        Assert.Equal("hu-0042", (string?)config["DeviceId"]);
        Assert.Equal(8883, (int?)config["Mqtt"]!["Port"]);
        // Readable by the service's group (root:homeunit 0640 on a unit), by no other account.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(directory.Combine("etc", "tls", "device.key")));
        Assert.True(File.Exists(directory.Combine("etc", "trust", "central-1.pem")));
        Assert.Equal(5, written.Count); // CA, certificate, key, one trust key, the configuration
    }

    [Fact]
    public void A_standby_central_is_written_as_a_trusted_central_with_its_own_keys_and_the_agent_accepts_the_result()
    {
        var standbyKey = directory.Combine("supplier-1.pem");
        File.WriteAllText(standbyKey, CentralSigner.CreateKeyPair().PublicPem);
        var request = Request() with { Issuer = "kalix-larm", Standbys = [new StandbyCentral("supplier", [standbyKey])] };
        Assert.Empty(Provisioner.Check(request));

        Provisioner.Apply(request, directory.Combine("etc"));

        var file = directory.Combine("etc", "homeunit.json");
        var centrals = JsonNode.Parse(File.ReadAllText(file))!["Trust"]!["Centrals"]!.AsArray();
        Assert.Equal(["kalix-larm/primary/central-1", "supplier/standby/supplier-1"],
            centrals.Select(c => $"{c!["Issuer"]}/{c["Role"]}/{string.Join(",", c["Keys"]!.AsArray().Select(k => (string?)k))}"));
        var (configuration, _) = HomeUnit.Agent.Hosting.AgentHost.Load(new HomeUnit.Agent.Hosting.ConfigurationSources(file, [], Simulate: false));
        var keys = configuration!.GetSection("Trust").Get<HomeUnit.Agent.Hosting.TrustOptions>()!.LoadKeys();
        Assert.Equal(["kalix-larm", "supplier"], keys.Centrals.Select(c => c.Issuer));
        Assert.Equal("supplier", keys.Find("supplier-1")!.Central.Issuer);
    }

    [Fact]
    public void A_second_broker_is_written_after_the_first_in_order()
    {
        var request = Request() with { SecondBrokers = [("mqtt-b.supplier.example", 18883)] };
        Assert.Empty(Provisioner.Check(request));

        Provisioner.Apply(request, directory.Combine("etc"));

        var mqtt = JsonNode.Parse(File.ReadAllText(directory.Combine("etc", "homeunit.json")))!["Mqtt"]!;
        Assert.Equal(["mqtt.central.example:8883", "mqtt-b.supplier.example:18883"], mqtt["Brokers"]!.AsArray().Select(b => (string?)b));
    }

    [Fact]
    public void A_standby_reusing_the_primary_key_or_issuer_is_refused()
    {
        var request = Request() with { Standbys = [new StandbyCentral(HomeUnit.Protocol.CentralDefaults.Issuer, [trustKey])] };

        var problems = Provisioner.Check(request);

        Assert.Contains(problems, p => p.Contains("is not a new issuer"));
        Assert.Contains(problems, p => p.Contains("central-1.pem is named twice"));
    }

    [Fact]
    public void A_certificate_for_another_unit_is_refused()
    {
        Assert.Contains(Provisioner.Check(Request(pair: pki.Client("hu-0099"))), p => p.Contains("its CN is 'hu-0099'"));
    }

    [Fact]
    public void A_certificate_from_another_ca_is_refused()
    {
        Assert.Contains(Provisioner.Check(Request(pair: pki.Client("hu-0042", fromOtherCa: true))), p => p.Contains("not issued under this CA"));
    }

    [Fact]
    public void A_key_that_does_not_belong_to_the_certificate_is_refused_without_showing_it()
    {
        var mismatched = new PemPair(pki.Client("hu-0042").CertFile, pki.Client("other").KeyFile);
        var problem = Assert.Single(Provisioner.Check(Request(pair: mismatched)));
        Assert.Contains("do not belong together", problem);
        Assert.DoesNotContain("PRIVATE KEY", problem);
    }

    [Fact]
    public void A_private_key_offered_as_a_trust_key_or_a_misnamed_one_is_refused()
    {
        var misnamed = directory.Combine("central.txt");
        File.WriteAllText(misnamed, File.ReadAllText(trustKey));
        Assert.Contains(Provisioner.Check(Request(trust: misnamed)), p => p.Contains("<kid>.pem"));
        var junk = directory.Combine("junk.pem");
        File.WriteAllText(junk, "not a key");
        Assert.Contains(Provisioner.Check(Request(trust: junk)), p => p.Contains("not an EC public key"));
    }

    [Fact]
    public void A_bad_device_id_or_missing_file_is_refused_and_nothing_is_written()
    {
        var problems = Provisioner.Check(Request(deviceId: "hu/#") with { CaFile = directory.Combine("none.pem") });
        Assert.Contains(problems, p => p.StartsWith("--device-id"));
        Assert.Contains(problems, p => p.StartsWith("--ca"));
        Assert.False(Directory.Exists(directory.Combine("etc")));
    }

    public void Dispose() => directory.Dispose();
}
