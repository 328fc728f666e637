using System.Security.Cryptography;
using HomeUnit.Protocol;
using Microsoft.IdentityModel.Tokens;

namespace HomeUnit.Agent.Grants;

/// <summary>A central this unit trusts: its <c>iss</c>, its role, and the ids of its keys.</summary>
public sealed record TrustedCentral(string Issuer, string Role, IReadOnlyList<string> Kids)
{
    public bool IsPrimary => Role == CentralRoles.Primary;
}

/// <summary>A trusted public key and the one central it speaks for.</summary>
public sealed record TrustedKey(ECDsaSecurityKey Key, TrustedCentral Central);

/// <summary>
/// The centrals' public keys this device trusts, one PEM file per key named <c>&lt;kid&gt;.pem</c>
/// in <c>Trust:KeysDirectory</c>. Each key belongs to exactly one central, so a key of one central
/// never verifies another's tokens. A central may have several keys at once, so it can rotate them.
/// Only P-256 EC keys are accepted; a file that is not one stops the agent at start.
/// </summary>
public sealed class TrustedKeys
{
    private readonly Dictionary<string, TrustedKey> keys;

    private TrustedKeys(Dictionary<string, TrustedKey> keys, IReadOnlyList<TrustedCentral> centrals)
    {
        this.keys = keys;
        Centrals = centrals;
    }

    /// <summary>Every trusted central, the primary first.</summary>
    public IReadOnlyList<TrustedCentral> Centrals { get; }

    public TrustedCentral Primary => Centrals[0];

    /// <summary>The central with this <c>iss</c>, or null.</summary>
    public TrustedCentral? Central(string issuer) => Centrals.FirstOrDefault(c => c.Issuer == issuer);

    /// <summary>The key named <paramref name="kid"/>, or null: an unknown kid is never tried against the other keys.</summary>
    public TrustedKey? Find(string kid) => keys.GetValueOrDefault(kid);

    /// <summary>One primary central, <paramref name="issuer"/>, holding every <c>*.pem</c> in <paramref name="directory"/> (a unit configured with <c>Trust:Issuer</c>).</summary>
    /// <exception cref="InvalidDataException">The directory is missing or a file is not a P-256 public key (the message names it).</exception>
    public static TrustedKeys Load(string directory, string issuer = CentralDefaults.Issuer)
    {
        RequireDirectory(directory);
        var kids = Directory.EnumerateFiles(directory, "*.pem").Order(StringComparer.Ordinal).Select(Path.GetFileNameWithoutExtension).ToList();
        return Load(directory, [new TrustedCentral(issuer, CentralRoles.Primary, kids!)]);
    }

    /// <summary>The keys each central names, read from <c>&lt;kid&gt;.pem</c> in <paramref name="directory"/>; files no central names are not trusted.</summary>
    /// <exception cref="InvalidDataException">The directory or a named key file is missing or not a P-256 public key (the message names it).</exception>
    public static TrustedKeys Load(string directory, IReadOnlyList<TrustedCentral> centrals)
    {
        RequireDirectory(directory);
        var keys = new Dictionary<string, TrustedKey>(StringComparer.Ordinal);
        foreach (var central in centrals)
        {
            foreach (var kid in central.Kids)
            {
                var file = Path.Combine(directory, kid + ".pem");
                if (!File.Exists(file))
                {
                    throw new InvalidDataException($"Trust:Centrals: key '{kid}' of {central.Issuer} has no file {file}");
                }
                keys[kid] = new TrustedKey(new ECDsaSecurityKey(ReadPublicKey(file)) { KeyId = kid }, central);
            }
        }
        return new TrustedKeys(keys, [.. centrals.OrderBy(c => c.IsPrimary ? 0 : 1)]);
    }

    private static void RequireDirectory(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new InvalidDataException($"Trust:KeysDirectory '{directory}' does not exist");
        }
    }

    private static ECDsa ReadPublicKey(string file)
    {
        var ecdsa = ECDsa.Create();
        try
        {
            var pem = File.ReadAllText(file);
            if (pem.Contains("PRIVATE KEY", StringComparison.Ordinal))
            {
                throw new InvalidDataException($"trusted key {file} holds a private key; only the central's public key belongs on the device");
            }
            ecdsa.ImportFromPem(pem);
            if (ecdsa.KeySize != 256 || ecdsa.ExportParameters(false).Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
            {
                throw new InvalidDataException($"trusted key {file} is not a P-256 (ES256) key");
            }
            return ecdsa;
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException or IOException)
        {
            ecdsa.Dispose();
            throw new InvalidDataException($"trusted key {file} is not a readable PEM public key", e);
        }
        catch
        {
            ecdsa.Dispose();
            throw;
        }
    }
}
