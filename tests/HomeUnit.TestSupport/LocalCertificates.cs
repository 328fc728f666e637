using System.Net;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace HomeUnit.TestSupport;

/// <summary>A certificate file and its private key file (PEM).</summary>
public sealed record PemPair(string CertFile, string KeyFile);

/// <summary>
/// A throw-away PKI made at test time, written as PEM files: the fleet CA (the broker's server
/// certificate for 127.0.0.1 and localhost, and units' certificates whose CN is the device id), the
/// central's CA (the central service's certificates), a revocation list for each, and a third,
/// unrelated CA that nothing trusts.
/// </summary>
public sealed class LocalCertificates
{
    private readonly string directory;
    private readonly X509Certificate2 ca;
    private readonly X509Certificate2 centralCa;
    private readonly X509Certificate2 otherCa;
    private readonly List<byte[]> revokedUnits = [];
    private long crlNumber;

    public LocalCertificates(string directory)
    {
        this.directory = directory;
        Directory.CreateDirectory(directory);
        ca = CreateCa("HomeUnit Test Fleet CA");
        centralCa = CreateCa("HomeUnit Test Central CA");
        otherCa = CreateCa("Unrelated CA");
        CaFile = WriteCertificate("ca.pem", ca);
        CentralCaFile = WriteCertificate("central-ca.pem", centralCa);
        OtherCaFile = WriteCertificate("other-ca.pem", otherCa);
        CrlFile = Path.Combine(directory, "crl.pem");
        CentralCrlFile = Path.Combine(directory, "central-crl.pem");
        WriteCrl(CrlFile, ca, []);
        WriteCrl(CentralCrlFile, centralCa, []);
        // As a municipality's PKI often does: the broker's certificate comes through an intermediate CA, which
        // the broker sends with it; units trust the fleet CA alone.
        using var brokerCa = CreateIntermediate(ca, "HomeUnit Test Broker CA");
        Server = Issue(brokerCa, "server", "CN=broker", serverAuth: true);
        File.AppendAllText(Server.CertFile, "\n" + brokerCa.ExportCertificatePem() + "\n");
    }

    /// <summary>The fleet CA: it signs the broker's certificate and every unit's.</summary>
    public string CaFile { get; }

    /// <summary>The central's CA: it signs only the central service's certificates.</summary>
    public string CentralCaFile { get; }

    /// <summary>The fleet CA's revocation list (units' certificates).</summary>
    public string CrlFile { get; }

    /// <summary>The central CA's revocation list (empty).</summary>
    public string CentralCrlFile { get; }

    public string OtherCaFile { get; }

    public PemPair Server { get; }

    /// <summary>A client certificate with CN = <paramref name="commonName"/>, signed by the fleet CA or by the unrelated one.</summary>
    public PemPair Client(string commonName, bool fromOtherCa = false) =>
        Issue(fromOtherCa ? otherCa : ca, fromOtherCa ? $"{commonName}-other" : commonName, $"CN={commonName}", serverAuth: false);

    /// <summary>A central-CA client certificate with CN = <paramref name="commonName"/>.</summary>
    public PemPair CentralClient(string commonName) =>
        Issue(centralCa, $"{commonName}-central", $"CN={commonName}", serverAuth: false);

    /// <summary>Adds a unit's certificate to the fleet CA's revocation list and rewrites <see cref="CrlFile"/>.</summary>
    public void Revoke(PemPair unit)
    {
        using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(unit.CertFile));
        lock (revokedUnits)
        {
            revokedUnits.Add(certificate.SerialNumberBytes.ToArray());
            WriteCrl(CrlFile, ca, revokedUnits);
        }
    }

    /// <summary>A fleet-CA client certificate without a CN: the broker has no username to give it.</summary>
    public PemPair ClientWithoutCommonName() => Issue(ca, "no-cn", "O=HomeUnit Test", serverAuth: false);

    private static X509Certificate2 CreateCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    private static X509Certificate2 CreateIntermediate(X509Certificate2 root, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(root, true, false));
        using var certificate = request.Create(root, root.NotBefore, root.NotAfter, RandomNumberGenerator.GetBytes(16));
        return certificate.CopyWithPrivateKey(key);
    }

    private PemPair Issue(X509Certificate2 issuer, string fileName, string subject, bool serverAuth)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        if (serverAuth)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }
        using var certificate = request.Create(issuer, issuer.NotBefore, issuer.NotAfter, RandomNumberGenerator.GetBytes(16));
        var keyFile = Path.Combine(directory, $"{fileName}.key");
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        // As provisioning installs a key: the agent refuses one that other accounts can read.
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return new PemPair(WriteCertificate($"{fileName}.pem", certificate), keyFile);
    }

    private void WriteCrl(string path, X509Certificate2 issuer, IEnumerable<byte[]> serials)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var serial in serials)
        {
            builder.AddEntry(serial, DateTimeOffset.UtcNow.AddMinutes(-1), X509RevocationReason.KeyCompromise);
        }
        var crl = builder.Build(issuer, BigInteger.One + Interlocked.Increment(ref crlNumber), issuer.NotAfter, HashAlgorithmName.SHA256);
        File.WriteAllText(path + ".new", PemEncoding.WriteString("X509 CRL", crl));
        File.Move(path + ".new", path, overwrite: true);
    }

    private string WriteCertificate(string fileName, X509Certificate2 certificate)
    {
        var path = Path.Combine(directory, fileName);
        File.WriteAllText(path, certificate.ExportCertificatePem());
        return path;
    }
}
