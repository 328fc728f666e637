using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;

namespace HomeUnit.Agent.Session;

/// <summary>
/// An already validated look: the grant has been verified, lies inside the care plan, and its
/// streaming time is capped by device policy. The session state machine trusts nothing else.
/// </summary>
public sealed record SessionRequest(
    string GrantId,
    string Operator,
    string Kind,
    LensPosition View,
    TimeSpan MaxStreaming,
    StreamTarget Stream,
    string? Check = null);
