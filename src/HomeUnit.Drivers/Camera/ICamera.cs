using System.Net;
using System.Text.RegularExpressions;

namespace HomeUnit.Drivers.Camera;

/// <summary>Where a look's picture goes: the grant's SRT listener, its stream id and passphrase.</summary>
public sealed partial record StreamTarget(string Url, string StreamId, string Passphrase)
{
    // The passphrase is a secret: never printed, logged or audited.
    public override string ToString() => $"{Url} streamid={StreamId}";

    /// <summary>
    /// Null when the target is safe to hand to the capture process, else what is wrong with it. Only plain
    /// <c>srt://host:port</c> URLs and a small character set are allowed, so nothing in a grant can smuggle extra
    /// options into ffmpeg. The message never quotes the passphrase.
    /// </summary>
    public string? Validate()
    {
        var url = UrlPattern().Match(Url ?? "");
        if (!url.Success)
        {
            return $"stream url '{Kernel.KernelFiles.Printable(Url ?? "")}' is not srt://host:port";
        }
        var host = url.Groups["host"].Value;
        if (host.StartsWith('[') && !IPAddress.TryParse(host[1..^1], out _))
        {
            return $"stream url host {Kernel.KernelFiles.Printable(host)} is not an IPv6 address";
        }
        if (!int.TryParse(url.Groups["port"].Value, out var port) || port is < 1 or > 65535)
        {
            return "stream url port must be 1-65535";
        }
        if (StreamId is null || !StreamIdPattern().IsMatch(StreamId))
        {
            return "stream id must be 1-512 characters of A-Z a-z 0-9 . _ ~ : / = , # ! @ + -";
        }
        if (Passphrase is null || !PassphrasePattern().IsMatch(Passphrase))
        {
            return "stream passphrase must be 16-79 printable ASCII characters without spaces";
        }
        return null;
    }

    // \z, not $: $ would let a trailing newline through.
    // A DNS name (labels of letters, digits and inner hyphens), an IPv4 address, or a bracketed IPv6 address.
    [GeneratedRegex(@"^srt://(?<host>(?=[A-Za-z0-9.-]{1,253}:)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\]):(?<port>[0-9]{1,5})\z")]
    private static partial Regex UrlPattern();

    // The characters of SRT's access-control syntax (#!::r=name,m=publish) and little else.
    [GeneratedRegex(@"^[A-Za-z0-9._~:/=,#!@+\-]{1,512}\z")]
    private static partial Regex StreamIdPattern();

    [GeneratedRegex(@"^[\x21-\x7E]{16,79}\z")]
    private static partial Regex PassphrasePattern();
}

/// <summary>The camera: starts a capture that streams out, and can pull one frame into memory for a self-test.</summary>
public interface ICamera
{
    /// <summary>Starts capture. Returns once the capture process runs; records <c>capture on</c> in the timeline.</summary>
    Task<ICapture> StartAsync(StreamTarget target, CancellationToken cancellationToken);

    /// <summary>Opens the source and pulls one frame into memory, never to disk. Null when fine, else the fault.</summary>
    Task<string?> CheckAsync(CancellationToken cancellationToken);
}

/// <summary>A running capture process.</summary>
public interface ICapture : IAsyncDisposable
{
    int ProcessId { get; }

    /// <summary>Completes, with the reason, if capture ends or stalls without being asked to stop.</summary>
    Task<string> Failed { get; }

    /// <summary>Stops the process (SIGTERM, SIGKILL after 1 s) and returns once it is gone; records <c>capture off</c>.</summary>
    Task StopAsync();
}
