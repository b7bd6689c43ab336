using System.Diagnostics;
using System.Net.Sockets;
using System.Threading.Channels;
using Lab.Load.Control;
using Lab.Load.Journeys;
using Lab.Load.Plan;
using Lab.Load.Reporting;
using Lab.Load.Transport;

namespace Lab.Load.Engine;

/// <summary>Collaborators of a run that callers (and tests) may replace.</summary>
public sealed record LoadRunOptions
{
    /// <summary>Control API for timeline marks and the live "active scenarios"; default: HTTP at the target with the plan's token.</summary>
    public IScenarioControl? ScenarioControl { get; init; }

    public JourneyCatalog Journeys { get; init; } = JourneyCatalog.Shop;

    /// <summary>Default: chosen by <see cref="LoadPlan.Transport"/>.</summary>
    public Func<LoadPlan, ILoadTransport>? TransportFactory { get; init; }

    /// <summary>Export the client's spans over OTLP; default: when OTEL_EXPORTER_OTLP_ENDPOINT is set.</summary>
    public bool? ExportSpans { get; init; }

    public TimeSpan HarvestInterval { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan ActiveScenarioPollInterval { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>Runs a <see cref="LoadPlan"/> and returns its <see cref="LoadReport"/>.</summary>
public static class LoadRunner
{
    private const int InitialWorkers = 8;

    private readonly record struct Arrival(long PlannedTicks, int Journey);

    public static Task<LoadReport> RunAsync(LoadPlan plan, IProgress<LoadProgress>? progress = null, CancellationToken cancellationToken = default) =>
        RunAsync(plan, new LoadRunOptions(), progress, cancellationToken);

    /// <exception cref="LoadException">The plan is invalid or the target cannot be reached.</exception>
    public static async Task<LoadReport> RunAsync(LoadPlan plan, LoadRunOptions options, IProgress<LoadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Validate(plan, options.Journeys);
        if (plan.CheckTargetFirst)
        {
            await CheckReachableAsync(plan.Target, cancellationToken).ConfigureAwait(false);
        }

        var ownedControl = options.ScenarioControl is null && (plan.Timeline.Count > 0 || progress is not null)
            ? new HttpScenarioControl(plan.Target, plan.ControlToken)
            : null;
        var control = options.ScenarioControl ?? ownedControl;
        using var exporter = options.ExportSpans ?? true ? LoadTelemetry.StartExportIfConfigured() : null;
        using var transport = options.TransportFactory?.Invoke(plan) ?? CreateTransport(plan);
        try
        {
            if (plan.WarmUp > TimeSpan.Zero)
            {
                // Same load, results thrown away: the JIT, the thread pool and the connections settle first.
                var warmUp = plan with { Duration = plan.WarmUp, WarmUp = TimeSpan.Zero, Timeline = [], Thresholds = [] };
                await RunCoreAsync(warmUp, options, transport, null, null, cancellationToken).ConfigureAwait(false);
            }

            return await RunCoreAsync(plan, options, transport, control, progress, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ownedControl?.Dispose();
        }
    }

    private static async Task<LoadReport> RunCoreAsync(
        LoadPlan plan, LoadRunOptions options, ILoadTransport transport, IScenarioControl? control, IProgress<LoadProgress>? progress, CancellationToken cancellationToken)
    {
        var journeys = plan.Mix.Weights.Select(w => options.Journeys.Get(w.Journey)).ToList();
        using var hardStop = new CancellationTokenSource();
        using var stopArrivals = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var phases = Phases(plan);
        var timeline = new Timeline(plan, control);

        // Marks at 0s apply before the first arrival so the first phase already has them.
        await timeline.ApplyDueAsync(TimeSpan.Zero, Stopwatch.GetTimestamp(), cancellationToken).ConfigureAwait(false);

        var startTicks = Stopwatch.GetTimestamp();
        var state = new RunState(plan, new MetricKeys(journeys), transport, startTicks, DateTimeOffset.UtcNow, phases.Select(p => p.StartSeconds).ToList(), hardStop.Token);
        var endTicks = startTicks + (long)(plan.Duration.TotalSeconds * Stopwatch.Frequency);
        var activeScenarios = new ActiveScenarios();

        var timelineTask = timeline.RunAsync(startTicks, stopArrivals.Token);
        using var watchdogStop = new CancellationTokenSource();
        var watchdogTask = WatchdogAsync(state, watchdogStop.Token);
        using var harvestStop = new CancellationTokenSource();
        var harvestTask = HarvestLoopAsync(state, phases, options.HarvestInterval, activeScenarios, progress, harvestStop.Token);
        var pollTask = progress is not null && control is not null
            ? activeScenarios.PollAsync(control, options.ActiveScenarioPollInterval, harvestStop.Token)
            : Task.CompletedTask;

        Task[] workers = [];
        WorkerPool? workerPool = null;
        Thread? pacer = null;
        Channel<Arrival>? queue = null;
        var contexts = new List<JourneyContext>();
        if (plan.Model is OpenModel open)
        {
            // Unbounded, so a worker's TryRead is lock-free (it never waits on the pacer); the pacer bounds the queue itself.
            queue = Channel.CreateUnbounded<Arrival>(new UnboundedChannelOptions { SingleWriter = true });
            var picker = new JourneyPicker(plan.Mix.Weights.Select(w => w.Weight).ToList());
            var schedule = new ArrivalSchedule(open.StartRate, open.EndRate, plan.Duration.TotalSeconds);
            var pool = new WorkerPool(state, queue.Reader, plan.MaxInFlight, contexts);
            pool.Add(Math.Min(plan.MaxInFlight, InitialWorkers));
            state.QueueLength = () => queue.Reader.Count;
            pacer = new Thread(() => Pace(state, schedule, picker, queue.Writer, pool))
            {
                IsBackground = true,
                Name = "lab-load-pacer",
                Priority = ThreadPriority.AboveNormal,
            };
            workerPool = pool;
            pacer.Start();
        }
        else
        {
            var closed = (ClosedModel)plan.Model;
            var picker = new JourneyPicker(plan.Mix.Weights.Select(w => w.Weight).ToList());
            workers = new Task[closed.Users];
            for (var i = 0; i < workers.Length; i++)
            {
                var context = new JourneyContext(state, i);
                contexts.Add(context);
                workers[i] = Task.Run(() => ClosedUserAsync(state, context, picker, closed.ThinkTime, stopArrivals.Token));
            }
        }

        // Run for the planned duration (or until interrupted), then let in-flight journeys finish.
        var interrupted = false;
        try
        {
            var remaining = endTicks - Stopwatch.GetTimestamp();
            if (remaining > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(remaining / (double)Stopwatch.Frequency), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            interrupted = true;
        }

        var stoppedTicks = Math.Min(Stopwatch.GetTimestamp(), endTicks);
        state.Stopping = true;
        await stopArrivals.CancelAsync().ConfigureAwait(false);
        pacer?.Join();
        if (workerPool is not null)
        {
            workers = workerPool.Tasks;
        }

        var drain = interrupted ? TimeSpan.FromSeconds(Math.Min(2, plan.DrainTimeout.TotalSeconds)) : plan.DrainTimeout;
        var all = Task.WhenAll(workers);
        if (await Task.WhenAny(all, Task.Delay(drain, CancellationToken.None)).ConfigureAwait(false) != all)
        {
            await hardStop.CancelAsync().ConfigureAwait(false);
        }

        await all.ConfigureAwait(false);
        await watchdogStop.CancelAsync().ConfigureAwait(false);
        await watchdogTask.ConfigureAwait(false);
        await harvestStop.CancelAsync().ConfigureAwait(false);
        await harvestTask.ConfigureAwait(false);
        await pollTask.ConfigureAwait(false);
        state.Collector.Harvest(Stopwatch.GetTimestamp());
        foreach (var context in contexts)
        {
            context.Dispose();
        }

        await timelineTask.ConfigureAwait(false);
        if (plan.ResetScenariosAtEnd)
        {
            await timeline.ResetEnabledAsync(stoppedTicks - startTicks, CancellationToken.None).ConfigureAwait(false);
        }

        var elapsed = (stoppedTicks - startTicks) / (double)Stopwatch.Frequency;
        return ReportBuilder.Build(new RunOutcome(
            plan,
            state.Collector,
            phases.Select(p => p with { EndSeconds = Math.Min(p.EndSeconds, elapsed) }).ToList(),
            state.StartedAt,
            elapsed,
            interrupted,
            state.PlannedByPhase,
            state.DroppedByPhase,
            state.UnstartedByPhase,
            state.CancelledJourneys,
            timeline.Events));
    }

    /// <summary>Checks the plan against the journey catalog; returns the journeys of the mix in mix order.</summary>
    internal static IReadOnlyList<IJourney> Validate(LoadPlan plan, JourneyCatalog catalog)
    {
        if (plan.Target.Scheme is not ("http" or "https"))
        {
            throw LoadException.Usage($"Invalid target '{plan.Target}': use an http:// or https:// URL, e.g. http://127.0.0.1:5100.");
        }

        if (plan.Duration <= TimeSpan.Zero)
        {
            throw LoadException.Usage("The duration must be positive, e.g. --duration 30s.");
        }

        switch (plan.Model)
        {
            case OpenModel { StartRate: <= 0 } or OpenModel { EndRate: <= 0 }:
                throw LoadException.Usage("Rates must be positive, e.g. --rate 500/s or --ramp 100/s:1000/s.");
            case OpenModel when plan.MaxInFlight < 1:
                throw LoadException.Usage("--max-in-flight must be at least 1.");
            case ClosedModel { Users: < 1 }:
                throw LoadException.Usage("--users must be at least 1.");
            case ClosedModel { ThinkTime.Ticks: < 0 }:
                throw LoadException.Usage("--think must not be negative.");
        }

        if (plan.Transport == TransportKind.Raw && plan.Target.Scheme != Uri.UriSchemeHttp)
        {
            throw LoadException.Usage("The raw transport speaks plain http:// only; use --transport httpclient for https.");
        }

        if (plan.MaxQueuedArrivals < 1)
        {
            throw LoadException.Usage("MaxQueuedArrivals must be at least 1.");
        }

        var journeys = plan.Mix.Weights.Select(w => catalog.Get(w.Journey)).ToList();
        foreach (var mark in plan.Timeline)
        {
            if (mark.At < TimeSpan.Zero || mark.At >= plan.Duration)
            {
                throw LoadException.Usage($"Timeline mark '--at {LoadSyntax.FormatDuration(mark.At)} {mark.Describe()}' is outside the run (0 to {LoadSyntax.FormatDuration(plan.Duration)}).");
            }
        }

        foreach (var threshold in plan.Thresholds.Where(t => t.Journey is not null))
        {
            var journey = journeys.FirstOrDefault(j => j.Name == threshold.Journey)
                ?? throw LoadException.Usage($"Threshold '{threshold.Expression}' names journey '{threshold.Journey}', which is not in the mix ({plan.Mix}).");
            if (threshold.Step is not null && !journey.Steps.Contains(threshold.Step))
            {
                throw LoadException.Usage($"Threshold '{threshold.Expression}' names step '{threshold.Step}'; journey '{journey.Name}' has steps {string.Join(", ", journey.Steps)}.");
            }
        }

        return journeys;
    }

    /// <summary>Fails fast, with a plain message, when nothing listens at the target.</summary>
    internal static async Task CheckReachableAsync(Uri target, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(3));
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(target.DnsSafeHost, target.Port, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var reason = e switch
            {
                SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused (nothing is listening there)",
                SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData } => "unknown host",
                SocketException s => s.Message,
                _ => "no answer within 3 s",
            };
            throw new LoadException(
                $"Cannot reach the target {target.GetLeftPart(UriPartial.Authority)}: {reason}. Is the lab running? Start it with 'lab up', or pass --target.",
                LoadExitCodes.TargetUnreachable,
                e);
        }
    }

    private static ILoadTransport CreateTransport(LoadPlan plan) => plan.Transport switch
    {
        TransportKind.HttpClient => new HttpClientTransport(plan.Target, Connections(plan)),
        TransportKind.Raw => new RawHttpTransport(plan.Target),
        _ when plan.Target.Scheme == Uri.UriSchemeHttp => new RawHttpTransport(plan.Target),
        _ => new HttpClientTransport(plan.Target, Connections(plan)),
    };

    private static int Connections(LoadPlan plan) => plan.Model is ClosedModel c ? c.Users : plan.MaxInFlight;

    private static List<PhaseSpan> Phases(LoadPlan plan)
    {
        var duration = plan.Duration.TotalSeconds;
        var starts = plan.Timeline.Select(m => m.At).Where(a => a > TimeSpan.Zero).Distinct().Order().ToList();
        var phases = new List<PhaseSpan>();
        var first = plan.Timeline.Where(m => m.At == TimeSpan.Zero).Select(m => m.Describe()).ToList();
        phases.Add(new PhaseSpan(0, first.Count == 0 ? "baseline" : string.Join("; ", first), 0, starts.Count > 0 ? starts[0].TotalSeconds : duration));
        for (var i = 0; i < starts.Count; i++)
        {
            var name = string.Join("; ", plan.Timeline.Where(m => m.At == starts[i]).Select(m => m.Describe()));
            phases.Add(new PhaseSpan(i + 1, name, starts[i].TotalSeconds, i + 1 < starts.Count ? starts[i + 1].TotalSeconds : duration));
        }

        return phases;
    }

    /// <summary>
    /// The pacing thread. Timers are too coarse here (Task.Delay(1) ≈ 4 ms), Thread.Sleep(1) ≈ 1.1 ms, so a
    /// dedicated thread releases every arrival whose planned time has come, then sleeps about a millisecond.
    /// Arrivals keep their planned time; lateness shows up in their latency, not in a slower schedule.
    /// </summary>
    /// <remarks>
    /// While the queue is full every due arrival is dropped anyway, so the pacer sleeps longer (while the queue
    /// would still be half full at the rate the workers take from it, at most 20 ms): waking every millisecond
    /// on a busy 2-core machine moved the socket thread between cores and cost about a tenth of the maximum rate.
    /// </remarks>
    private static void Pace(RunState state, ArrivalSchedule schedule, JourneyPicker picker, ChannelWriter<Arrival> writer, WorkerPool pool)
    {
        var capacity = state.Plan.MaxQueuedArrivals;
        var random = new Random(state.Plan.Seed);
        var frequency = (double)Stopwatch.Frequency;
        var total = schedule.Total;
        long emitted = 0;
        var lastTicks = Stopwatch.GetTimestamp();
        var lastQueued = 0;

        // Plans every arrival due by then: queued while there is room (or, once the run is over, counted as never
        // started, as those in the queue are), dropped and counted when there is none. Returns whether any was dropped.
        bool Release(long due, ref int room, bool runOver)
        {
            var dropped = false;
            while (emitted < due)
            {
                var planned = state.StartTicks + (long)(schedule.TimeOf(emitted) * frequency);
                var phase = state.PhaseAt(planned);
                state.PlannedByPhase[phase]++;
                emitted++;
                if (room <= 0)
                {
                    // Queue full: the client is behind. The arrival is dropped and counted; the plan never slows down.
                    state.DroppedByPhase[phase]++;
                    dropped = true;
                    continue;
                }

                room--;
                if (runOver)
                {
                    Interlocked.Increment(ref state.UnstartedByPhase[phase]);
                    continue;
                }

                writer.TryWrite(new Arrival(planned, picker.Pick(random)));
                pool.GrowIfBusy();
            }

            return dropped;
        }

        var free = capacity;
        try
        {
            while (!state.Stopping && emitted < total)
            {
                var now = Stopwatch.GetTimestamp();
                var inQueue = state.QueueLength();
                var taken = Math.Max(0, lastQueued - inQueue) / ((now - lastTicks) / frequency);
                free = capacity - inQueue;
                var full = Release(Math.Min(schedule.DueBy((now - state.StartTicks) / frequency), total), ref free, runOver: false);
                if (emitted >= total)
                {
                    break;
                }

                lastTicks = now;
                lastQueued = capacity - free;
                int sleepMs;
                if (full)
                {
                    sleepMs = taken > 0 ? (int)Math.Clamp(lastQueued / 2 / taken * 1000, 1, 20) : 20;
                }
                else
                {
                    var waitMs = ((state.StartTicks + (long)(schedule.TimeOf(emitted) * frequency)) - Stopwatch.GetTimestamp()) * 1000 / frequency;
                    sleepMs = waitMs > 2 ? (int)Math.Min(waitMs - 1, 50) : 1;
                }

                Thread.Sleep(sleepMs);
            }

            // The run ended while the pacer slept: the arrivals that fell due before the end still count in the plan,
            // against the room the queue had at the last release (workers empty it after the end; that is no room).
            var endSeconds = Math.Min((Stopwatch.GetTimestamp() - state.StartTicks) / frequency, state.Plan.Duration.TotalSeconds);
            Release(Math.Min(schedule.DueBy(endSeconds), total), ref free, runOver: true);
        }
        finally
        {
            writer.TryComplete();
        }
    }

    /// <summary>
    /// Open-model workers, started on demand up to the in-flight limit: as many as the load needs, so a
    /// 100/s run does not keep hundreds of idle tasks (and connections) around.
    /// </summary>
    private sealed class WorkerPool(RunState state, ChannelReader<Arrival> reader, int max, List<JourneyContext> contexts)
    {
        private readonly List<Task> _tasks = [];

        public Task[] Tasks
        {
            get
            {
                lock (_tasks)
                {
                    return [.. _tasks];
                }
            }
        }

        public void Add(int count)
        {
            lock (_tasks)
            {
                for (var i = 0; i < count && _tasks.Count < max; i++)
                {
                    var context = new JourneyContext(state, _tasks.Count);
                    contexts.Add(context);
                    _tasks.Add(Task.Run(() => RunAsync(context)));
                }
            }
        }

        /// <summary>Called by the pacer after each arrival: add a worker when none is waiting.</summary>
        public void GrowIfBusy()
        {
            if (Volatile.Read(ref state.IdleWorkers) <= 0 && _tasks.Count < max)
            {
                Add(1);
            }
        }

        private async Task RunAsync(JourneyContext context)
        {
            while (true)
            {
                if (!reader.TryRead(out var arrival))
                {
                    Interlocked.Increment(ref state.IdleWorkers);
                    try
                    {
                        arrival = await reader.ReadAsync(state.HardStop).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
                    {
                        return;
                    }
                    finally
                    {
                        Interlocked.Decrement(ref state.IdleWorkers);
                    }
                }

                if (state.Stopping)
                {
                    Interlocked.Increment(ref state.UnstartedByPhase[state.PhaseAt(arrival.PlannedTicks)]);
                    continue;
                }

                await context.RunJourneyAsync(arrival.Journey, arrival.PlannedTicks).ConfigureAwait(false);
            }
        }
    }

    private static async Task ClosedUserAsync(RunState state, JourneyContext context, JourneyPicker picker, TimeSpan think, CancellationToken stop)
    {
        while (!state.Stopping)
        {
            await context.RunJourneyAsync(picker.Pick(context.Random), Stopwatch.GetTimestamp()).ConfigureAwait(false);
            if (think > TimeSpan.Zero && !state.Stopping)
            {
                try
                {
                    await Task.Delay(think, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private static async Task WatchdogAsync(RunState state, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                state.CancelOverdue();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task HarvestLoopAsync(RunState state, IReadOnlyList<PhaseSpan> phases, TimeSpan interval, ActiveScenarios active, IProgress<LoadProgress>? progress, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(interval);
        long requests = 0, errors = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                var point = state.Collector.Harvest(Stopwatch.GetTimestamp());
                requests += point.Requests;
                errors += point.Errors;
                if (progress is null)
                {
                    continue;
                }

                var elapsed = TimeSpan.FromSeconds(point.AtSeconds);
                var phase = phases[state.PhaseAt(Stopwatch.GetTimestamp())].Name;
                long dropped = 0, late = 0;
                for (var p = 0; p < phases.Count; p++)
                {
                    dropped += Volatile.Read(ref state.DroppedByPhase[p]);
                    late += state.Collector.Late[p];
                }

                progress.Report(new LoadProgress(
                    elapsed,
                    state.Plan.Duration,
                    phase,
                    state.Plan.Model is OpenModel open ? open.RateAt(point.AtSeconds - (point.IntervalSeconds / 2), state.Plan.Duration.TotalSeconds) : null,
                    point.Started / point.IntervalSeconds,
                    point.Requests / point.IntervalSeconds,
                    point.Requests == 0 ? 0 : point.Errors / (double)point.Requests,
                    point.RollingP50Ms,
                    point.RollingP99Ms,
                    Interlocked.Read(ref state.InFlight),
                    state.QueueLength(),
                    dropped,
                    late,
                    requests,
                    errors,
                    active.Current));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Latest answer of GET /lab/scenarios/active; silently empty when the API is not there.</summary>
    private sealed class ActiveScenarios
    {
        public volatile IReadOnlyList<string> Current = [];

        public async Task PollAsync(IScenarioControl control, TimeSpan interval, CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    Current = await control.GetActiveAsync(stop).ConfigureAwait(false);
                }
                catch (Exception) when (!stop.IsCancellationRequested)
                {
                    // The live view is best effort: a lab without the control API still gets load.
                    Current = [];
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                try
                {
                    await Task.Delay(interval, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
