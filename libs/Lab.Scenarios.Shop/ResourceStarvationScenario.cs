namespace Lab.Scenarios.Shop;

/// <summary>
/// Grain code on the targeted silo blocks its turn (sync-over-async, or a plain sleep). Orleans runs
/// grain turns on the .NET thread pool, so the blocked threads starve everything else in that process: other grains'
/// turns, timers, message processing, even its HTTP endpoints. Orleans counts the long-running turns.
/// </summary>
public sealed class ResourceStarvationScenario : Scenario
{
    public const string Name = "resource-starvation";

    private static int s_blocked;

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "resources",
        Description: "The incoming grain call filter on the targeted silo blocks the grain's turn for 'block' on a share of calls: " +
                     "style=sync-over-async waits on Task.Delay(block).Wait(), style=sleep calls Thread.Sleep(block). At most 'max-blocked' " +
                     "threads (capped by ResourceCaps.MaxThreads) are blocked at once in a process; further calls pass unblocked.",
        Targets: [HookPoint.GrainIncoming],
        Parameters:
        [
            ParameterSpec.Duration("block", "500ms", "How long each affected grain turn blocks its thread.", min: "10ms", max: "5s"),
            ParameterSpec.Percent("rate", "100%", "Share of matching grain calls that block."),
            ParameterSpec.Enum("style", "sync-over-async", "How the turn blocks: waiting on a task (sync-over-async) or sleeping.", "sync-over-async", "sleep"),
            ParameterSpec.Int("max-blocked", 16, "Most threads blocked at once in one process.", min: 1, max: 256, unit: "threads", cap: ResourceCapKind.Threads),
        ],
        Signature: "orleans-scheduler-long-running-turns climbs on the targeted silo only (turns longer than SchedulingOptions.TurnWarningLengthThreshold, " +
                   "with 'long-running turn' warnings in its log); grain calls served there take at least 'block'; with style=sleep the whole process starves " +
                   "(even its HTTP endpoints slow down), with style=sync-over-async the pool compensates by injecting threads (dotnet.thread_pool.thread.count climbs); " +
                   "the other silos are unaffected.",
        Cure: "Async all the way: await instead of .Result/.Wait()/Thread.Sleep in grain code; offload unavoidable blocking work to a bounded dedicated pool.",
        Runbook: new Runbook(
            Break: "lab scenario enable resource-starvation --set block=500ms --set rate=100% --set style=sleep --target service=silo-1",
            Hint: "Everything on one silo is slow, including requests that never touch the grains that look guilty (its /health too). What is that process short of? " +
                  "Then try style=sync-over-async: the pool notices threads blocked in Task.Wait and injects more, so the process limps on with a climbing thread count.",
            Verify: "silo-1 /metrics: orleans_scheduler_long_running_turns_total rises and dotnet_thread_pool_thread_count climbs; its log warns 'Task ... took elapsed time ... " +
                    "for execution, which is longer than ...'; grain spans on silo-1 carry lab.scenario=resource-starvation and last at least 'block'.",
            Restore: "lab scenario disable resource-starvation: blocked turns finish within 'block', the pool drains its queue and latency falls back; the extra threads retire after a while."));

    /// <summary>Threads blocked by the scenario right now in this process.</summary>
    public static int Blocked => Volatile.Read(ref s_blocked);

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.Service.Kind == ServiceKind.Silo
        && ctx.Random.Chance(activation.GetRate("rate"));

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        // Hard cap: beyond max-blocked threads the call goes through unblocked, so the scenario cannot hang the process.
        if (Interlocked.Increment(ref s_blocked) > activation.GetInt("max-blocked"))
        {
            Interlocked.Decrement(ref s_blocked);
            return ValueTask.CompletedTask;
        }

        try
        {
            var block = activation.GetDuration("block");
            // Deliberately synchronous: this is the bug being shown, it holds the grain's turn and its thread.
            if (activation.GetString("style") == "sleep")
            {
                Thread.Sleep(block);
            }
            else
            {
                Task.Delay(block, CancellationToken.None).Wait(CancellationToken.None);
            }
        }
        finally
        {
            Interlocked.Decrement(ref s_blocked);
        }

        return ValueTask.CompletedTask;
    }
}
