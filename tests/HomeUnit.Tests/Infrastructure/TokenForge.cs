using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace HomeUnit.Tests.Infrastructure;

/// <summary>Hand-made compact JWS for attacks the central's signer would never produce.</summary>
public static class TokenForge
{
    public static string Encode(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));

    public static string Decode(string part) => Encoding.UTF8.GetString(Base64Url.DecodeFromChars(part));

    /// <summary>Header and payload as given, no signature (<c>alg: none</c> style).</summary>
    public static string Unsigned(string headerJson, string payloadJson) => $"{Encode(headerJson)}.{Encode(payloadJson)}.";

    /// <summary>HS256 over header.payload with <paramref name="secret"/> (e.g. the central's public key PEM).</summary>
    public static string Hs256(string headerJson, string payloadJson, byte[] secret)
    {
        var input = $"{Encode(headerJson)}.{Encode(payloadJson)}";
        return input + "." + Base64Url.EncodeToString(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input)));
    }

    /// <summary>ES256 with any key and any header.</summary>
    public static string Es256(ECDsa key, string headerJson, string payloadJson)
    {
        var input = $"{Encode(headerJson)}.{Encode(payloadJson)}";
        return input + "." + Base64Url.EncodeToString(key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
    }

    /// <summary>The payload JSON of a token.</summary>
    public static string PayloadOf(string token) => Decode(token.Split('.')[1]);
}
