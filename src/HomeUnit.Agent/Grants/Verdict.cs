using HomeUnit.Protocol;

namespace HomeUnit.Agent.Grants;

/// <summary>Either a value that passed every check, or the refusal reason code of the first check it failed.</summary>
public readonly record struct Verdict<T>(T? Value, RefusalReason? Reason) where T : class
{
    public static Verdict<T> Pass(T value) => new(value, null);

    public static Verdict<T> Refuse(RefusalReason reason) => new(null, reason);
}
