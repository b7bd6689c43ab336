using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;

namespace Lab.Scenarios.Catalog;

/// <summary>
/// High allocation without a leak: a worker in the targeted process allocates large, short-lived buffers at a steady rate
/// (a report export, an image resize, a big serialisation per request) and drops each one at once. Large buffers live on
/// the large object heap, which only a full (gen2) collection reclaims, so the collector runs gen2 collections back to
/// back and every thread of the process pauses for them. cure=true rents the buffers from a pool instead: the same work,
/// next to no allocation.
/// </summary>
public sealed class MemoryPressureScenario : Scenario
{
    public const string Name = "memory-pressure";

    private static readonly ConcurrentDictionary<string, Worker> Running = new(StringComparer.Ordinal);
    private static long s_allocated;

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "resources",
        Description: "A worker in the targeted process allocates buffers of 'buffer' bytes at 'rate' bytes a second, fills each and drops it at once: " +
                     "nothing is retained, but buffers of 85 KB or more go to the large object heap, which only gen2 collections reclaim. " +
                     "cure=true rents the buffers from a shared pool and returns them. At most one buffer is alive at a time (capped by ResourceCaps.MaxMemoryBytes).",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Bytes("rate", "256MB", "Bytes allocated per second.", min: "1MB", max: "4GB"),
            ParameterSpec.Bytes("buffer", "1MB", "Size of each short-lived buffer (85KB or more lands on the large object heap).", min: "1KB", max: "256MB", cap: ResourceCapKind.MemoryBytes),
            ParameterSpec.Duration("duration", "60s", "How long the worker allocates; it also stops at disable, reset or TTL.", min: "1s", max: "60m"),
            ParameterSpec.Bool("cure", false, "Pooling: the same buffers rented from ArrayPool and returned, instead of allocated."),
        ],
        Signature: "dotnet.gc.collections{gc.heap.generation=gen2} and dotnet.gc.pause.time of the targeted process climb steeply while its heap size " +
                   "stays flat (no leak); its request latency spikes line up with the pauses. With the cure both stay at their baseline.",
        Cure: "Pool large buffers (ArrayPool, RecyclableMemoryStream), stream instead of materialising, or keep buffers under 85 KB.",
        Runbook: new Runbook(
            Break: "lab scenario enable memory-pressure --set rate=512MB --target service=silo-1",
            Hint: "Latency on one silo has short spikes, and its memory does not grow. What is its garbage collector doing?",
            Verify: "dotnet.gc.collections for gen2 of silo-1 climbs by many per second (silo-2's does not) and dotnet.gc.pause.time rises; the heap size stays flat.",
            Restore: "lab scenario change memory-pressure --set cure=true (the same work from a pool: gen2 collections stop) or disable it."));

    /// <summary>Bytes this scenario has allocated in this process (pooled rents excluded).</summary>
    public static long AllocatedBytes => Interlocked.Read(ref s_allocated);

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        Stop(process.Service.Name);
        var stop = new CancellationTokenSource(activation.GetDuration("duration"), process.Time);
        var buffer = (int)Math.Min(activation.GetBytes("buffer"), Math.Min(process.Caps.MaxMemoryBytes, Array.MaxLength));
        var rate = activation.GetBytes("rate");
        var pooled = activation.GetBool("cure");
        var thread = new Thread(() => Allocate(buffer, rate, pooled, stop.Token)) { IsBackground = true, Name = "lab-memory-pressure" };
        Running[process.Service.Name] = new Worker(stop, thread);
        thread.Start();
        return Task.CompletedTask;
    }

    public override Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        Stop(process.Service.Name);
        return Task.CompletedTask;
    }

    private static void Stop(string service)
    {
        if (!Running.TryRemove(service, out var worker))
        {
            return;
        }

        worker.Stop.Cancel();
        worker.Thread.Join(TimeSpan.FromSeconds(5));
        // Nothing is retained, but the collector keeps the memory it grew to committed: a compacting collection gives it back.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    private sealed record Worker(CancellationTokenSource Stop, Thread Thread);

    private static void Allocate(int size, long rate, bool pooled, CancellationToken stop)
    {
        // Paced in slices of 10 ms: each slice allocates its share of the rate, then sleeps out the rest.
        var slice = TimeSpan.FromMilliseconds(10);
        var perSlice = Math.Max(1, (int)(rate * slice.TotalSeconds / size));
        while (!stop.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < perSlice && !stop.IsCancellationRequested; i++)
            {
                var buffer = pooled ? ArrayPool<byte>.Shared.Rent(size) : new byte[size];
                // Touch every page, as real work would: the memory is committed, not just reserved.
                for (var offset = 0; offset < size; offset += 4096)
                {
                    buffer[offset] = (byte)offset;
                }

                if (pooled)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
                else
                {
                    Interlocked.Add(ref s_allocated, size);
                }
            }

            var left = slice - Stopwatch.GetElapsedTime(started);
            if (left > TimeSpan.Zero)
            {
                Thread.Sleep(left);
            }
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var gen2 = new SignatureFigure("silo-1 gen2 collections", "", "dotnet.gc.collections{gc.heap.generation=gen2}, silo-1",
                m => m.Delta("silo-1", "dotnet_gc_collections_total", ("gc_heap_generation", "gen2")));
            var pause = new SignatureFigure("silo-1 GC pause", "ms", "dotnet.gc.pause.time, silo-1",
                m => 1000 * m.Delta("silo-1", "dotnet_gc_pause_time_seconds_total"));
            return new ExperimentSpec(Name, [gen2, pause],
                [SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500)), SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.AtBaseline(gen2, tolerance: 1, slack: 5)])
            {
                Fault = new Dictionary<string, string> { ["rate"] = "512MB", ["duration"] = "10m" },
                Target = new Dictionary<string, string> { ["service"] = "silo-1" },
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
