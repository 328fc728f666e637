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
}
