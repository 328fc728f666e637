using HomeUnit.Agent.State;

namespace HomeUnit.Agent.Grants;

/// <summary>
/// Every <c>jti</c> (grant or command) this device has accepted, in the state database so that a
/// token used once is refused even after a restart. An entry is kept until its token has been
/// expired for <see cref="Retention"/> — past that the token is refused as expired anyway; the
/// margin keeps a clock that is corrected backwards from re-opening the door.
/// </summary>
public sealed class ReplayCache
{
    public static readonly TimeSpan Retention = TimeSpan.FromHours(1);

    private readonly StateDatabase database;

    public ReplayCache(StateDatabase database)
    {
        this.database = database;
        using var connection = database.Open();
        StateDatabase.Execute(connection, """
            CREATE TABLE IF NOT EXISTS used_tokens (
                jti TEXT PRIMARY KEY,
                expires INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS used_tokens_expires ON used_tokens (expires);
            """);
    }

    public bool Contains(string jti)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM used_tokens WHERE jti = $jti";
        command.Parameters.AddWithValue("$jti", jti);
        return command.ExecuteScalar() is not null;
    }

    /// <summary>Records <paramref name="jti"/> as used; false if it already was (the token is a replay).</summary>
    public bool TryUse(string jti, DateTimeOffset expires)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO used_tokens (jti, expires) VALUES ($jti, $expires) ON CONFLICT (jti) DO NOTHING";
        command.Parameters.AddWithValue("$jti", jti);
        command.Parameters.AddWithValue("$expires", expires.ToUnixTimeSeconds());
        return command.ExecuteNonQuery() == 1;
    }

    /// <summary>Forgets tokens that expired more than <see cref="Retention"/> before <paramref name="now"/>; returns how many.</summary>
    public int Prune(DateTimeOffset now)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM used_tokens WHERE expires < $before";
        command.Parameters.AddWithValue("$before", (now - Retention).ToUnixTimeSeconds());
        return command.ExecuteNonQuery();
    }

    public long Count()
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM used_tokens";
        return (long)command.ExecuteScalar()!;
    }
}
