using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Lab.Scenarios.Catalog;

/// <summary>
/// Every matching call retains some memory until a maximum; disabling, resetting or expiry
/// releases it all. The leak lives in the process that served the call.
/// </summary>
public sealed class MemoryLeakScenario : Scenario
{
    public const string Name = "memory-leak";

    private static readonly HookPoint[] CallPoints = [HookPoint.GrainIncoming, HookPoint.Repository, HookPoint.HttpServer];

    private static readonly ConcurrentDictionary<string, Leak> Leaks = new(StringComparer.Ordinal);

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "resources",
        Description: "Each matching call retains a block of memory (kept reachable) until the maximum is held; the memory is released when the scenario is disabled, reset or expires. Capped by ResourceCaps.MaxMemoryBytes.",
        Targets: [.. CallPoints, HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Bytes("per-call", "64KB", "Memory retained by each matching call.", min: "1KB", max: "16MB"),
            ParameterSpec.Bytes("max", "256MB", "Most memory retained in one process.", min: "1MB", cap: ResourceCapKind.MemoryBytes),
            HookSelector.Parameter(CallPoints),
        ],
        Signature: "Heap size and GC counts of the targeted service climb with traffic until the maximum, then plateau; GC pauses grow; the lab.scenario.injections counter for memory-leak stops at max/per-call.",
        Cure: null,
        Runbook: new Runbook(
            Break: "lab scenario enable memory-leak --set per-call=256KB --set max=200MB --target service=storefront",
            Hint: "Memory grows with requests, not with time. Which process, and does it come back after a full GC?",
            Verify: "dotnet.gc.heap.total_allocated and the GC heap size of the storefront climb with load and survive gen2 collections; the other services are flat; lab.scenario.injections{scenario=memory-leak} times per-call matches the growth.",
            Restore: "lab scenario disable memory-leak (or reset); the blocks are dropped and a full compacting collection runs in the leaking process, so its heap returns near the baseline at once."));

    // What the leak holds right now, in each service of this process (the silos of a test cluster share one).
    private static readonly ObservableGauge<long> Retained = ScenarioTelemetry.Meter.CreateObservableGauge(
        "lab.scenario.memory_leak.retained", () => Leaks.Select(leak => new Measurement<long>(leak.Value.Bytes, new KeyValuePair<string, object?>("service", leak.Key))),
        "By", "Bytes the memory-leak scenario retains in this process: blocks kept per matching call, up to its cap.");

    /// <summary>Bytes currently retained for <paramref name="service"/>.</summary>
    public static long RetainedBytes(string service) => Leaks.TryGetValue(service, out var leak) ? leak.Bytes : 0;

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && HookSelector.Matches(activation, ctx.Point);

    // The block is retained here, where the check against the cap and the retention are one step under the leak's lock:
    // two calls that both saw room for the last block would otherwise both count as injections while only one is held.
    public override bool TryClaim(HookContext ctx, ScenarioActivation activation)
    {
        var leak = Leaks.GetOrAdd(ctx.Service.Name, static _ => new Leak(long.MaxValue));
        return leak.TryRetain((int)activation.GetBytes("per-call"), Limit(ctx.Service.Name, activation));
    }

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        Leaks[process.Service.Name] = new Leak(process.Caps.MaxMemoryBytes);
        return Task.CompletedTask;
    }

    public override Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        if (Leaks.TryRemove(process.Service.Name, out var leak) && leak.Bytes > 0)
        {
            // Unreachable is not yet free: without a full, compacting collection the heap (and the process's
            // memory) stays at its peak until the GC happens to run. Reset is meant to give the memory back now.
            leak.Release();
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }

        return Task.CompletedTask;
    }

    private static long Limit(string service, ScenarioActivation activation) =>
        Math.Min(activation.GetBytes("max"), Leaks.TryGetValue(service, out var leak) ? leak.Cap : long.MaxValue);

    private sealed class Leak(long cap)
    {
        private readonly Lock _lock = new();
        private readonly List<byte[]> _blocks = [];
        private long _bytes;

        public long Cap { get; } = cap;

        public long Bytes => Interlocked.Read(ref _bytes);

        /// <summary>Drops every block (a call still holding this instance must not keep them alive).</summary>
        public void Release()
        {
            lock (_lock)
            {
                _blocks.Clear();
                _blocks.TrimExcess();
                Interlocked.Exchange(ref _bytes, 0);
            }
        }

        /// <summary>Keeps one more block of <paramref name="size"/> bytes, unless that would pass <paramref name="limit"/>.</summary>
        public bool TryRetain(int size, long limit)
        {
            if (Bytes + size > limit)
            {
                return false; // full: no lock for the calls after the cap
            }

            lock (_lock)
            {
                if (_bytes + size > limit)
                {
                    return false;
                }

                var block = GC.AllocateUninitializedArray<byte>(size);
                Array.Fill(block, (byte)1); // touch the pages, so the process's memory really grows
                _blocks.Add(block);
                Interlocked.Add(ref _bytes, size);
                return true;
            }
        }
    }
}
