using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using HomeUnit.Protocol;

namespace HomeUnit.Central;

/// <summary>What the grant issuer puts in a session grant (design §4).</summary>
public sealed record GrantSpec(
    string Device,
    string Operator,
    string Kind,
    string View,
    DateTimeOffset NotBefore,
    TimeSpan ValidFor,
    int MaxSeconds,
    StreamPayload Stream,
    string? Check = null,
    string? Jti = null);

/// <summary>
/// The central's signer: compact JWS with ES256 over P-256, header <c>kid</c> naming the key. The
/// reference tools, the tests and the benches all sign through here. It is written directly on
/// .NET's ECDsa (not the token library the device verifies with), so the two sides check each other.
/// </summary>
public sealed class CentralSigner(ECDsa key, string kid, string issuer)
{
    public const string DefaultIssuer = CentralDefaults.Issuer;

    public string Kid { get; } = kid;

    public string Issuer { get; } = issuer;

    /// <summary>A new P-256 key pair as PEM: the private key stays at the central, the public key goes to every device as <c>&lt;kid&gt;.pem</c>.</summary>
    public static (string PrivatePem, string PublicPem) CreateKeyPair()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return (key.ExportPkcs8PrivateKeyPem(), key.ExportSubjectPublicKeyInfoPem());
    }

    public string Grant(GrantSpec spec, DateTimeOffset issuedAt) => Sign(new GrantPayload(
        Issuer, spec.Device, spec.Operator, spec.Jti ?? Guid.NewGuid().ToString(),
        issuedAt.ToUnixTimeSeconds(), spec.NotBefore.ToUnixTimeSeconds(), (spec.NotBefore + spec.ValidFor).ToUnixTimeSeconds(),
        spec.Kind, spec.View, spec.MaxSeconds, spec.Stream, spec.Check));

    /// <summary>A command for <paramref name="device"/>, valid for <paramref name="validFor"/> from <paramref name="now"/>.</summary>
    public string Command(string device, string name, DateTimeOffset now, TimeSpan validFor, string? grant = null, string? view = null) =>
        Sign(new CommandPayload(Issuer, device, Guid.NewGuid().ToString(), now.ToUnixTimeSeconds(), now.ToUnixTimeSeconds(),
            (now + validFor).ToUnixTimeSeconds(), name, grant, view));

    /// <summary>A <c>handover</c> putting the central <paramref name="to"/> in charge (this one: taking back), until <paramref name="until"/> if given.</summary>
    public string Handover(string device, string to, DateTimeOffset now, TimeSpan validFor, DateTimeOffset? until = null) =>
        Sign(new CommandPayload(Issuer, device, Guid.NewGuid().ToString(), now.ToUnixTimeSeconds(), now.ToUnixTimeSeconds(),
            (now + validFor).ToUnixTimeSeconds(), CommandNames.Handover, To: to, Until: until?.ToUnixTimeSeconds()));

    /// <summary>Signs a payload record (its <c>iss</c> and <c>aud</c> are taken as they are).</summary>
    public string Sign<T>(T payload) => SignJson(JsonSerializer.Serialize(payload, TokenJson.Options));

    /// <summary>Signs any JSON text as the payload, exactly as given.</summary>
    public string SignJson(string payloadJson)
    {
        var header = JsonSerializer.Serialize(new { alg = "ES256", kid = Kid, typ = "JWT" });
        var signingInput = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header)) + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payloadJson));
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }
}
