using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;

namespace HomeUnit.Agent.Session;

/// <summary>
/// An already validated look: the grant has been verified, lies inside the care plan, and its
/// streaming time is capped by device policy. The session state machine trusts nothing else.
/// A look streams for at most <see cref="MaxStreaming"/> from the moment capture starts, and never
/// past <see cref="EndBy"/> (the grant's expiry or the end of the care-plan window, whichever is first).
/// <see cref="Issuer"/> is the central whose grant opened it.
/// </summary>
public sealed record SessionRequest(
    string GrantId,
    string Operator,
    string Kind,
    LensPosition View,
    TimeSpan MaxStreaming,
    StreamTarget Stream,
    string? Check = null,
    DateTimeOffset? EndBy = null,
    string? Issuer = null);
