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
    /// <summary>Red, IR off, lens up with PWM disabled, no capture process.</summary>
    Idle,
    /// <summary>Accepted record durable; green on, IR on, lens turning to the view; then capture starts.</summary>
    Starting,
    /// <summary>Capture running; the local deadline is armed.</summary>
    Live,
    /// <summary>Capture stopped first, then lens up, IR off, red.</summary>
    Stopping,
}

/// <summary>Why a look ended; the audit record's <c>reason</c>.</summary>
public static class EndReasons
{
    public const string Completed = "completed";
    public const string Stopped = "stopped";
    public const string AgentStopping = "agent-stopping";
    public const string AgentDied = "agent-died";
    public const string StartTimeout = "start-timeout";
    public const string CameraFault = "camera-fault";
    public const string ServoFault = "servo-fault";
    public const string LightFault = "light-fault";
    public const string StorageFault = "storage-fault";

    /// <summary>The resident pressed the privacy button.</summary>
    public const string PrivacyPaused = "privacy-paused";

    /// <summary>Ends that are not the look's ordinary end and so are recorded as <c>session.aborted</c>.</summary>
    public static bool IsAbort(string reason) => reason is not (Completed or Stopped or PrivacyPaused);
}

/// <summary>What became of a request to start a look.</summary>
public enum StartOutcome
{
    Started,
    /// <summary>A look is already running: refused as <c>busy</c>.</summary>
    Busy,
    /// <summary>The accepted record could not be made durable: no look (P6, fail closed).</summary>
    AuditUnavailable,
    /// <summary>An earlier capture could not be stopped: no look until the agent restarts (and systemd kills its control group).</summary>
    Faulted,
    /// <summary>The resident has paused the camera: refused as <c>privacy-paused</c>.</summary>
    Paused,
}

/// <summary>
/// The look, as a state machine: Idle → Starting → Live → Stopping → Idle, one look at a time.
/// It keeps P2, P3, P5 and P6:
/// <list type="bullet">
/// <item>P6: the <c>session.accepted</c> record is durable before anything moves; if it cannot be
/// written the look does not happen.</item>
/// <item>P3: green is lit before capture starts, and red only after the capture process is gone.</item>
/// <item>P5: a local timer ends the look at the grant's limit; no message is needed.</item>
/// <item>P2: stopping always turns the lens up and disables PWM.</item>
/// </list>
/// Every state has a fault path to Stopping. Hardware transitions are written to the timeline by the drivers.
/// The resident's privacy pause lies across the states: <see cref="Pause"/> ends a running look at once
/// (reason <c>privacy-paused</c>) and no look starts until <see cref="Resume"/>; while idle and paused the
/// light shows the pause pattern (red with a dark beat, never green).
/// </summary>
public sealed class SessionMachine(UnitHardware hardware, AuditLog audit, Events events, TimeProvider clock, ILogger<SessionMachine> log)
{
    /// <summary>The light, lens and camera must be ready within this; else the look is aborted.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);

    private readonly object gate = new();
    private Look? current;
    private SessionState state = SessionState.Idle;
    private bool captureOrphaned;
    private bool cameraInUse;
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

    /// <summary>Starts a look unless one runs. Returns once the accepted record is durable (or could not be).</summary>
    public StartOutcome TryStart(SessionRequest request)
    {
        lock (gate)
        {
            if (captureOrphaned)
            {
                return StartOutcome.Faulted;
            }
            if (paused)
            {
                return StartOutcome.Paused;
            }
            if (current is not null || cameraInUse)
            {
                return StartOutcome.Busy;
            }
            try
            {
                audit.Append(Record(AuditTypes.SessionAccepted, request));
            }
            catch (Exception e)
            {
                log.LogError("no look for grant {Grant}: the accepted record could not be made durable: {Error}", request.GrantId, e.Message);
                return StartOutcome.AuditUnavailable;
            }
            var look = new Look(request);
            current = look;
            SetState(SessionState.Starting);
            look.Run = Task.Run(() => RunAsync(look));
            return StartOutcome.Started;
        }
    }

