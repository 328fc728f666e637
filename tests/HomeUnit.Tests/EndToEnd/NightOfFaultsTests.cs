using HomeUnit.TestSupport;
using HomeUnit.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HomeUnit.Tests.EndToEnd;

/// <summary>
/// The short night: every fault of the soak once (looks, broker restarts, kill -9 idle and mid-look, ffmpeg killed
/// mid-look, a mains flip, clock loss, a full state disk, a look asked for while another runs), then the promises
/// checked from the records. The full night is <c>bench soak</c>.
/// </summary>
public sealed class NightOfFaultsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Through_a_night_of_faults_no_audit_record_is_lost_or_doubled_the_chain_verifies_and_the_camera_stays_inside_its_grants()
    {
        var log = new TestLog(output);

        var report = await NightOfFaults.RunAsync(new NightOptions(TimeSpan.Zero, Seed: 14), log.For<NightOfFaults>());

        output.WriteLine(string.Join(", ", report.Steps.Select(s => $"{s.Key}={s.Value}")));
        output.WriteLine(string.Join(", ", report.Figures.Select(f => $"{f.Key}={f.Value}")));
        Assert.True(report.Passed, string.Join("\n", report.Violations));
        Assert.True(report.Figures["looksStarted"] >= 5, $"only {report.Figures["looksStarted"]} looks started");
        Assert.True(report.Figures["looksAborted"] >= 1, "the look the agent died in was not recorded as aborted");
    }
}
