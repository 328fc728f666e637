using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit;

namespace HomeUnit.Tests.Grants;

/// <summary>A flood of junk cannot fill the device's or the central's log.</summary>
public sealed class RefusalAuditTests
{
    [Fact]
    public async Task Refusals_beyond_ten_a_minute_become_one_record_with_their_count()
    {
        using var rig = new GrantRig();
        for (var i = 0; i < 25; i++)
        {
            await rig.Authorizer.AuthorizeAsync("junk");
        }
        await rig.Authorizer.AuthorizeAsync(rig.Grant()); // no plan: another reason, its own budget

        var refused = rig.AuditRecords(AuditType.SessionRefused);
        Assert.Equal(10, refused.Count(r => r.Reason == RefusalReason.Malformed.Code()));
        Assert.Single(refused, r => r.Reason == RefusalReason.OutsideCarePlan.Code());

        rig.Clock.Advance(TimeSpan.FromSeconds(61));
        rig.Refusals.Flush();

        var summary = rig.AuditRecords(AuditType.SessionRefused).Last();
        Assert.Equal((RefusalReason.Malformed.Code(), (long?)15), (summary.Reason, summary.Count));
        await rig.Authorizer.AuthorizeAsync("junk");
        Assert.Equal(11, rig.AuditRecords(AuditType.SessionRefused).Count(r => r.Reason == RefusalReason.Malformed.Code() && r.Count is null));
    }

    [Fact]
    public async Task Summary_is_written_by_the_next_refusal_after_the_minute()
    {
        using var rig = new GrantRig();
        for (var i = 0; i < 12; i++)
        {
            await rig.Authorizer.AuthorizeAsync("junk");
        }
        rig.Clock.Advance(TimeSpan.FromMinutes(2));

        await rig.Authorizer.AuthorizeAsync(rig.Grant());

        Assert.Contains(rig.AuditRecords(AuditType.SessionRefused), r => r.Count == 2);
    }
}
