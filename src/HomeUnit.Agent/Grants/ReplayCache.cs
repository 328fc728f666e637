using HomeUnit.Agent.State;

namespace HomeUnit.Agent.Grants;

/// <summary>
/// Every <c>jti</c> (grant or command) this device has accepted, in the state database so that a
/// token used once is refused even after a restart. An entry is kept until its token has been
/// expired for <see cref="Retention"/> — past that the token is refused as expired anyway; the
/// margin keeps a clock that is corrected backwards from re-opening the door.
/// </summary>
public sealed class ReplayCache(StateDatabase database)
{
    public static readonly TimeSpan Retention = TimeSpan.FromHours(1);

    public bool Contains(string jti) => database.Read(connection =>
    {
        using var command = StateDatabase.Command(connection, "SELECT 1 FROM used_tokens WHERE jti = $jti", ("$jti", jti));
        return command.ExecuteScalar() is not null;
    });

    /// <summary>Records <paramref name="jti"/> as used; false if it already was (the token is a replay).</summary>
    public bool TryUse(string jti, DateTimeOffset expires) => database.Write(t =>
        t.Execute("INSERT INTO used_tokens (jti, expires) VALUES ($jti, $expires) ON CONFLICT (jti) DO NOTHING",
            ("$jti", jti), ("$expires", expires.ToUnixTimeSeconds())) == 1);

    /// <summary>Forgets tokens that expired more than <see cref="Retention"/> before <paramref name="now"/>; returns how many.</summary>
    public int Prune(DateTimeOffset now) => database.Write(t =>
        t.Execute("DELETE FROM used_tokens WHERE expires < $before", ("$before", (now - Retention).ToUnixTimeSeconds())));

    public long Count() => database.Read(connection =>
    {
        using var command = StateDatabase.Command(connection, "SELECT count(*) FROM used_tokens");
        return (long)command.ExecuteScalar()!;
    });
}
