using System.Collections.Concurrent;
using System.Diagnostics;

namespace Lab.Scenarios.Catalog;

/// <summary>
/// Keeps a number of cores busy in the targeted process for a period. Every grain on that
/// process's silo gets slower; the other silos do not.
/// </summary>
public sealed class CpuSpikeScenario : Scenario
{
    public const string Name = "cpu-spike";

    private static readonly TimeSpan Slice = TimeSpan.FromMilliseconds(20);

    private static readonly ConcurrentDictionary<string, Workers> Running = new(StringComparer.Ordinal);

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "resources",
        Description: "Starts busy-spinning threads in the targeted process, burning the given number of cores (fractions duty-cycle a thread) for a period. Capped by ResourceCaps.MaxBusyCores and MaxThreads.",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Double("cores", 1, "Cores kept busy (0.5 = one thread busy half the time).", min: 0.1, max: 64, unit: "cores", cap: ResourceCapKind.BusyCores),
            ParameterSpec.Duration("duration", "60s", "How long the workers burn; they also stop at disable, reset or TTL.", min: "1s", max: "60m"),
        ],
        Signature: "Process CPU time of the targeted service rises by about the configured cores; latency of every grain on that silo rises (Orleans queue delay, long turns), the other silos are unaffected.",
        Cure: null,
        Runbook: new Runbook(
            Break: "lab scenario enable cpu-spike --set cores=1 --set duration=2m --target service=silo-1",
            Hint: "Latency rose for some requests but not others. What do the slow grain calls have in common, and what does each silo's CPU say?",
            Verify: "process.cpu.time (or the Orleans dashboard CPU) of silo-1 rises by about one core; grain spans on silo-1 are slower while the same grains on silo-2 are not; silo-1's log shows 'cpu-spike started its workers'.",
            Restore: "lab scenario disable cpu-spike (or reset); the threads stop within a slice (20 ms) and latency returns to the baseline."));

    private static int s_burning;

    /// <summary>Threads currently burning for <paramref name="service"/> (for tests and diagnostics).</summary>
    public static int RunningThreads(string service) => Running.TryGetValue(service, out var w) ? w.Threads.Count(t => t.IsAlive) : 0;

    /// <summary>Worker threads alive in this process, whichever service started them.</summary>
    public static int BurningThreads => Volatile.Read(ref s_burning);

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        Stop(process.Service.Name);

        // Clamp again in the process: caps here may be tighter than where the request was validated.
        var cores = Math.Min(activation.GetDouble("cores"), process.Caps.MaxBusyCores);
        var count = Math.Min((int)Math.Ceiling(cores), process.Caps.MaxThreads);
        var duty = Math.Min(1.0, cores / count);
        var stop = new CancellationTokenSource(activation.GetDuration("duration"), process.Time);
        var threads = Enumerable.Range(0, count)
            .Select(i => new Thread(() => Burn(duty, stop.Token)) { IsBackground = true, Name = $"lab-cpu-spike-{i}" })
            .ToArray();
        Running[process.Service.Name] = new Workers(stop, threads);
        foreach (var thread in threads)
        {
            thread.Start();
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
        if (!Running.TryRemove(service, out var workers))
        {
            return;
        }

        workers.Stop.Cancel();
        foreach (var thread in workers.Threads)
        {
            thread.Join(Slice * 10);
        }

        workers.Stop.Dispose();
    }

    private static void Burn(double duty, CancellationToken stop)
    {
        Interlocked.Increment(ref s_burning);
        try
        {
            var busy = Slice * duty;
            var idle = Slice - busy;
            while (!stop.IsCancellationRequested)
            {
                var start = Stopwatch.GetTimestamp();
                while (Stopwatch.GetElapsedTime(start) < busy)
                {
                    Thread.SpinWait(64);
                }

                if (idle > TimeSpan.Zero)
                {
                    Thread.Sleep(idle);
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref s_burning);
        }
    }

    private sealed record Workers(CancellationTokenSource Stop, Thread[] Threads);
}
