using System.Text.Json;
using HomeUnit.Agent.State;
using HomeUnit.Protocol;
using Spectre.Console;

namespace HomeUnit.Agent.Audit;

/// <summary>
/// <c>homeunit audit list</c>, <c>homeunit audit verify</c> and <c>homeunit audit nights</c>. Both read the audit table row by row
/// as stored, so an edited, unreadable, deleted or reordered row is reported where it is rather
/// than hidden by the way it was read.
/// </summary>
public static class AuditCli
{
    public const int Intact = 0;
    public const int Broken = 1;

    /// <summary>One stored row: its position in the table and the record it holds (null if unreadable).</summary>
    private sealed record Row(long Seq, string Json, AuditRecord? Record);

    /// <summary>
    /// Checks the chain: exit <see cref="Intact"/> with the head (last seq and hash, to compare with
    /// the central's copy) or <see cref="Broken"/> with the first place where it breaks.
    /// </summary>
    public static int Verify(StateDatabase database, TextWriter output)
    {
        var rows = Rows(database);
        foreach (var row in rows)
        {
            if (row.Record is null)
            {
                output.WriteLine($"audit log BROKEN at row {row.Seq}: the record is not readable (edited)");
                return Broken;
            }
            if (row.Record.Seq != row.Seq)
            {
                output.WriteLine($"audit log BROKEN at row {row.Seq}: it holds record {row.Record.Seq} (edited or reordered)");
                return Broken;
            }
        }
        if (AuditChain.Verify(rows.Select(r => r.Record!)) is { } problem)
        {
            output.WriteLine($"audit log BROKEN at {problem}");
            return Broken;
        }
        output.WriteLine(rows.Count == 0
            ? "audit log intact: no records"
            : $"audit log intact: {rows.Count} records, seq {rows[0].Seq}..{rows[^1].Seq}, head {rows[^1].Record!.Hash}");
        return Intact;
    }

    /// <summary>Prints the records (the last <paramref name="last"/> if given) as a table, or as JSON lines exactly as stored.</summary>
    public static int List(StateDatabase database, TextWriter output, bool json, int? last = null)
    {
        var rows = Rows(database);
        if (last is { } count)
        {
            rows = rows.TakeLast(Math.Max(0, count)).ToList();
        }
        if (json)
        {
            foreach (var row in rows)
            {
                output.WriteLine(row.Json);
            }
            return 0;
        }
        var table = new Table().Border(TableBorder.Simple);
        foreach (var column in new[] { "seq", "at (UTC)", "type", "grant", "operator", "kind", "view", "check", "duration", "details" })
        {
            table.AddColumn(column);
        }
        foreach (var row in rows)
        {
            var r = row.Record;
            string[] cells = r is null
                ? [row.Seq.ToString(), "", "(unreadable)", "", "", "", "", "", "", ""]
                : [r.Seq.ToString(), r.At, r.Type.Code(), r.Grant ?? "", r.Operator ?? "", r.Kind ?? "", r.View ?? "", r.Check ?? "",
                    r.DurationMs is { } ms ? $"{ms / 1000.0:0.0} s" : "", Details(r)];
            table.AddRow(cells.Select(Markup.Escape).ToArray());
        }
        Write(output, table);
        output.WriteLine($"{rows.Count} records");
        return 0;
    }

    /// <summary>
    /// One row per night from the ledger's records: the <c>night.summary</c> where the night is over, else
    /// the checks recorded so far (marked open). <paramref name="last"/> keeps the newest N nights.
    /// </summary>
    public static int Nights(StateDatabase database, TextWriter output, int? last = null)
    {
        var records = Rows(database).Select(r => r.Record).OfType<AuditRecord>()
            .Where(r => r.Night is not null && (r.Type == AuditType.NightSummary || AuditTypeSets.CheckOutcomes.Contains(r.Type)))
            .ToList();
        var nights = records.GroupBy(r => r.Night!).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        if (last is { } count)
        {
            nights = nights.TakeLast(Math.Max(0, count)).ToList();
        }
        var table = new Table().Border(TableBorder.Simple);
        foreach (var column in new[] { "night", "planned", "looked", "follow-ups", "missed", "skipped", "refused", "faults", "offline", "" })
        {
            table.AddColumn(column);
        }
        foreach (var night in nights)
        {
            var summary = night.LastOrDefault(r => r.Type == AuditType.NightSummary)?.Summary;
            var outcomes = night.Where(r => r.Type != AuditType.NightSummary).ToList();
            string[] cells = summary is { } s
                ? [night.Key, $"{s.Planned}", $"{s.Looked}", $"{s.FollowUps}", $"{s.Missed}", $"{s.Skipped}",
                    string.Join(" ", s.Refused.Select(p => $"{p.Key}={p.Value}")), string.Join(" ", s.Faults),
                    s.OfflineSeconds > 0 ? $"{s.OfflineSeconds} s" : "", ""]
                : [night.Key, $"{outcomes.Count}", $"{outcomes.Count(r => r.Type == AuditType.CheckLooked)}", "",
                    $"{outcomes.Count(r => r.Type == AuditType.CheckMissed)}", $"{outcomes.Count(r => r.Type == AuditType.CheckSkipped)}",
                    "", "", "", "open: checks so far"];
            table.AddRow(cells.Select(Markup.Escape).ToArray());
        }
        Write(output, table);
        output.WriteLine($"{nights.Count} nights");
        return 0;
    }

    private static void Write(TextWriter output, Table table)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 200;
        console.Write(table);
    }

    private static string Details(AuditRecord r) => string.Join(" ", new[]
    {
        r.Reason is null ? null : $"reason={r.Reason}",
        r.Detail is null ? null : $"detail={r.Detail}",
        r.Count is null ? null : $"count={r.Count}",
        r.Version is null ? null : $"version={r.Version}",
        r.Issuer is null ? null : $"issuer={r.Issuer}",
        r.Central is null ? null : $"central={r.Central}",
        r.Until is null ? null : $"until={r.Until}",
        r.Command is null ? null : $"command={r.Command}",
        r.Night is null ? null : $"night={r.Night}",
        r.Causes is null ? null : $"causes={string.Join(",", r.Causes)}",
    }.OfType<string>());

    private static List<Row> Rows(StateDatabase database) => database.Read(connection =>
    {
        using var exists = StateDatabase.Command(connection, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'");
        if (exists.ExecuteScalar() is null)
        {
            return new List<Row>();
        }
        using var command = StateDatabase.Command(connection, "SELECT seq, record FROM audit ORDER BY seq");
        using var reader = command.ExecuteReader();
        var rows = new List<Row>();
        while (reader.Read())
        {
            var text = reader.IsDBNull(1) ? "" : reader.GetValue(1).ToString() ?? "";
            rows.Add(new Row(reader.GetInt64(0), text, Parse(text)));
        }
        return rows;
    });

    private static AuditRecord? Parse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<AuditRecord>(json, Wire.Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