    /// <summary>Ends the running look now (a <c>stop</c> command, a fault, shutdown). False if none runs or the grant differs.</summary>
    public bool RequestStop(string reason, string? grantId = null)
    {
        lock (gate)
        {
            if (current is null || (grantId is not null && grantId != current.Request.GrantId))
            {
                return false;
            }
            current.End(reason);
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
                current.End(EndReasons.PrivacyPaused); // the light follows once capture has stopped
            }
            else
            {
                TryHardware(hardware.Light.ShowPaused, "light");
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
                TryHardware(hardware.Light.ShowCameraOff, "light");
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
            TryHardware(hardware.Light.ShowRefused, "light");
            refusedFlicker?.Dispose();
            refusedFlicker = clock.CreateTimer(_ =>
            {
                lock (gate)
                {
                    if (current is null && !paused)
                    {
                        TryHardware(hardware.Light.ShowCameraOff, "light");
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
    public async Task StopAsync(string reason)
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
            using (clock.CreateTimer(_ => look.End(EndReasons.StartTimeout), null, StartTimeout, Timeout.InfiniteTimeSpan))
            {
                await Guard(EndReasons.LightFault, () =>
                {
                    hardware.Light.ShowCameraOn();
                    hardware.Ir.Set(true);
                    return Task.CompletedTask;
                });
                await Guard(EndReasons.ServoFault, () => hardware.Servo.MoveAsync(request.View, look.Ending));
                capture = await Guard(EndReasons.CameraFault, () => hardware.Camera.StartAsync(request.Stream, look.Ending));
            }
            startedAt = clock.GetUtcNow();
            _ = capture.Failed.ContinueWith(
                failed => look.End($"{EndReasons.CameraFault}: {failed.Result}"),
                CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            using var deadline = clock.CreateTimer(_ => look.End(EndReasons.Completed), null, Streaming(request, startedAt.Value), Timeout.InfiniteTimeSpan);
            lock (gate)
            {
                if (look.Ending.IsCancellationRequested)
                {
                    throw new OperationCanceledException(look.Ending);
                }
                SetState(SessionState.Live);
            }
            await Guard(EndReasons.StorageFault, () =>
            {
                audit.Append(Record(AuditTypes.SessionStarted, request) with { StartedAt = Wire.Time(startedAt.Value) });
                return Task.CompletedTask;
            });
            Report("session.started", Severity.Info, new { grant = request.GrantId, view = PanServo.Name(request.View) });
            await foreach (var view in look.Pans.Reader.ReadAllAsync(look.Ending))
            {
                await Guard(EndReasons.ServoFault, () => hardware.Servo.MoveAsync(view, look.Ending));
            }
        }
        catch (OperationCanceledException) when (look.Ending.IsCancellationRequested)
        {
            // The deadline, a stop, a fault or shutdown: the reason is on the look.
        }
        catch (Exception e)
        {
            // A step's fault (LookFault names it) or anything unforeseen: the look ends, never the machine.
            look.End(e is LookFault ? e.Message : $"fault: {e.Message}");
            log.LogError("look for grant {Grant} failed: {Error}", request.GrantId, e.Message);
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

    private async Task StopAsync(Look look, ICapture? capture, DateTimeOffset? startedAt)
    {
        SetState(SessionState.Stopping);
        var reason = look.Reason ?? EndReasons.Completed;
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
                lock (gate)
                {
                    captureOrphaned = true;
                }
                Report("camera.fault", Severity.Critical, new { reason = $"capture did not stop: {e.Message}" });
            }
        }
        if (reason.StartsWith(EndReasons.CameraFault, StringComparison.Ordinal))
        {
            Report("camera.fault", Severity.Critical, new { reason, grant = look.Request.GrantId });
        }
        var endedAt = clock.GetUtcNow();
        try
        {
            await hardware.Servo.MoveAsync(LensPosition.LensUp);
        }
        catch (Exception e)
        {
            Report("servo.fault", Severity.Critical, new { reason = e.Message });
        }
        TryHardware(() => hardware.Ir.Set(false), "light");
        if (captureGone)
        {
            TryHardware(hardware.Light.ShowCameraOff, "light");
        }
        var ended = Record(EndReasons.IsAbort(reason) ? AuditTypes.SessionAborted : AuditTypes.SessionEnded, look.Request) with
        {
            StartedAt = startedAt is { } s ? Wire.Time(s) : null,
            EndedAt = Wire.Time(endedAt),
            DurationMs = startedAt is { } t ? (long)(endedAt - t).TotalMilliseconds : 0,
            Reason = reason,
        };
        try
        {
            audit.Append(ended);
        }
        catch (Exception e)
        {
            log.LogError("the end of the look for grant {Grant} could not be audited: {Error}", look.Request.GrantId, e.Message);
        }
        Report(ended.Type, EndReasons.IsAbort(reason) ? Severity.Warning : Severity.Info,
            new { grant = look.Request.GrantId, reason, durationMs = ended.DurationMs });
        lock (gate)
        {
            if (captureGone && paused)
            {
                TryHardware(hardware.Light.ShowPaused, "light");
            }
            current = null;
            SetState(SessionState.Idle);
        }
    }

    /// <summary>Runs one step of starting or panning; a failure ends the look with the step's fault reason.</summary>
    private static async Task<T> Guard<T>(string faultReason, Func<Task<T>> step)
    {
        try
        {
            return await step();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new LookFault($"{faultReason}: {e.Message}", e);
        }
    }

    private static Task Guard(string faultReason, Func<Task> step) =>
        Guard(faultReason, async () => { await step(); return true; });

    private void TryHardware(Action action, string part)
    {
        try
        {
            action();
        }
        catch (HardwareFault e)
        {
            Report($"{part}.fault", Severity.Critical, new { reason = e.Message });
        }
    }

    /// <summary>Raises an event; a storage failure here must not keep the hardware from reaching Idle.</summary>
    private void Report(string type, string severity, object data)
    {
        try
        {
            events.Raise(type, severity, data);
        }
        catch (Exception e)
        {
            log.LogError("event {Type} could not be stored: {Error}", type, e.Message);
        }
    }

    private static AuditRecord Record(string type, SessionRequest request) => new()
    {
        Type = type,
        Grant = request.GrantId,
        Issuer = request.Issuer,
        Operator = request.Operator,
        Kind = request.Kind,
        View = PanServo.Name(request.View),
        Check = request.Check,
    };

    private void SetState(SessionState next)
    {
        lock (gate)
        {
            state = next;
        }
    }

    /// <summary>
    /// Runs the readiness self-test's camera check while no look runs, and keeps looks out meanwhile
    /// (they are refused as busy): one user of the camera at a time. Null when fine, else the fault.
    /// </summary>
    public async Task<string?> CheckCameraAsync(CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (current is not null || cameraInUse)
            {
                return null; // in use by a look (which proves it) or another self-test: nothing to add
            }
            cameraInUse = true;
        }
        try
        {
            return await hardware.Camera.CheckAsync(cancellationToken);
        }
        finally
        {
            lock (gate)
            {
                cameraInUse = false;
            }
        }
    }

    /// <summary>A look in progress: its request, the first reason it was ended for, and its pan requests.</summary>
    private sealed class Look(SessionRequest request)
    {
        private readonly CancellationTokenSource ending = new();
        private string? reason;

        public SessionRequest Request { get; } = request;

        public Channel<LensPosition> Pans { get; } = Channel.CreateBounded<LensPosition>(4);

        public Task Run { get; set; } = Task.CompletedTask;

        public CancellationToken Ending => ending.Token;

        public string? Reason => Volatile.Read(ref reason);

        /// <summary>Ends the look; the first reason wins.</summary>
        public void End(string why)
        {
            Interlocked.CompareExchange(ref reason, why, null);
            ending.Cancel();
        }
    }

    private sealed class LookFault(string message, Exception inner) : Exception(message, inner);
}
