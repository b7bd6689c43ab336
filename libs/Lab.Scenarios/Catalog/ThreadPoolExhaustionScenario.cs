using System.Collections.Concurrent;

namespace Lab.Scenarios.Catalog;

/// <summary>
/// Sync-over-async in the targeted process: work items on the .NET thread pool block their thread (a synchronous wait for
/// something slow), over and over. The pool starts with one thread per core and adds threads only slowly when they are all
/// blocked, so everything else the process does (requests, timers, continuations) waits in the pool's queue until it has
/// grown past the blockers.
/// </summary>
public sealed class ThreadPoolExhaustionScenario : Scenario
{
    public const string Name = "thread-pool-exhaustion";

    private static readonly ConcurrentDictionary<string, Blockers> Running = new(StringComparer.Ordinal);
    private static int s_blocked;

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "resources",
        Description: "Keeps a number of thread-pool threads of the targeted process blocked in synchronous waits: each blocker waits 'hold', then queues " +
                     "itself again, as sync-over-async code under load does. The pool injects threads slowly (about two a second once it starves), so " +
                     "every other work item of the process queues behind the blockers until the pool has grown past them. Capped by ResourceCaps.MaxThreads.",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Int("blocked", 16, "Thread-pool threads kept blocked at once.", min: 1, max: 512, unit: "threads", cap: ResourceCapKind.Threads),
            ParameterSpec.Duration("hold", "2s", "How long each blocking wait lasts before the blocker queues itself again.", min: "10ms", max: "60s"),
            ParameterSpec.Duration("duration", "60s", "How long the blockers keep coming; they also stop at disable, reset or TTL.", min: "1s", max: "60m"),
        ],
        Signature: "dotnet.thread_pool.queue.length of the targeted process climbs above zero and dotnet.thread_pool.thread.count climbs by about 'blocked' " +
                   "as the pool injects threads; every request the process serves (its /alive included) waits in that queue while the others' stay fast.",
        Cure: "Async all the way (await instead of .Result, .Wait() or Thread.Sleep on pool threads); a larger ThreadPool minimum only hides it.",
        Runbook: new Runbook(
            Break: "lab scenario enable thread-pool-exhaustion --set blocked=32 --target service=storefront",
            Hint: "Every request to one process is slow, even its health probe, yet its CPU is idle. What are its threads doing?",
            Verify: "The storefront's dotnet.thread_pool.queue.length is above zero and its dotnet.thread_pool.thread.count climbs while CPU stays low; " +
                    "the silos' and payments' do not. dotnet-stack or dotnet-dump on the process shows the blocked threads in the scenario's wait.",
            Restore: "lab scenario disable thread-pool-exhaustion (or reset): the blockers return at once and queue no more; the pool retires its extra threads later."));

    /// <summary>Thread-pool threads blocked by this scenario in this process right now.</summary>
    public static int BlockedThreads => Volatile.Read(ref s_blocked);

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        Stop(process.Service.Name);
        var blockers = new Blockers(new CancellationTokenSource(activation.GetDuration("duration"), process.Time), activation.GetDuration("hold"));
        Running[process.Service.Name] = blockers;
        var count = (int)Math.Min(activation.GetInt("blocked"), process.Caps.MaxThreads);
        for (var i = 0; i < count; i++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static blockers => blockers.Block(), blockers, preferLocal: false);
        }

        return Task.CompletedTask;
    }

    public override Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        Stop(process.Service.Name);
        return Task.CompletedTask;
    }

    private static void Stop(string service)
    {
        if (Running.TryRemove(service, out var blockers))
        {
            blockers.Stop.Cancel();
        }
    }

    private sealed record Blockers(CancellationTokenSource Stop, TimeSpan Hold)
    {
        /// <summary>One blocking wait on a pool thread, then the blocker queues itself again (until stopped).</summary>
        public void Block()
        {
            if (Stop.IsCancellationRequested)
            {
                return;
            }

            Interlocked.Increment(ref s_blocked);
            try
            {
                // A synchronous wait on a pool thread: the thread is held and does nothing else meanwhile.
                Stop.Token.WaitHandle.WaitOne(Hold);
            }
            finally
            {
                Interlocked.Decrement(ref s_blocked);
            }

            if (!Stop.IsCancellationRequested)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static blockers => blockers.Block(), this, preferLocal: false);
            }
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var threads = new SignatureFigure("storefront pool threads added", "", "dotnet.thread_pool.thread.count, storefront: end of phase - start",
                m => m.Delta("storefront", "dotnet_thread_pool_thread_count_total"));
            var queued = new SignatureFigure("storefront work items", "/request", "dotnet.thread_pool.work_item.count, storefront / requests the load client completed",
                m => SignatureFigure.Ratio(m.Delta("storefront", "dotnet_thread_pool_work_item_count_total"), m.Load.Requests));
            return new ExperimentSpec(Name, [threads, queued, SignatureFigure.ErrorShare],
                [SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500)), SteadyStateProbe.ErrorsBelow(0.01)])
            {
                Fault = new Dictionary<string, string> { ["blocked"] = "32", ["hold"] = "2s", ["duration"] = "10m" },
                Target = new Dictionary<string, string> { ["service"] = "storefront" },
            };
        }
    }
}
