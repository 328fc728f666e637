using System.Threading.Channels;
using HomeUnit.Agent.Audit;
using HomeUnit.Drivers;
using HomeUnit.Drivers.Camera;
using HomeUnit.Drivers.Kernel;
using HomeUnit.Protocol;
using Microsoft.Extensions.Logging;

namespace HomeUnit.Agent.Session;

public enum SessionState
{
    /// <summary>Red, IR off, lens up with PWM disabled, no capture process; the camera is free.</summary>
    Idle,
    /// <summary>A readiness self-test holds the camera (one frame into memory); looks are refused as busy.</summary>
    SelfTest,
    /// <summary>Accepted record durable; green on, IR on, lens turning to the view; then capture starts.</summary>
    Starting,
    /// <summary>Capture running; the local deadline is armed.</summary>
    Live,
    /// <summary>Capture stopped first, then lens up, IR off, red.</summary>
    Stopping,
    /// <summary>A capture could not be stopped: green stays lit and no look starts until the agent restarts
    /// (and systemd kills its control group).</summary>
    Faulted,
}

/// <summary>What became of a request to start a look.</summary>
public enum StartOutcome
{
    Started,
    /// <summary>A look or a self-test holds the camera: refused as <c>busy</c>.</summary>
    Busy,
    /// <summary>The accepted record could not be made durable: no look (P6, fail closed).</summary>
    AuditUnavailable,
    /// <summary>The machine is <see cref="SessionState.Faulted"/>.</summary>
    Faulted,
    /// <summary>The resident has paused the camera: refused as <c>privacy-paused</c>.</summary>
    Paused,
}

/// <summary>
/// The look, as a state machine:
/// <code>
/// Idle → Starting → Live → Stopping → Idle      a look (any step may fail: → Stopping)
/// Idle → SelfTest → Idle                        the readiness self-test's frame
/// Stopping → Faulted                            the capture would not stop (final)
/// </code>
/// It keeps P2, P3, P5 and P6:
/// <list type="bullet">
/// <item>P6: the <c>session.accepted</c> record is durable before anything moves; if it cannot be
/// written the look does not happen.</item>
/// <item>P3: green is lit before capture starts, and red only after the capture process is gone.</item>
/// <item>P5: a local timer ends the look at the grant's limit; no message is needed.</item>
/// <item>P2: stopping always turns the lens up and disables PWM.</item>
/// </list>
/// The camera has one user at a time, a look or a self-test: <see cref="CameraUnavailable"/> is that rule.
/// Every transition is written to the hardware timeline (part <c>session</c>). Every failure takes one
/// path: <see cref="Fail"/> ends the look with its reason and reports the fault once.
/// The resident's privacy pause lies across the states: <see cref="Pause"/> ends a running look at once
/// (reason <c>privacy-paused</c>) and no look starts until <see cref="Resume"/>; while idle and paused the
/// light shows the pause pattern (red with a dark beat, never green).
/// </summary>
public sealed class SessionMachine(UnitHardware hardware, AuditLog audit, Events events, TimeProvider clock, ILogger<SessionMachine> log)
{
    /// <summary>The light, lens and camera must be ready within this; else the look is aborted.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The timeline part that records the machine's own states.</summary>
    public const string TimelinePart = "session";

    private readonly Lock gate = new();
    private Look? current;
    private SessionState state = SessionState.Idle;
    private bool paused;
    private ITimer? refusedFlicker;

    public SessionState State
    {
        get { lock (gate) return state; }
    }

    public SessionRequest? Current
    {
        get { lock (gate) return current?.Request; }
    }

    /// <summary>The record a look's acceptance leaves: durable before anything moves (P6).</summary>
    public static AuditRecord AcceptedRecord(SessionRequest request) => Record(AuditType.SessionAccepted, request);

    /// <summary>Starts a look unless the camera is in use. Returns once the accepted record is durable (or could not be).</summary>
    public StartOutcome TryStart(SessionRequest request)
    {
        lock (gate)
        {
            if (paused && state != SessionState.Faulted)
            {
                return StartOutcome.Paused;
            }
            if (CameraUnavailable() is { } refused)
            {
                return refused;
            }
            try
            {
                audit.Append(AcceptedRecord(request));
            }
            catch (Exception e)
            {
                log.LogError("no look for grant {Grant}: the accepted record could not be made durable: {Error}", request.GrantId, e.Message);
                return StartOutcome.AuditUnavailable;
            }
            MoveTo(SessionState.Starting);
            var look = new Look(request);
            current = look;
            look.Run = Task.Run(() => RunAsync(look));
            return StartOutcome.Started;
        }
    }

