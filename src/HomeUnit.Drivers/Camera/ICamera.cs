namespace HomeUnit.Drivers.Camera;

/// <summary>Where a look's picture goes: the grant's SRT listener, its stream id and passphrase.</summary>
public sealed record StreamTarget(string Url, string StreamId, string Passphrase)
{
    // The passphrase is a secret: never printed, logged or audited.
    public override string ToString() => $"{Url} streamid={StreamId}";
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
