using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace HomeUnit.Protocol;

/// <summary>The one JSON and time format used on the wire and in the audit log.</summary>
public static class Wire
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>UTC, millisecond precision, e.g. 2026-11-22T21:30:00.000Z.</summary>
    public static string Time(DateTimeOffset at) =>
        at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>A JWT NumericDate the unit takes: seconds since 1970, up to the year 9999.</summary>
    public static bool IsNumericDate(long seconds) => seconds is >= 0 and <= 253_402_300_799;
}

/// <summary>A device id: letters, digits, '.', '_' and '-', at most 64, so it is a safe MQTT topic level and certificate CN.</summary>
public static partial class DeviceIds
{
    public static bool IsValid(string? id) => id is not null && Pattern().IsMatch(id);

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\\z")]
    private static partial System.Text.RegularExpressions.Regex Pattern();
}

/// <summary>The shape of every identifier in grants, commands and care plans (jti, operator, check, issuer): printable ASCII.</summary>
public static class Identifiers
{
    public const int MaxLength = 128;

    public static bool IsValid(string? value) => value is { Length: >= 1 and <= MaxLength } && value.All(c => c is >= ' ' and <= '~');
}
