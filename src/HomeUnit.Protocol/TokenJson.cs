using System.Text.Json;
using System.Text.Json.Serialization;

namespace HomeUnit.Protocol;

/// <summary>
/// The JSON rules for signed payloads (grants, care plans, commands). Strict on reading: exact
/// camelCase names, numbers must be JSON numbers of the right kind, no duplicate names, required
/// claims must be present and non-null. The central writes with the same options.
/// </summary>
public static class TokenJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNameCaseInsensitive = false,
        NumberHandling = JsonNumberHandling.Strict,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        AllowDuplicateProperties = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        MaxDepth = 8,
    };
}

/// <summary>The claims every signed payload carries: who signed it and for which device.</summary>
public interface ISignedPayload
{
    string Iss { get; }
    string Aud { get; }
}
