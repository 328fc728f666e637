using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;

namespace HomeUnit.Agent.Grants;

/// <summary>
/// A session grant whose signature, issuer, audience and claims have been checked (not yet its
/// time window, replay or care plan). <see cref="MaxStreaming"/> is already capped by device policy.
/// </summary>
public sealed record Grant(
    string Issuer,
    string Jti,
    string Operator,
    string Kind,
    LensPosition View,
    string? Check,
    DateTimeOffset NotBefore,
    DateTimeOffset Expires,
    TimeSpan MaxStreaming,
    StreamTarget Stream);