    /// <summary>
    /// Runs the readiness self-test's camera check while no look runs, keeping looks out meanwhile.
    /// Null when fine, else the fault; null too when a look or another self-test holds the camera (a look proves it).
    /// </summary>
    public async Task<string?> CheckCameraAsync(CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (CameraUnavailable() is not null)
            {
                return null;
            }
            MoveTo(SessionState.SelfTest);
        }
        try
        {
            return await hardware.Camera.CheckAsync(cancellationToken);
        }
        finally
        {
            lock (gate)
            {
                MoveTo(SessionState.Idle);
            }
        }
    }

    /// <summary>
    /// The camera's one-user-at-a-time rule: only an idle machine gives the camera to a look
    /// (→ <see cref="SessionState.Starting"/>) or a self-test (→ <see cref="SessionState.SelfTest"/>).
    /// Null when it is free, else why not. Called under the gate.
    /// </summary>
    private StartOutcome? CameraUnavailable() => state switch
    {
        SessionState.Idle => null,
        SessionState.Faulted => StartOutcome.Faulted,
        _ => StartOutcome.Busy,
    };

    /// <summary>Ends the running look now (a <c>stop</c> command, a fault, shutdown). False if none runs or the grant differs.</summary>
    public bool RequestStop(EndReason reason, string? grantId = null, string? detail = null)
    {
        lock (gate)
        {
            if (current is null || (grantId is not null && grantId != current.Request.GrantId))
            {
                return false;
            }
            current.End(reason, detail);
            return true;
        }
    }

    /// <summary>The resident's pause begins: a running look ends now; none starts until <see cref="Resume"/>.</summary>
    public void Pause()
    {
        lock (gate)
        {
            paused = true;
            if (current is not null)
            {
                current.End(EndReason.PrivacyPaused); // the light follows once capture has stopped
            }
            else
            {
                TryLight(hardware.Light.ShowPaused);
            }
        }
    }

    /// <summary>The pause is over: looks may start again, and the light is steady red.</summary>
    public void Resume()
    {
        lock (gate)
        {
            paused = false;
            if (current is null)
            {
                TryLight(hardware.Light.ShowCameraOff);
            }
        }
    }

    /// <summary>A press the care plan allows no pause for: a short red flicker while idle, then steady red.</summary>
    public void ShowPressRefused()
    {
        lock (gate)
        {
            if (current is not null || paused)
            {
                return;
            }
            TryLight(hardware.Light.ShowRefused);
            refusedFlicker?.Dispose();
            refusedFlicker = clock.CreateTimer(_ =>
            {
                lock (gate)
                {
                    if (current is null && !paused)
                    {
                        TryLight(hardware.Light.ShowCameraOff);
                    }
                }
            }, null, StatusLight.RefusedFor, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Turns the lens during a live look, for that look's grant only.</summary>
    public bool RequestPan(string grantId, LensPosition view)
    {
        lock (gate)
        {
            return current is not null && state == SessionState.Live && current.Request.GrantId == grantId
                && view != LensPosition.LensUp && current.Pans.Writer.TryWrite(view);
        }
    }

    /// <summary>Completes when no look runs.</summary>
    public Task WhenIdleAsync()
    {
        lock (gate)
        {
            return current?.Run ?? Task.CompletedTask;
        }
    }

    /// <summary>Ends any look and waits until the hardware is safe.</summary>
    public async Task StopAsync(EndReason reason)
    {
        RequestStop(reason);
        await WhenIdleAsync();
    }

    private async Task RunAsync(Look look)
    {
        var request = look.Request;
        ICapture? capture = null;
        DateTimeOffset? startedAt = null;
        try
        {
            using (clock.CreateTimer(_ => look.End(EndReason.StartTimeout), null, StartTimeout, Timeout.InfiniteTimeSpan))
            {
                await Step(EndReason.LightFault, () =>
                {
                    hardware.Light.ShowCameraOn();
                    hardware.Ir.Set(true);
                    return Task.CompletedTask;
                });
                // The lens turns while the capture pipeline starts, so a look costs the longer of the two, not
                // their sum. Green is already lit (P3); both steps finish before either fault is acted on, and a
                // capture that started is stopped like any other.
                var turning = Step(EndReason.ServoFault, () => hardware.Servo.MoveAsync(request.View, look.Ending));
                var starting = Step(EndReason.CameraFault, async () =>
                {
                    var started = await hardware.Camera.StartAsync(request.Stream, look.Ending);
                    startedAt = clock.GetUtcNow();
                    return started;
                });
                await Task.WhenAll(turning, starting).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
                capture = starting.IsCompletedSuccessfully ? starting.Result : null;
                await turning;
                capture = await starting;
            }
            _ = capture.Failed.ContinueWith(
                failed => Fail(look, EndReason.CameraFault, failed.Result),
                CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            // P5 counts from the moment capture started, not from when the lens arrived.
            var left = Streaming(request, startedAt!.Value) - (clock.GetUtcNow() - startedAt.Value);
            using var deadline = clock.CreateTimer(_ => look.End(EndReason.Completed), null, left > TimeSpan.Zero ? left : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
            lock (gate)
            {
                look.Ending.ThrowIfCancellationRequested();
                MoveTo(SessionState.Live);
            }
            await Step(EndReason.StorageFault, () =>
            {
                audit.Append(Record(AuditType.SessionStarted, request) with { StartedAt = Wire.Time(startedAt.Value) });
                return Task.CompletedTask;
            });
            Report(EventType.SessionStarted, Severity.Info, new { grant = request.GrantId, view = PanServo.Name(request.View) });
            await foreach (var view in look.Pans.Reader.ReadAllAsync(look.Ending))
            {
                await Step(EndReason.ServoFault, () => hardware.Servo.MoveAsync(view, look.Ending));
            }
        }
        catch (OperationCanceledException) when (look.Ending.IsCancellationRequested)
        {
            // The deadline, a stop, a fault or shutdown: the reason is on the look.
        }
        catch (Exception e)
        {
            // A step's fault (StepFault names the part) or anything unforeseen: the look ends, never the machine.
            Fail(look, e is StepFault step ? step.Reason : EndReason.Fault, e.Message);
        }
        finally
        {
            await StopAsync(look, capture, startedAt);
        }
    }

    /// <summary>P5: the grant's streaming time from now, but never past its absolute end.</summary>
    private static TimeSpan Streaming(SessionRequest request, DateTimeOffset now)
    {
        var streaming = request.EndBy is { } endBy && endBy - now < request.MaxStreaming ? endBy - now : request.MaxStreaming;
        return streaming > TimeSpan.Zero ? streaming : TimeSpan.Zero;
    }

    /// <summary>Capture off first, then lens up, IR off and red (P3, P2); then the end is recorded.</summary>
    private async Task StopAsync(Look look, ICapture? capture, DateTimeOffset? startedAt)
    {
        lock (gate)
        {
            MoveTo(SessionState.Stopping);
        }
        var reason = look.Reason ?? EndReason.Completed;
        var captureGone = true;
        if (capture is not null)
        {
            try
            {
                await capture.StopAsync();
                await capture.DisposeAsync();
            }
            catch (Exception e)
            {
                // P3: green stays lit while a capture process may still run, and no look starts again.
                captureGone = false;
                ReportFault(EndReason.CameraFault, $"capture did not stop: {e.Message}", look.Request.GrantId);
            }
        }
        var endedAt = clock.GetUtcNow();
        await SafeStep(EndReason.ServoFault, look, () => hardware.Servo.MoveAsync(LensPosition.LensUp));
        await SafeStep(EndReason.LightFault, look, () => { hardware.Ir.Set(false); return Task.CompletedTask; });
        if (captureGone)
        {
            await SafeStep(EndReason.LightFault, look, () => { hardware.Light.ShowCameraOff(); return Task.CompletedTask; });
        }
        var ended = Record(reason.IsAbort() ? AuditType.SessionAborted : AuditType.SessionEnded, look.Request) with
        {
            StartedAt = startedAt is { } s ? Wire.Time(s) : null,
            EndedAt = Wire.Time(endedAt),
            DurationMs = startedAt is { } t ? (long)(endedAt - t).TotalMilliseconds : 0,
            Reason = reason.Code(),
            Detail = look.Detail,
        };
        try
        {
            audit.Append(ended);
        }
        catch (Exception e)
        {
            log.LogError("the end of the look for grant {Grant} could not be audited: {Error}", look.Request.GrantId, e.Message);
        }
        Report(reason.IsAbort() ? EventType.SessionAborted : EventType.SessionEnded, reason.IsAbort() ? Severity.Warning : Severity.Info,
            new { grant = look.Request.GrantId, reason = reason.Code(), detail = look.Detail, durationMs = ended.DurationMs });
        lock (gate)
        {
            if (captureGone && paused)
            {
                TryLight(hardware.Light.ShowPaused);
            }
            current = null;
            MoveTo(captureGone ? SessionState.Idle : SessionState.Faulted);
        }
    }

    /// <summary>
    /// The one way a failure is handled: it ends the look with its reason, and if it is the first reason
    /// to end it, the fault is logged and its event raised here. A look ended from outside (health's own
    /// reading, a stop) raises nothing: whoever found a fault reports it, once.
    /// </summary>
    private void Fail(Look look, EndReason reason, string detail)
    {
        if (look.End(reason, detail))
        {
            log.LogError("look for grant {Grant} failed: {Reason}: {Detail}", look.Request.GrantId, reason.Code(), detail);
            ReportFault(reason, detail, look.Request.GrantId);
        }
    }

    /// <summary>Runs one step of starting or panning; a failure becomes a <see cref="StepFault"/> naming the part.</summary>
    private static async Task<T> Step<T>(EndReason faultReason, Func<Task<T>> step)
    {
        try
        {
            return await step();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new StepFault(faultReason, e);
        }
    }

    private static Task Step(EndReason faultReason, Func<Task> step) =>
        Step(faultReason, async () => { await step(); return true; });

    /// <summary>A step of making the hardware safe: a failure is reported and the next step still runs.</summary>
    private async Task SafeStep(EndReason faultReason, Look look, Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (Exception e)
        {
            ReportFault(faultReason, e.Message, look.Request.GrantId);
        }
    }

    /// <summary>A light change outside a look (the pause pattern): a failure is reported as a light fault.</summary>
    private void TryLight(Action show)
    {
        try
        {
            show();
        }
        catch (HardwareFault e)
        {
            ReportFault(EndReason.LightFault, e.Message, grant: null);
        }
    }

    private void ReportFault(EndReason reason, string detail, string? grant)
    {
        if (FaultEvents.TryGetValue(reason, out var type))
        {
            Report(type, Severity.Critical, new { reason = reason.Code(), detail, grant });
        }
    }

    /// <summary>The fault event of each end reason that names a broken part.</summary>
    private static readonly Dictionary<EndReason, EventType> FaultEvents = new()
    {
        [EndReason.CameraFault] = EventType.CameraFault,
        [EndReason.ServoFault] = EventType.ServoFault,
        [EndReason.LightFault] = EventType.LightFault,
        [EndReason.StorageFault] = EventType.StorageFault,
    };

    /// <summary>Raises an event; a storage failure here must not keep the hardware from reaching Idle.</summary>
    private void Report(EventType type, Severity severity, object data)
    {
        try
        {
            events.Raise(type, severity, data);
        }
        catch (Exception e)
        {
            log.LogError("event {Type} could not be stored: {Error}", type.Code(), e.Message);
        }
    }

    private static AuditRecord Record(AuditType type, SessionRequest request) => new()
    {
        Type = type,
        Grant = request.GrantId,
        Issuer = request.Issuer,
        Operator = request.Operator,
        Kind = request.Kind,
        View = PanServo.Name(request.View),
        Check = request.Check,
    };

    /// <summary>Every transition, written to the hardware timeline beside what the drivers did. Called under the gate.</summary>
    private void MoveTo(SessionState next)
    {
        if (state == next)
        {
            return;
        }
        state = next;
        hardware.Timeline.Record(TimelinePart, next.ToString().ToLowerInvariant());
    }

    /// <summary>A look in progress: its request, the first reason it was ended for, and its pan requests.</summary>
    private sealed class Look(SessionRequest request)
    {
        private readonly CancellationTokenSource ending = new();
        private readonly Lock gate = new();

        public SessionRequest Request { get; } = request;

        public Channel<LensPosition> Pans { get; } = Channel.CreateBounded<LensPosition>(4);

        public Task Run { get; set; } = Task.CompletedTask;

        public CancellationToken Ending => ending.Token;

        public EndReason? Reason { get; private set; }

        public string? Detail { get; private set; }

        /// <summary>Ends the look; the first reason wins. True if this call gave the reason.</summary>
        public bool End(EndReason why, string? detail = null)
        {
            bool first;
            lock (gate)
            {
                first = Reason is null;
                if (first)
                {
                    (Reason, Detail) = (why, detail);
                }
            }
            ending.Cancel();
            return first;
        }
    }

    /// <summary>A step of the look failed; <see cref="Reason"/> names the part, the message says how.</summary>
    private sealed class StepFault(EndReason reason, Exception inner) : Exception(inner.Message, inner)
    {
        public EndReason Reason { get; } = reason;
    }
}
