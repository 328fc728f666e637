using System.Buffers.Text;
using System.Text.Json;
using System.Text.Unicode;
using HomeUnit.Protocol;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace HomeUnit.Agent.Grants;

/// <summary>
/// Reads a compact JWS from the central, in this order: size and shape; header (alg pinned to ES256,
/// <c>kid</c> names a trusted key, never tried against the others); payload syntax (JSON object, no
/// duplicate names); the signature (Microsoft.IdentityModel); the claims strictly as
/// <typeparamref name="T"/>; <c>iss</c> (the central the key belongs to) and <c>aud</c>. Time claims, and
/// whether that central is in charge, are left to the caller.
/// Refusals carry only a reason code: never the token, its claims or a library message.
/// </summary>
public sealed class SignedTokenReader(TrustedKeys keys, TrustPolicy policy)
{
    public const string Algorithm = SecurityAlgorithms.EcdsaSha256;

    private readonly JsonWebTokenHandler handler = new() { MaximumTokenSizeInBytes = TrustPolicy.MaxCarePlanBytes };

    public async Task<Verdict<T>> ReadAsync<T>(string token, int maxBytes) where T : class, ISignedPayload
    {
        if (string.IsNullOrEmpty(token) || token.Length > maxBytes || !IsCompactJws(token))
        {
            return Verdict<T>.Refuse(RefusalReason.Malformed);
        }
        var header = ReadHeader(token.AsSpan(0, token.IndexOf('.')));
        if (header.Reason is { } headerProblem)
        {
            return Verdict<T>.Refuse(headerProblem);
        }
        if (keys.Find(header.Kid!) is not { } key)
        {
            return Verdict<T>.Refuse(RefusalReason.UnknownKey);
        }
        using var document = ParsePayload(token);
        if (document is null)
        {
            return Verdict<T>.Refuse(RefusalReason.Malformed);
        }
        if (await SignatureProblemAsync(token, key.Key) is { } signatureProblem)
        {
            return Verdict<T>.Refuse(signatureProblem);
        }
        if (Deserialize<T>(document) is not { } payload)
        {
            return Verdict<T>.Refuse(RefusalReason.Malformed);
        }
        // A trusted key is trusted only for its own central: a token naming another issuer is treated as
        // signed by a key we do not know for it, so one central's key never speaks for another.
        if (payload.Iss != key.Central.Issuer)
        {
            return Verdict<T>.Refuse(RefusalReason.UnknownKey);
        }
        return payload.Aud != policy.DeviceId
            ? Verdict<T>.Refuse(RefusalReason.WrongAudience)
            : Verdict<T>.Pass(payload);
    }

    /// <summary>Three base64url parts separated by dots; nothing else (a JWE's five parts, spaces, padding) is a token we read.</summary>
    private static bool IsCompactJws(string token)
    {
        var dots = 0;
        foreach (var c in token)
        {
            if (c == '.')
            {
                dots++;
            }
            else if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_'))
            {
                return false;
            }
        }
        return dots == 2;
    }

    private readonly record struct Header(string? Kid, RefusalReason? Reason);

    private static Header ReadHeader(ReadOnlySpan<char> encoded)
    {
        try
        {
            var bytes = Base64Url.DecodeFromChars(encoded);
            // System.Text.Json checks the UTF-8 inside strings only when one is read, and then throws
            // InvalidOperationException: refuse invalid UTF-8 up front.
            if (!Utf8.IsValid(bytes))
            {
                return new Header(null, RefusalReason.Malformed);
            }
            using var json = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 4 });
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new Header(null, RefusalReason.Malformed);
            }
            // The algorithm is pinned: "none", HS256 (with the public key as a secret) and the rest are refused before any key is touched.
            if (!root.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String || alg.GetString() != Algorithm)
            {
                return new Header(null, RefusalReason.BadSignature);
            }
            // Extensions we do not understand must not be silently ignored (RFC 7515 §4.1.11).
            if (root.TryGetProperty("crit", out _)
                || !root.TryGetProperty("kid", out var kid) || kid.ValueKind != JsonValueKind.String || kid.GetString() is not { Length: > 0 and <= 128 } name)
            {
                return new Header(null, RefusalReason.Malformed);
            }
            return new Header(name, null);
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return new Header(null, RefusalReason.Malformed);
        }
    }

    private async Task<RefusalReason?> SignatureProblemAsync(string token, ECDsaSecurityKey key)
    {
        var parameters = new TokenValidationParameters
        {
            ValidAlgorithms = [Algorithm],
            IssuerSigningKey = key,
            TryAllIssuerSigningKeys = false,
            RequireSignedTokens = true,
            ValidateIssuerSigningKey = false,
            // iss, aud and the time claims are checked by the device's own code with its own clock and reason codes.
            ValidateIssuer = false,
            ValidateAudience = false,
            ValidateLifetime = false,
            RequireExpirationTime = false,
        };
        var result = await handler.ValidateTokenAsync(token, parameters);
        return result.IsValid
            ? null
            : result.Exception is SecurityTokenMalformedException or SecurityTokenArgumentException ? RefusalReason.Malformed : RefusalReason.BadSignature;
    }

    /// <summary>The payload as a JSON object (base64url, UTF-8, no duplicate names), or null.</summary>
    private static JsonDocument? ParsePayload(string token)
    {
        var first = token.IndexOf('.');
        var second = token.IndexOf('.', first + 1);
        JsonDocument? document = null;
        try
        {
            var bytes = Base64Url.DecodeFromChars(token.AsSpan(first + 1, second - first - 1));
            if (!Utf8.IsValid(bytes))
            {
                return null;
            }
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 8 });
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            // Not base64url, not UTF-8 JSON, or a name given twice: malformed, whoever signed it.
        }
        document?.Dispose();
        return null;
    }

    /// <summary>The typed claims, or null when one is missing, null, of the wrong JSON type or out of its type's range.</summary>
    private static T? Deserialize<T>(JsonDocument payload) where T : class
    {
        try
        {
            return payload.Deserialize<T>(TokenJson.Options);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }
}
