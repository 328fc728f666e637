using HomeUnit.Drivers;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Xunit;

namespace HomeUnit.Tests.Grants;

/// <summary>Commands from the central are verified like grants: signed, addressed, fresh and used once.</summary>
public sealed class CommandTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task Stop_pan_and_selftest_are_accepted_with_their_fields()
    {
        using var rig = new GrantRig();
        var now = rig.Clock.GetUtcNow();

        var stop = await rig.Commands.VerifyAsync(rig.Central.Command(GrantRig.DeviceId, CommandNames.Stop, now, Minute));
        var pan = await rig.Commands.VerifyAsync(rig.Central.Command(GrantRig.DeviceId, CommandNames.Pan, now, Minute, grant: "g-1", view: Views.Room));
        var selftest = await rig.Commands.VerifyAsync(rig.Central.Command(GrantRig.DeviceId, CommandNames.SelfTest, now, Minute));

        Assert.Equal(CommandNames.Stop, stop.Value!.Name);
        Assert.Null(stop.Value.Grant);
        Assert.Equal(("g-1", LensPosition.Room), (pan.Value!.Grant, pan.Value.View));
        Assert.Equal(CommandNames.SelfTest, selftest.Value!.Name);
    }

    [Theory]
    [InlineData(CommandNames.Pan, null, Views.Bed)] // pan must name the look
    [InlineData(CommandNames.Pan, "g-1", null)] // and a view
    [InlineData(CommandNames.Pan, "g-1", "ceiling")]
    [InlineData(CommandNames.SelfTest, "g-1", null)]
    [InlineData(CommandNames.Stop, null, Views.Bed)]
    [InlineData("reboot", null, null)]
    public async Task Command_with_wrong_fields_is_malformed(string name, string? grant, string? view)
    {
        using var rig = new GrantRig();

        var verdict = await rig.Commands.VerifyAsync(rig.Central.Command(GrantRig.DeviceId, name, rig.Clock.GetUtcNow(), Minute, grant, view));

        Assert.Equal(RefusalReason.Malformed, verdict.Reason);
    }

    [Fact]
    public async Task Command_is_refused_when_replayed_stale_too_long_or_for_another_device()
    {
        using var rig = new GrantRig();
        var now = rig.Clock.GetUtcNow();
        var stop = rig.Central.Command(GrantRig.DeviceId, CommandNames.Stop, now, Minute);
        Assert.Null((await rig.Commands.VerifyAsync(stop)).Reason);
        rig.Restart();

        Assert.Equal(RefusalReason.Replayed, (await rig.Commands.VerifyAsync(stop)).Reason);
        Assert.Equal(RefusalReason.WrongAudience, (await rig.Commands.VerifyAsync(rig.Central.Command("hu-other", CommandNames.Stop, now, Minute))).Reason);
        Assert.Equal(RefusalReason.TooLong, (await rig.Commands.VerifyAsync(rig.Central.Command(GrantRig.DeviceId, CommandNames.Stop, now, TimeSpan.FromHours(1)))).Reason);
        Assert.Equal(RefusalReason.Expired, (await rig.Commands.VerifyAsync(rig.Central.Command(GrantRig.DeviceId, CommandNames.Stop, now.AddMinutes(-5), Minute))).Reason);
        Assert.Equal(RefusalReason.NotYetValid, (await rig.Commands.VerifyAsync(rig.Central.Command(GrantRig.DeviceId, CommandNames.Stop, now.AddMinutes(5), Minute))).Reason);
    }

    [Fact]
    public async Task Grant_is_not_a_command()
    {
        using var rig = new GrantRig();

        Assert.Equal(RefusalReason.Malformed, (await rig.Commands.VerifyAsync(rig.Grant())).Reason);
    }
}
