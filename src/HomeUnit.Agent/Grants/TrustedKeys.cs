using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace HomeUnit.Agent.Grants;

/// <summary>
/// The central's public keys this device trusts, one PEM file per key named <c>&lt;kid&gt;.pem</c>
/// in <c>Trust:KeysDirectory</c>. Several may be present at once so the central can rotate keys.
/// Only P-256 EC keys are accepted; a file that is not one stops the agent at start.
/// </summary>
public sealed class TrustedKeys
{
    private readonly Dictionary<string, ECDsaSecurityKey> keys;

    private TrustedKeys(Dictionary<string, ECDsaSecurityKey> keys) => this.keys = keys;


    /// <summary>The key named <paramref name="kid"/>, or null: an unknown kid is never tried against the other keys.</summary>
    public ECDsaSecurityKey? Find(string kid) => keys.GetValueOrDefault(kid);

    /// <summary>Loads every <c>*.pem</c> in <paramref name="directory"/>.</summary>
    /// <exception cref="InvalidDataException">The directory is missing or a file is not a P-256 public key (the message names it).</exception>
    public static TrustedKeys Load(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new InvalidDataException($"Trust:KeysDirectory '{directory}' does not exist");
        }
        var keys = new Dictionary<string, ECDsaSecurityKey>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(directory, "*.pem").Order(StringComparer.Ordinal))
        {
            var kid = Path.GetFileNameWithoutExtension(file);
            keys[kid] = new ECDsaSecurityKey(ReadPublicKey(file)) { KeyId = kid };
        }
        return new TrustedKeys(keys);
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
