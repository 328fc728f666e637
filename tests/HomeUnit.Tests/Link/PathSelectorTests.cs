using HomeUnit.Agent.Link;
using HomeUnit.Tests.Infrastructure;
using Xunit;

namespace HomeUnit.Tests.Link;

/// <summary>The second path: move on after the configured unreachable time, back to the first only once it has answered for a while.</summary>
public sealed class PathSelectorTests
{
    private static readonly TimeSpan Failover = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Return = TimeSpan.FromSeconds(30);

    private readonly ManualClock clock = new(GrantRig.Evening);

    private PathSelector Selector(int count = 2) => new(count, Failover, Return, clock);

    [Fact]
    public void A_broker_unreachable_for_less_than_the_failover_time_is_kept()
    {
        var paths = Selector();
        paths.Connected();
        clock.Advance(TimeSpan.FromMinutes(10));
        paths.Unreachable();
        clock.Advance(Failover - TimeSpan.FromSeconds(1));
        paths.Unreachable(); // a failed retry does not restart the time

        Assert.False(paths.MoveOnIfDue());
        Assert.Equal(0, paths.Current);

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(paths.MoveOnIfDue());
        Assert.Equal(1, paths.Current);
    }

    [Fact]
    public void A_connection_that_comes_back_in_time_resets_the_failover_time()
    {
        var paths = Selector();
        paths.Unreachable();
        clock.Advance(Failover / 2);
        paths.Connected();
        paths.Unreachable();
        clock.Advance(Failover / 2);

        Assert.False(paths.MoveOnIfDue());
    }

    [Fact]
    public void An_unreachable_first_broker_at_start_is_left_after_the_failover_time_and_all_are_tried_in_turn()
    {
        var paths = Selector(count: 3);

        foreach (var expected in new[] { 1, 2, 0 })
        {
            clock.Advance(Failover);
            paths.Unreachable();
            Assert.True(paths.MoveOnIfDue());
            Assert.Equal(expected, paths.Current);
            Assert.False(paths.MoveOnIfDue()); // each gets its own full time
        }
    }

    [Fact]
    public void The_first_broker_is_taken_back_only_after_answering_for_the_return_time_without_a_miss()
    {
        var paths = Selector();
        clock.Advance(Failover);
        Assert.True(paths.MoveOnIfDue());
        paths.Connected();
        Assert.True(paths.ProbingFirst);

        paths.FirstAnswered(true);
        clock.Advance(Return - TimeSpan.FromSeconds(1));
        paths.FirstAnswered(false); // flapping: the time starts again
        paths.FirstAnswered(true);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(paths.ReturnIfDue());

        clock.Advance(Return);
        paths.FirstAnswered(true);
        Assert.True(paths.ReturnIfDue());
        Assert.Equal(0, paths.Current);
        Assert.False(paths.ProbingFirst);
    }

    [Fact]
    public void A_single_broker_never_moves()
    {
        var paths = Selector(count: 1);
        clock.Advance(Failover * 10);
        paths.Unreachable();

        Assert.False(paths.MoveOnIfDue());
        Assert.False(paths.ReturnIfDue());
    }
}
