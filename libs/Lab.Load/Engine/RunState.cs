using System.Diagnostics;
using Lab.Load.Journeys;
using Lab.Load.Plan;
using Lab.Load.Transport;

namespace Lab.Load.Engine;

/// <summary>State shared by the workers, the pacer and the harvester during one run.</summary>
internal sealed class RunState
{
    private readonly long[] _phaseStartTicks;

    public RunState(LoadPlan plan, MetricKeys keys, ILoadTransport transport, long startTicks, DateTimeOffset startedAt, IReadOnlyList<double> phaseStartSeconds, CancellationToken hardStop)
    {
        Plan = plan;
        Keys = keys;
        Transport = transport;
        StartTicks = startTicks;
        StartedAt = startedAt;
        HardStop = hardStop;
        Skus = new ZipfDistribution(plan.Keys.SkuCount, plan.Keys.SkuSkew);
        Customers = new ZipfDistribution(plan.Keys.CustomerCount, plan.Keys.CustomerSkew);
        LateTicks = (long)(plan.LateStartThreshold.TotalSeconds * Stopwatch.Frequency);
        _phaseStartTicks = [.. phaseStartSeconds.Select(s => startTicks + (long)(s * Stopwatch.Frequency))];
        var phases = phaseStartSeconds.Count;
        Collector = new MetricsCollector(keys, phases, plan.SlowestCount, plan.MaxFailuresKept, startTicks);
        PlannedByPhase = new long[phases];
        DroppedByPhase = new long[phases];
        UnstartedByPhase = new long[phases];
    }

    public LoadPlan Plan { get; }

    public MetricKeys Keys { get; }

    public ILoadTransport Transport { get; }

    public MetricsCollector Collector { get; }

    public ZipfDistribution Skus { get; }

    public ZipfDistribution Customers { get; }

    public long StartTicks { get; }

    public DateTimeOffset StartedAt { get; }

    public long LateTicks { get; }

    /// <summary>Cancelled when in-flight journeys must stop (drain timeout or user interrupt).</summary>
    public CancellationToken HardStop { get; }

    /// <summary>Set when no new journey may start.</summary>
    public volatile bool Stopping;

    /// <summary>Arrivals waiting for a free slot (open model).</summary>
    public Func<int> QueueLength = static () => 0;

    public long InFlight;

    /// <summary>Open-model workers waiting for an arrival; the pacer adds workers when none is idle.</summary>
    public int IdleWorkers;
    public long CancelledJourneys;

    /// <summary>Written by the pacer thread only (open model).</summary>
    public long[] PlannedByPhase { get; }

    public long[] DroppedByPhase { get; }

    public long[] UnstartedByPhase { get; }

    private readonly List<JourneyContext> _contexts = [];

    public void Register(JourneyContext context)
    {
        lock (_contexts)
        {
            _contexts.Add(context);
        }
    }

    /// <summary>Cancels requests past the request timeout; run every ~100 ms by the watchdog.</summary>
    public void CancelOverdue()
    {
        JourneyContext[] contexts;
        lock (_contexts)
        {
            contexts = [.. _contexts];
        }

        var now = Stopwatch.GetTimestamp();
        foreach (var context in contexts)
        {
            context.CancelIfOverdue(now);
        }
    }

    /// <summary>The phase a journey belongs to: the one its planned start falls in.</summary>
    public int PhaseAt(long ticks)
    {
        var phase = 0;
        for (var i = 1; i < _phaseStartTicks.Length; i++)
        {
            if (ticks >= _phaseStartTicks[i])
            {
                phase = i;
            }
        }

        return phase;
    }
}
