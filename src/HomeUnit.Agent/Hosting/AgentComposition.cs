using HomeUnit.Agent.Audit;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Ledger;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.Session;
using HomeUnit.Agent.State;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;
using HomeUnit.Drivers.Kernel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Hosting;

/// <summary>
/// What may differ between the daemon and a test of it. Everything else is composed one way, by
/// <see cref="AgentComposition.AddAgent"/>: the host takes these defaults, tests replace only these.
/// </summary>
public sealed record AgentSeams
{
    /// <summary>The wall clock every part reads (a test's manual clock).</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Where the drivers record every transition (in memory unless the host gives a file).</summary>
    public HardwareTimeline Timeline { get; init; } = new();

    /// <summary>The camera; null means the configured ffmpeg camera (a test may give a broken one).</summary>
    public Func<HardwareTimeline, ICamera>? Camera { get; init; }

    /// <summary>The privacy button on the simulated tree's GPIO file rather than libgpiod.</summary>
    public bool SimulatedButton { get; init; }
}

/// <summary>The one composition of the agent's parts, used by the host and the tests alike.</summary>
public static class AgentComposition
{
    /// <summary>
    /// Every part of the agent as a singleton, and its loops as hosted services. Registration order of
    /// the hosted services is start order, and stop order reversed: the link starts first (it only
    /// connects and queues what arrives) and stops last, so what safety reports while stopping — the
    /// end of a running look, agent.stopping — still goes out. Safety then drives the hardware to the
    /// safe state before anything can act on a message.
    /// </summary>
    public static IServiceCollection AddAgent(this IServiceCollection services, AgentOptions options, TrustedKeys trustedKeys, AgentSeams seams)
    {
        var clock = seams.Clock;
        var timeline = seams.Timeline;
        services.AddSingleton(options);
        services.AddSingleton(clock);
        services.AddSingleton(timeline);
        services.AddSingleton(_ => seams.Camera is { } camera
            ? new UnitHardware(AgentHost.HardwareSettings(options), timeline, () => camera(timeline))
            : AgentHost.CreateHardware(options, timeline));
        // Opened now, not on first use: a state database that cannot be opened (or is newer) stops the agent before it starts.
        services.AddSingleton(new StateDatabase(options.State.Directory, options.Mqtt.OutboxCapacity));
        services.AddSingleton<Outbox>();
        services.AddSingleton(sp => new AuditLog(sp.GetRequiredService<StateDatabase>(), options.DeviceId, clock));
        services.AddSingleton<Events>();
        services.AddSingleton<SessionMachine>();
        services.AddSingleton<LoopHeartbeats>();
        services.AddSingleton<HealthState>();
        services.AddSingleton(_ => new ClockTrust(new KernelFiles(options.Hardware.Root)));
        services.AddSingleton(sp => AgentHost.CreateHealthReadings(options, sp.GetRequiredService<UnitHardware>()));
        services.AddSingleton(sp => new SelfTest(sp.GetRequiredService<HealthReadings>(), sp.GetRequiredService<SessionMachine>().CheckCameraAsync, sp.GetRequiredService<HealthState>()));
        services.AddSingleton(sp => new LinkService(options.Mqtt, options.DeviceId, sp.GetRequiredService<Outbox>(),
            sp.GetRequiredService<Events>(), sp.GetRequiredService<HealthState>(), sp.GetRequiredService<LoopHeartbeats>(), clock, sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<Supervision>()));

        services.AddSingleton(new TrustPolicy(options.DeviceId,
            TimeSpan.FromSeconds(options.Policy.ClockSkewSeconds), TimeSpan.FromSeconds(options.Policy.MaxSessionSeconds)));
        services.AddSingleton(trustedKeys);
        services.AddSingleton<SignedTokenReader>();
        services.AddSingleton<GrantVerifier>();
        services.AddSingleton<CommandVerifier>();
        services.AddSingleton<ReplayCache>();
        services.AddSingleton<Supervision>();
        services.AddSingleton<RefusalAudit>();
        services.AddSingleton<CarePlanStore>();
        services.AddSingleton(sp => new SessionAuthorizer(
            sp.GetRequiredService<GrantVerifier>(), sp.GetRequiredService<TrustPolicy>(), sp.GetRequiredService<ClockTrust>(),
            sp.GetRequiredService<ReplayCache>(), sp.GetRequiredService<CarePlanStore>(), sp.GetRequiredService<Supervision>(), sp.GetRequiredService<AuditLog>(),
            sp.GetRequiredService<RefusalAudit>(), () => sp.GetRequiredService<HealthState>().BlocksLook, clock,
            sp.GetRequiredService<ILogger<SessionAuthorizer>>(), () => sp.GetRequiredService<PrivacyPause>().Until is not null));
        services.AddSingleton(sp => new Readiness(sp.GetRequiredService<SelfTest>(), sp.GetRequiredService<CarePlanStore>(),
            sp.GetRequiredService<Events>(), sp.GetRequiredService<LoopHeartbeats>(), clock,
            TimeSpan.FromMinutes(options.Health.ReadinessLeadMinutes), sp.GetRequiredService<ILogger<Readiness>>()));
        services.AddSingleton(sp => new PrivacyPause(sp.GetRequiredService<SessionMachine>(), sp.GetRequiredService<CarePlanStore>(),
            sp.GetRequiredService<AuditLog>(), sp.GetRequiredService<Events>(), () => AgentHost.CreateButton(options, timeline, seams.SimulatedButton),
            sp.GetRequiredService<LoopHeartbeats>(), clock, sp.GetRequiredService<ILogger<PrivacyPause>>()));
        services.AddSingleton(sp => new ConditionLog(sp.GetRequiredService<StateDatabase>()));
        services.AddSingleton(sp => new NightLedger(sp.GetRequiredService<AuditLog>(), sp.GetRequiredService<Events>(),
            sp.GetRequiredService<ConditionLog>(), sp.GetRequiredService<CarePlanStore>(),
            () => AgentHost.UnitConditions(sp.GetRequiredService<HealthState>(), sp.GetRequiredService<LinkService>(), sp.GetRequiredService<PrivacyPause>()),
            () => sp.GetRequiredService<SessionMachine>().Current, sp.GetRequiredService<LoopHeartbeats>(), clock,
            sp.GetRequiredService<ILogger<NightLedger>>()));
        services.AddSingleton<CentralMessages>();
        services.AddSingleton(sp => sp.GetRequiredService<LinkService>().Inbound);
        services.AddSingleton<HealthMonitor>();

        services.AddHostedService(sp => sp.GetRequiredService<LinkService>());
        services.AddHostedService<SafetyService>();
        // Only under systemd is there a notifier (Microsoft.Extensions.Hosting.Systemd); elsewhere this does nothing.
        services.AddHostedService(sp => new SystemdWatchdog(sp.GetService<ISystemdNotifier>(), SystemdWatchdog.IntervalFromEnvironment(),
            sp.GetRequiredService<LoopHeartbeats>(), sp.GetRequiredService<ILogger<SystemdWatchdog>>()));
        services.AddHostedService(sp => sp.GetRequiredService<HealthMonitor>());
        services.AddHostedService(sp => sp.GetRequiredService<Readiness>());
        services.AddHostedService<RefusalFlush>();
        services.AddHostedService<HandoverExpiry>();
        // A pause left running by the last run is in force again before any grant is handled (PrivacyPause.StartAsync).
        services.AddHostedService(sp => sp.GetRequiredService<PrivacyPause>());
        services.AddHostedService(sp => sp.GetRequiredService<CentralMessages>());
        services.AddHostedService(sp => sp.GetRequiredService<NightLedger>());
        return services;
    }
}
