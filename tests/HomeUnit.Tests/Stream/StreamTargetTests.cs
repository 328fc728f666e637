using FsCheck;
using FsCheck.Fluent;
using HomeUnit.Drivers.Camera;

namespace HomeUnit.Tests.Stream;

/// <summary>A grant's stream target reaches ffmpeg only as plain srt://host:port, a tame stream id and an unquoted passphrase.</summary>
public sealed class StreamTargetTests
{
    private const string Passphrase = "correct-horse-battery-staple";
    private const string StreamIdCharacters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~:/=,#!@+-";

    [Theory]
    [InlineData("srt://127.0.0.1:9000")]
    [InlineData("srt://media.larm.example.se:4200")]
    [InlineData("srt://gw-1.example.org:65535")]
    [InlineData("srt://[::1]:9000")]
    public void Plain_srt_urls_are_accepted(string url) =>
        Assert.Null(new StreamTarget(url, "#!::r=look-1,m=publish", Passphrase).Validate());

    [Theory]
    [InlineData("srt://127.0.0.1:9000?mode=listener")]
    [InlineData("srt://127.0.0.1:9000?passphrase=x&pbkeylen=16")]
    [InlineData("srt://127.0.0.1:9000/path")]
    [InlineData("srt://user@127.0.0.1:9000")]
    [InlineData("srt://127.0.0.1")]
    [InlineData("srt://127.0.0.1:0")]
    [InlineData("srt://127.0.0.1:70000")]
    [InlineData("srt://-host:9000")]
    [InlineData("srt://ho st:9000")]
    [InlineData("srt://host:9000 -report")]
    [InlineData("srt://host:9000\n")]
    [InlineData("srt://[zz::1]:9000")]
    [InlineData("udp://127.0.0.1:9000")]
    [InlineData("file:/var/lib/homeunit/out.ts")]
    [InlineData("")]
    public void Anything_but_a_plain_srt_url_is_refused(string url) =>
        Assert.NotNull(new StreamTarget(url, "look-1", Passphrase).Validate());

    [Fact]
    public void Stream_id_is_accepted_exactly_when_it_is_short_and_made_of_tame_characters()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<string>(), streamId =>
        {
            streamId ??= "";
            var tame = streamId.Length is >= 1 and <= 512 && streamId.All(StreamIdCharacters.Contains);
            return (new StreamTarget("srt://127.0.0.1:9000", streamId, Passphrase).Validate() is null) == tame;
        }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData("too-short")]
    [InlineData("has a space in the middle")]
    [InlineData("has-a-newline-at-the-end\n")]
    [InlineData("eighty-characters-is-one-more-than-srt-allows-for-a-passphrase-0123456789abcdefg")]
    public void Passphrase_outside_srt_rules_is_refused(string passphrase) =>
        Assert.Equal("stream passphrase must be 16-79 printable ASCII characters without spaces",
            new StreamTarget("srt://127.0.0.1:9000", "look-1", passphrase).Validate());

    [Fact]
    public void Refusal_never_quotes_the_passphrase()
    {
        var longText = Gen.Choose(16, 120).SelectMany(n => Gen.ArrayOf(ArbMap.Default.GeneratorFor<char>(), n)).Select(c => new string(c));
        Prop.ForAll(longText.ToArbitrary(), ArbMap.Default.ArbFor<string>(), (passphrase, url) =>
            new StreamTarget(url ?? "", "look-1", passphrase).Validate() is not { } refusal || !refusal.Contains(passphrase))
            .QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Target_prints_without_its_passphrase() =>
        Assert.Equal("srt://127.0.0.1:9000 streamid=look-1", new StreamTarget("srt://127.0.0.1:9000", "look-1", Passphrase).ToString());
}
