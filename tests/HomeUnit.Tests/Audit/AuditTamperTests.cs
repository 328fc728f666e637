using System.Text.Json;
using HomeUnit.Agent.Audit;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Xunit;

namespace HomeUnit.Tests.Audit;

/// <summary>P6: <c>homeunit audit verify</c> proves the log intact, or says exactly where a row was edited, deleted or reordered.</summary>
public sealed class AuditTamperTests
{
    private static GrantRig RigWithSixRecords()
    {
        var rig = new GrantRig();
        foreach (var type in new[] { AuditType.AgentStarted, AuditType.CarePlanApplied, AuditType.SessionAccepted, AuditType.SessionStarted, AuditType.SessionEnded, AuditType.SessionRefused })
        {
            rig.Audit.Append(new AuditRecord { Type = type, Grant = "g-1", Operator = "operator-7", Reason = type == AuditType.SessionRefused ? RefusalReason.Busy.Code() : null });
            rig.Clock.Advance(TimeSpan.FromSeconds(5));
        }
        return rig;
    }

    private static (int Exit, string Output) Verify(GrantRig rig)
    {
        var output = new StringWriter();
        var exit = AuditCli.Verify(rig.Database, output);
        return (exit, output.ToString());
    }

    /// <summary>Changes the SQLite file behind the agent's back, as someone with the disk in hand could.</summary>
    private static void Tamper(GrantRig rig, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={rig.Database.Path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        Assert.True(command.ExecuteNonQuery() > 0, "the tampering changed nothing");
    }

    [Fact]
    public void Intact_log_verifies_with_exit_zero_and_its_head()
    {
        using var rig = RigWithSixRecords();

        var (exit, output) = Verify(rig);

        Assert.Equal(AuditCli.Intact, exit);
        Assert.Contains("6 records", output);
        Assert.Contains(rig.Audit.List()[^1].Hash!, output);
    }

    [Fact]
    public void Empty_log_is_intact()
    {
        using var rig = new GrantRig();

        Assert.Equal(AuditCli.Intact, Verify(rig).Exit);
    }

    [Fact]
    public void Edited_record_is_found_at_its_seq()
    {
        using var rig = RigWithSixRecords();
        Tamper(rig, "UPDATE audit SET record = json_set(record, '$.operator', 'someone-else') WHERE seq = 3");

        var (exit, output) = Verify(rig);

        Assert.Equal(AuditCli.Broken, exit);
        Assert.Contains("record 3", output);
        Assert.Contains("edited", output);
    }

    [Fact]
    public void Edited_record_with_its_hash_recomputed_breaks_the_next_link()
    {
        using var rig = RigWithSixRecords();
        var third = rig.Audit.List()[2];
        var forged = AuditChain.Seal(third with { Reason = "nothing happened" }, third.Seq, third.Prev);
        Tamper(rig, $"UPDATE audit SET record = '{JsonSerializer.Serialize(forged, Wire.Json)}' WHERE seq = 3");

        var (exit, output) = Verify(rig);

        Assert.Equal(AuditCli.Broken, exit);
        Assert.Contains("record 4", output);
        Assert.Contains("prev", output);
    }

    [Fact]
    public void Deleted_record_is_found_where_the_gap_is()
    {
        using var rig = RigWithSixRecords();
        Tamper(rig, "DELETE FROM audit WHERE seq = 4");

        var (exit, output) = Verify(rig);

        Assert.Equal(AuditCli.Broken, exit);
        Assert.Contains("record 5: expected seq 4", output);
    }

    [Fact]
    public void Deleted_first_record_is_found()
    {
        using var rig = RigWithSixRecords();
        Tamper(rig, "DELETE FROM audit WHERE seq = 1");

        var (exit, output) = Verify(rig);

        Assert.Equal(AuditCli.Broken, exit);
        Assert.Contains("record 2", output);
    }

    [Fact]
    public void Swapped_records_are_found_at_the_first_row_out_of_place()
    {
        using var rig = RigWithSixRecords();
        Tamper(rig, """
            UPDATE audit SET record = CASE seq WHEN 2 THEN (SELECT record FROM audit WHERE seq = 3) ELSE (SELECT record FROM audit WHERE seq = 2) END
            WHERE seq IN (2, 3)
            """);

        var (exit, output) = Verify(rig);

        Assert.Equal(AuditCli.Broken, exit);
        Assert.Contains("row 2: it holds record 3", output);
    }

    [Fact]
    public void Renumbered_records_are_found()
    {
        using var rig = RigWithSixRecords();
        Tamper(rig, "UPDATE audit SET seq = -seq WHERE seq IN (4, 5); UPDATE audit SET seq = 9 WHERE seq = -4; UPDATE audit SET seq = 4 WHERE seq = -5; UPDATE audit SET seq = 5 WHERE seq = 9;");

        var (exit, output) = Verify(rig);

        Assert.Equal(AuditCli.Broken, exit);
        Assert.Contains("row 4: it holds record 5", output);
    }

    [Fact]
    public void Unreadable_record_is_found()
    {
        using var rig = RigWithSixRecords();
        Tamper(rig, "UPDATE audit SET record = 'not json' WHERE seq = 2");

        var (exit, output) = Verify(rig);

        Assert.Equal(AuditCli.Broken, exit);
        Assert.Contains("row 2", output);
    }

    [Fact]
    public void List_prints_a_table_and_json_lines_as_stored()
    {
        using var rig = RigWithSixRecords();

        var table = new StringWriter();
        var json = new StringWriter();
        AuditCli.List(rig.Database, table, json: false);
        AuditCli.List(rig.Database, json, json: true, last: 2);

        Assert.Contains("session.accepted", table.ToString());
        Assert.Contains("reason=busy", table.ToString());
        Assert.Contains("6 records", table.ToString());
        var lines = json.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Equal(rig.Audit.List()[^1], JsonSerializer.Deserialize<AuditRecord>(lines[^1], Wire.Json));
    }
}
