namespace HomeUnit.Drivers.Camera;

/// <summary>
/// Turns how a capture-pipeline process ended (its exit code and last stderr lines) into a reason an operator
/// can act on. The passphrase is never part of ffmpeg's arguments' echo (it is an option, not in the URL),
/// and is scrubbed from anything quoted anyway.
/// </summary>
internal static class FfmpegFailure
{
    public static string Explain(string program, int exitCode, IReadOnlyList<string> errors, StreamTarget? target, string device)
    {
        bool Said(string text) => errors.Any(line => line.Contains(text, StringComparison.OrdinalIgnoreCase));

        if (Said("Incorrect passphrase") || Said("BADSECRET"))
        {
            return "the SRT receiver refused the passphrase";
        }
        if (Said("REJECT"))
        {
            return "the SRT receiver refused the connection";
        }
        if (target is not null && Said("Failed to resolve hostname"))
        {
            return $"cannot resolve the SRT receiver's host in {target.Url}";
        }
        if (target is not null && Said($"Connection to {target.Url} failed"))
        {
            return $"no SRT receiver answered at {target.Url}";
        }
        if (Said("av_interleaved_write_frame") || Said("Connection lost"))
        {
            return "the connection to the SRT receiver was lost";
        }
        if (Said("No such file or directory") && Said(device))
        {
            return $"camera device {device} not found";
        }
        if (Said("Device or resource busy"))
        {
            return $"camera device {device} is busy (opened by another program)";
        }
        var last = errors.LastOrDefault(line => line.Trim().Length > 0);
        var what = exitCode == 0 ? $"{program} ended by itself" : $"{program} exited with code {exitCode}";
        return last is null ? what : $"{what}: {Scrub(last, target)}";
    }

    private static string Scrub(string line, StreamTarget? target)
    {
        var text = target is null ? line : line.Replace(target.Passphrase, "***", StringComparison.Ordinal);
        return new string([.. text.Take(200).Select(c => char.IsControl(c) ? '?' : c)]);
    }
}
