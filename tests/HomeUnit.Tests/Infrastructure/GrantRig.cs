using System.Security.Cryptography;
using System.Text.Json.Nodes;
using HomeUnit.Central;
using HomeUnit.Agent;
using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.Session;
using HomeUnit.Agent.State;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Protocol;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace HomeUnit.Tests.Infrastructure;

/// <summary>
/// The device's grant path on real files: a trusted key directory, a kernel tree with the
/// timesync marker, a real SQLite state database, and the central's signer. <see cref="Restart"/>
/// builds every device-side part anew on the same files, as after a reboot. With <c>standby: true</c>
/// the unit trusts two centrals: <see cref="Central"/> as primary and <see cref="Standby"/> as standby,
/// each with its own key; otherwise one central configured the old way (<c>Trust:Issuer</c>).
/// </summary>
public sealed class GrantRig : IDisposable
{
    public const string DeviceId = "hu-test-1";
    public const string Kid = "central-1";
    public const string StandbyKid = "standby-1";
    public const string PrimaryIssuer = "kalix-larm";
    public const string StandbyIssuer = "supplier-larm";
    public const string Passphrase = "correct-horse-battery-staple";

    /// <summary>2026-11-22 22:30 in Stockholm (CET, UTC+1).</summary>
    public static readonly DateTimeOffset Evening = new(2026, 11, 22, 21, 30, 0, TimeSpan.Zero);

    public GrantRig(DateTimeOffset? now = null, bool standby = false)
    {
        Root = Directory.CreateTempSubdirectory("homeunit-grants-").FullName;
        Directory.CreateDirectory(KeysDirectory);
        Key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        File.WriteAllText(Path.Combine(KeysDirectory, Kid + ".pem"), Key.ExportSubjectPublicKeyInfoPem());
        StandbyKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        if (standby)
        {
            File.WriteAllText(Path.Combine(KeysDirectory, StandbyKid + ".pem"), StandbyKey.ExportSubjectPublicKeyInfoPem());
            Centrals = [new TrustedCentral(PrimaryIssuer, CentralRoles.Primary, [Kid]), new TrustedCentral(StandbyIssuer, CentralRoles.Standby, [StandbyKid])];
        }
        Central = new CentralSigner(Key, Kid, standby ? PrimaryIssuer : CentralSigner.DefaultIssuer);
        Standby = new CentralSigner(StandbyKey, StandbyKid, StandbyIssuer);
        Directory.CreateDirectory(Path.Combine(HardwareRoot, "run/systemd/timesync"));
        SetClockSynchronized(true);
        Clock = new ManualClock(now ?? Evening);
        Start();
    }

    public string Root { get; }
    public string KeysDirectory => Path.Combine(Root, "keys");
    public string HardwareRoot => Path.Combine(Root, "hw");
    public string StateDirectory => Path.Combine(Root, "state");
    public ECDsa Key { get; }
    public ECDsa StandbyKey { get; }
    /// <summary>The primary central (the only one without <c>standby: true</c>).</summary>
    public CentralSigner Central { get; }
    /// <summary>The standby central; trusted only with <c>standby: true</c>.</summary>
    public CentralSigner Standby { get; }
    /// <summary>The trusted centrals as <c>Trust:Centrals</c> would name them, or null for the single <c>Trust:Issuer</c>.</summary>
    public IReadOnlyList<TrustedCentral>? Centrals { get; }
    public ManualClock Clock { get; }
    public TrustPolicy Policy => Get<TrustPolicy>();

    /// <summary>A fault that blocks looks, as health would set it (kept across <see cref="Restart"/>).</summary>
    public bool FaultPresent
    {
        get => faultPresent;
        set
        {
            faultPresent = value;
            Get<HealthState>().Set(UnitFault.Camera, value ? "a fault for the test" : null);
        }
    }

    public StateDatabase Database => Get<StateDatabase>();
    public Outbox Outbox => Get<Outbox>();
    public AuditLog Audit => Get<AuditLog>();
    public Events Events => Get<Events>();
    public Supervision Supervision => Get<Supervision>();
    public ReplayCache Replay => Get<ReplayCache>();
    public RefusalAudit Refusals => Get<RefusalAudit>();
    public SignedTokenReader Reader => Get<SignedTokenReader>();
    public CarePlanStore Plans => Get<CarePlanStore>();
    public GrantVerifier Grants => Get<GrantVerifier>();
    public SessionAuthorizer Authorizer => Get<SessionAuthorizer>();
    public CommandVerifier Commands => Get<CommandVerifier>();
    /// <summary>Where the link hands every grant, care plan and command (not started: tests call it directly).</summary>
    public CentralMessages Messages => Get<CentralMessages>();

