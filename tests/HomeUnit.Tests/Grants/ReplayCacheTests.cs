using HomeUnit.Agent.Grants;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit;

namespace HomeUnit.Tests.Grants;

public sealed class ReplayCacheTests
{
    [Fact]
    public void Used_jti_is_refused_once_recorded_even_in_a_new_instance()
    {
        using var rig = new GrantRig();
        var expires = rig.Clock.GetUtcNow().AddMinutes(2);

        Assert.True(rig.Replay.TryUse("g-1", expires));
        Assert.False(rig.Replay.TryUse("g-1", expires));
        Assert.False(new ReplayCache(new Agent.State.StateDatabase(rig.StateDirectory)).TryUse("g-1", expires));
    }

    [Fact]
    public void Entries_are_pruned_only_after_expiry_and_the_retention()
    {
        using var rig = new GrantRig();
        var now = rig.Clock.GetUtcNow();
        rig.Replay.TryUse("old", now.AddMinutes(-61));
        rig.Replay.TryUse("recent", now.AddMinutes(-59));
        rig.Replay.TryUse("live", now.AddMinutes(2));

        Assert.Equal(1, rig.Replay.Prune(now));

        Assert.False(rig.Replay.Contains("old"));
        Assert.True(rig.Replay.Contains("recent"));
        Assert.True(rig.Replay.Contains("live"));
    }

    [Fact]
    public async Task Accepting_a_grant_prunes_what_has_long_expired()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan());
        rig.Replay.TryUse("yesterday", rig.Clock.GetUtcNow().AddDays(-1));

        Assert.True((await rig.Authorizer.AuthorizeAsync(rig.Grant())).Accepted);

        Assert.False(rig.Replay.Contains("yesterday"));
        Assert.Equal(1, rig.Replay.Count());
    }

    [Fact]
    public async Task Grant_expired_beyond_the_retention_is_refused_as_expired_not_accepted()
    {
        using var rig = new GrantRig();
        await rig.ApplyPlanAsync(GrantRig.Plan());
        var token = rig.Grant();
        Assert.True((await rig.Authorizer.AuthorizeAsync(token)).Accepted);

        rig.Clock.Advance(ReplayCache.Retention + TimeSpan.FromMinutes(5));
        rig.Replay.Prune(rig.Clock.GetUtcNow());

        Assert.Equal(RefusalReason.Expired, (await rig.Authorizer.AuthorizeAsync(token)).Reason);
    }
}
