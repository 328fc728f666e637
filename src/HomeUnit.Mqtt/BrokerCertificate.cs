using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace HomeUnit.Mqtt;

/// <summary>The unit's one rule for the broker's certificate, for the link and for <c>homeunit provision check</c>.</summary>
public static class BrokerCertificate
{
    /// <summary>
    /// Why the broker's <paramref name="certificate"/> is not trusted, or null: it must name <paramref name="host"/>
    /// and chain to <paramref name="authority"/> (Mqtt:CaFile) alone, through any intermediate CAs the broker sent
    /// (<paramref name="sent"/>).
    /// </summary>
    public static string? Problem(X509Certificate? certificate, X509Chain? sent, SslPolicyErrors errors, X509Certificate2Collection authority, string host)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return "the broker sent no certificate";
        }
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return $"the broker's certificate does not name {host}";
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        foreach (var element in sent?.ChainElements ?? Enumerable.Empty<X509ChainElement>())
        {
            chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        }
        using var presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(presented)
            ? null
            : $"the broker's certificate is not signed by the CA in Mqtt:CaFile ({string.Join(", ", chain.ChainStatus.Select(s => s.Status).Distinct())})";
    }
}