    private ServiceProvider provider = null!;
    private bool faultPresent;

    private T Get<T>() where T : notnull => provider.GetRequiredService<T>();

    /// <summary>The resident's privacy pause of the composed unit.</summary>
    public PrivacyPause Pause => Get<PrivacyPause>();

    /// <summary>Every device-side part anew on the same files (a restart).</summary>
    public void Restart() => Start();

    /// <summary>The agent as the host composes it (<see cref="AgentComposition"/>), with the rig's clock, files and keys.</summary>
    private void Start()
    {
        var options = new AgentOptions
        {
            DeviceId = DeviceId,
            State = { Directory = StateDirectory },
            Trust = { KeysDirectory = KeysDirectory },
            Hardware = { Root = HardwareRoot },
        };
        var keys = Centrals is null ? TrustedKeys.Load(KeysDirectory) : TrustedKeys.Load(KeysDirectory, Centrals);
        provider = new ServiceCollection().AddLogging().AddAgent(options, keys, new AgentSeams { Clock = Clock }).BuildServiceProvider();
        FaultPresent = faultPresent;
    }

    public void SetClockSynchronized(bool synchronized)
    {
        var marker = Path.Combine(HardwareRoot, ClockTrust.SynchronizedMarker);
        if (synchronized)
        {
            File.WriteAllText(marker, "");
        }
        else
        {
            File.Delete(marker);
        }
    }

    /// <summary>A well-formed grant for now (window −10 s..+110 s) unless changed by <paramref name="change"/>.</summary>
    public GrantSpec GrantSpec(string kind = SessionKinds.Scheduled, string? check = null) => new(
        DeviceId, "operator-7", kind, Views.Bed, Clock.GetUtcNow().AddSeconds(-10), TimeSpan.FromSeconds(120), 30,
        new StreamPayload("srt://central.example:9000", "look-" + Guid.NewGuid().ToString("N")[..8], Passphrase), check);

    public string Grant(string kind = SessionKinds.Scheduled, string? check = null) => Central.Grant(GrantSpec(kind, check), Clock.GetUtcNow());

    /// <summary>A valid grant's payload as a JSON object, for tests that bend one claim.</summary>
    public JsonObject GrantPayload() => JsonNode.Parse(TokenForge.PayloadOf(Grant()))!.AsObject();

    /// <summary>The usual plan: checks at 22:30 and 01:30 (±15 min), follow-ups within 30 min, at most 2.</summary>
    public static CarePlanPayload Plan(long version = 1, string tz = "Europe/Stockholm", IReadOnlyList<CarePlanCheck>? checks = null,
        FollowUpRule? followUp = null, IReadOnlyList<string>? paused = null, long validFrom = 0) =>
        new(CentralSigner.DefaultIssuer, DeviceId, 0, version, tz,
            checks ?? [new CarePlanCheck("c1", "22:30", 15), new CarePlanCheck("c2", "01:30", 15)],
            validFrom, followUp ?? new FollowUpRule(30, 2), paused ?? []);

    public async Task<CarePlanOutcome> ApplyPlanAsync(CarePlanPayload plan)
    {
        var (outcome, reason) = await Plans.ApplyAsync(Central.Sign(plan with { Iss = Central.Issuer }));
        Assert.True(outcome != CarePlanOutcome.Refused, $"plan refused: {reason}");
        return outcome;
    }

    /// <summary>What the session state machine does first with an accepted look: its durable <c>session.accepted</c> record.</summary>
    public void RecordAccepted(SessionRequest look) => Audit.Append(SessionMachine.AcceptedRecord(look));

    /// <summary>Authorizes and, if accepted, records the look as the state machine would.</summary>
    public async Task<SessionDecision> LookAsync(string token)
    {
        var decision = await Authorizer.AuthorizeAsync(token);
        if (decision.Request is { } look)
        {
            RecordAccepted(look);
        }
        return decision;
    }

    public IReadOnlyList<AuditRecord> AuditRecords(AuditType type) => Audit.List().Where(r => r.Type == type).ToList();

    public void Dispose()
    {
        Key.Dispose();
        StandbyKey.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless; the test result stands.
        }
    }
}
