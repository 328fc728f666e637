using HomeUnit.Protocol;

namespace HomeUnit.Central;

/// <summary>What one arriving audit record means for the chain the central holds.</summary>
public enum ChainStep
{
    /// <summary>The first record seen: the chain is joined here (from seq 1 it is checked from the start).</summary>
    Joined,
    /// <summary>Follows the last record: seq + 1 and prev = the last record's hash.</summary>
    Linked,
    /// <summary>A record already held, delivered again (QoS 1): drop it.</summary>
    Duplicate,
    /// <summary>Seq jumped: records are missing (still on their way, or lost to an outbox overflow).</summary>
    Gap,
    /// <summary>A record that was missing has arrived and fits its neighbours.</summary>
    Filled,
    /// <summary>Its hash does not match its content, or it does not link to its neighbours: the chain is broken.</summary>
    Broken,
}

/// <summary>
/// Checks a unit's audit chain as its records arrive, in any order and with repeats: each record's own
/// hash, and its link to the records on either side as soon as both are held.
/// </summary>
public sealed class AuditFollower
{
    private readonly SortedDictionary<long, AuditRecord> held = [];

    public long? Last => held.Count == 0 ? null : held.Keys.Last();

    /// <summary>Seqs between the first and the last record held that have not arrived.</summary>
    public IReadOnlyList<long> Missing()
    {
        if (held.Count == 0)
        {
            return [];
        }
        var missing = new List<long>();
        for (var seq = held.Keys.First(); seq < held.Keys.Last(); seq++)
        {
            if (!held.ContainsKey(seq))
            {
                missing.Add(seq);
            }
        }
        return missing;
    }

    public (ChainStep Step, string Note) Observe(AuditRecord record)
    {
        if (record.Hash != AuditChain.ComputeHash(record))
        {
            return (ChainStep.Broken, $"record {record.Seq}: its hash does not match its content (edited in transit or on the unit)");
        }
        if (held.TryGetValue(record.Seq, out var known))
        {
            return known.Hash == record.Hash
                ? (ChainStep.Duplicate, $"record {record.Seq} again (a redelivery): dropped")
                : (ChainStep.Broken, $"record {record.Seq}: a second, different record with the same seq");
        }
        var first = held.Count == 0;
        var last = Last;
        held[record.Seq] = record;
        if (record.Seq == 1 && record.Prev != AuditChain.Genesis)
        {
            return (ChainStep.Broken, "record 1: prev is not the chain's start");
        }
        if (held.TryGetValue(record.Seq - 1, out var before) && record.Prev != before.Hash)
        {
            return (ChainStep.Broken, $"record {record.Seq}: prev does not match the hash of record {before.Seq} (deleted, inserted or reordered)");
        }
        if (held.TryGetValue(record.Seq + 1, out var after) && after.Prev != record.Hash)
        {
            return (ChainStep.Broken, $"record {after.Seq}: prev does not match the hash of record {record.Seq}");
        }
        if (first)
        {
            return (ChainStep.Joined, record.Seq == 1 ? "chain starts here" : $"joined the chain at record {record.Seq}");
        }
        if (record.Seq > last + 1)
        {
            return (ChainStep.Gap, record.Seq == last + 2 ? $"record {last + 1} missing" : $"records {last + 1}–{record.Seq - 1} missing");
        }
        return record.Seq < last ? (ChainStep.Filled, $"record {record.Seq} arrived late and fits") : (ChainStep.Linked, "linked");
    }
}
