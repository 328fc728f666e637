using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace HomeUnit.Protocol;

/// <summary>Hashing and verification of the audit chain, shared by the device and the central.</summary>
public static class AuditChain
{
    public static readonly string Genesis = new('0', 64);

    /// <summary>Canonical JSON: keys sorted by ordinal at every depth, no whitespace, nulls and <c>hash</c> left out.</summary>
    public static string Canonical(AuditRecord record) =>
        Sorted(JsonSerializer.SerializeToNode(record with { Hash = null }, Wire.Json)!).ToJsonString();

    private static JsonNode Sorted(JsonNode node) => node switch
    {
        JsonObject o => new JsonObject(o.Where(p => p.Value is not null).OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Sorted(p.Value!)))),
        JsonArray a => new JsonArray(a.Select(v => v is null ? null : Sorted(v)).ToArray()),
        _ => node.DeepClone(),
    };

    public static string ComputeHash(AuditRecord record) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Canonical(record))));

    /// <summary>The record, sealed onto the chain after <paramref name="previousHash"/>.</summary>
    public static AuditRecord Seal(AuditRecord record, long seq, string previousHash)
    {
        var linked = record with { Seq = seq, Prev = previousHash, Hash = null };
        return linked with { Hash = ComputeHash(linked) };
    }

    /// <summary>Checks a chain in order. Null when intact, else where and how it is broken.</summary>
    public static string? Verify(IEnumerable<AuditRecord> records)
    {
        var previousHash = Genesis;
        long? previousSeq = null;
        foreach (var record in records)
        {
            if (previousSeq is { } p && record.Seq != p + 1)
            {
                return $"record {record.Seq}: expected seq {p + 1} (a record is missing or out of order)";
            }
            if (record.Hash != ComputeHash(record))
            {
                return $"record {record.Seq}: its hash does not match its content (edited)";
            }
            if (record.Prev != previousHash)
            {
                return $"record {record.Seq}: prev does not match the hash of record {previousSeq?.ToString() ?? "(start)"} (deleted, inserted or reordered)";
            }
            previousHash = record.Hash;
            previousSeq = record.Seq;
        }
        return null;
    }
}
