using System.Diagnostics;
using HdrHistogram;
using Lab.Load.Journeys;

namespace Lab.Load.Engine;

/// <summary>
/// Dense integer ids for (journey, step) pairs: key <c>base[j]</c> is journey j as a whole, <c>base[j]+1+s</c> its step s.
/// </summary>
internal sealed class MetricKeys
{
    private readonly int[] _base;

    public MetricKeys(IReadOnlyList<IJourney> journeys)
    {
        Journeys = journeys;
        _base = new int[journeys.Count];
        var next = 0;
        var journeyOf = new List<int>();
        var stepOf = new List<int>();
        for (var j = 0; j < journeys.Count; j++)
        {
            _base[j] = next;
            journeyOf.Add(j);
            stepOf.Add(-1);
            for (var s = 0; s < journeys[j].Steps.Count; s++)
            {
                journeyOf.Add(j);
                stepOf.Add(s);
            }

            next += 1 + journeys[j].Steps.Count;
        }

        Count = next;
        JourneyOf = [.. journeyOf];
        StepOf = [.. stepOf];
    }

    public IReadOnlyList<IJourney> Journeys { get; }

    public int Count { get; }

    /// <summary>Journey index of each key.</summary>
    public int[] JourneyOf { get; }

    /// <summary>Step index of each key; -1 for a journey-total key.</summary>
    public int[] StepOf { get; }

    public int JourneyKey(int journey) => _base[journey];

    public int StepKey(int journey, string step)
    {
        var steps = Journeys[journey].Steps;
        for (var s = 0; s < steps.Count; s++)
        {
            if (string.Equals(steps[s], step, StringComparison.Ordinal))
            {
                return _base[journey] + 1 + s;
            }
        }

        throw new InvalidOperationException($"Journey '{Journeys[journey].Name}' sent step '{step}', which is not in its Steps list.");
    }

    public string Describe(int key) =>
        StepOf[key] < 0 ? Journeys[JourneyOf[key]].Name : $"{Journeys[JourneyOf[key]].Name}/{Journeys[JourneyOf[key]].Steps[StepOf[key]]}";
}

/// <summary>One request or journey worth keeping in the report (slowest or failed).</summary>
internal sealed record RequestSample(
    int Phase,
    int Key,
    long LatencyTicks,
    long OffsetTicks,
    int Status,
    ErrorKind Kind,
    TraceId TraceId,
    string Method,
    string Path,
    string? Message);

/// <summary>Identity of a request, turned into a <see cref="RequestSample"/> only when it is kept.</summary>
internal readonly record struct SampleInfo(long OffsetTicks, TraceId TraceId, string Method, string Path, string? Message)
{
    public RequestSample ToSample(int phase, int key, long latencyTicks, int status, ErrorKind kind) =>
        new(phase, key, latencyTicks, OffsetTicks, status, kind, TraceId, Method, Path, Message);
}

/// <summary>Counts for one key: total, failed, failures by status code and by kind.</summary>
internal sealed class KeyCounter
{
    public long Count;
    public long Errors;
    public readonly Dictionary<int, long> ByStatus = [];
    public readonly long[] ByKind = new long[Enum.GetValues<ErrorKind>().Length];

    public void Record(int status, ErrorKind kind)
    {
        Count++;
        if (kind == ErrorKind.None)
        {
            return;
        }

        Errors++;
        ByKind[(int)kind]++;
        if (status > 0)
        {
            ByStatus[status] = ByStatus.GetValueOrDefault(status) + 1;
        }
    }

    public void Add(KeyCounter other)
    {
        Count += other.Count;
        Errors += other.Errors;
        foreach (var (status, n) in other.ByStatus)
        {
            ByStatus[status] = ByStatus.GetValueOrDefault(status) + n;
        }

        for (var i = 0; i < ByKind.Length; i++)
        {
            ByKind[i] += other.ByKind[i];
        }
    }

    public void Reset()
    {
        Count = 0;
        Errors = 0;
        ByStatus.Clear();
        Array.Clear(ByKind);
    }
}

/// <summary>Histogram settings shared by every histogram of a run, so they can be added together.</summary>
internal static class Histograms
{
    /// <summary>One microsecond in Stopwatch ticks: finer than that is noise for HTTP latency.</summary>
    public static readonly long Lowest = Math.Max(1, Stopwatch.Frequency / 1_000_000);

    /// <summary>Ten minutes: anything longer is recorded as ten minutes.</summary>
    public static readonly long Highest = Stopwatch.Frequency * 600;

    public static LongHistogram Create() => new(Lowest, Highest, 3);

    public static void RecordClamped(this LongHistogram histogram, long ticks) =>
        histogram.RecordValue(Math.Clamp(ticks, 0, Highest));

    public static double ToMilliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

/// <summary>What workers recorded during one harvest interval. Owned by one shard at a time; reset and reused.</summary>
internal sealed class IntervalBuffer(int phases, int keys, int slowestCount, int failureCap)
{
    public readonly int Keys = keys;
    public readonly LongHistogram?[] Latency = new LongHistogram?[phases * keys];
    public readonly KeyCounter?[] Counters = new KeyCounter?[phases * keys];
    public readonly LongHistogram?[] StartLag = new LongHistogram?[phases];
    public readonly long[] Started = new long[phases];
    public readonly long[] Late = new long[phases];
    public readonly PriorityQueue<RequestSample, long> Slowest = new();
    public readonly List<RequestSample> Failures = [];
    public bool Dirty;

    public void Record(int phase, int key, long latencyTicks, int status, ErrorKind kind, in SampleInfo info, bool isStep)
    {
        Dirty = true;
        var i = (phase * Keys) + key;
        (Latency[i] ??= Histograms.Create()).RecordClamped(latencyTicks);
        (Counters[i] ??= new KeyCounter()).Record(status, kind);
        if (isStep && slowestCount > 0)
        {
            if (Slowest.Count < slowestCount)
            {
                Slowest.Enqueue(info.ToSample(phase, key, latencyTicks, status, kind), latencyTicks);
            }
            else if (Slowest.TryPeek(out _, out var least) && latencyTicks > least)
            {
                Slowest.DequeueEnqueue(info.ToSample(phase, key, latencyTicks, status, kind), latencyTicks);
            }
        }

        // Journey records carry a message only when the journey itself failed (not one of its requests).
        if (kind != ErrorKind.None && (isStep || info.Message is not null) && Failures.Count < failureCap)
        {
            Failures.Add(info.ToSample(phase, key, latencyTicks, status, kind));
        }
    }

    public void RecordStart(int phase, long lagTicks, bool late)
    {
        Dirty = true;
        (StartLag[phase] ??= Histograms.Create()).RecordClamped(lagTicks);
        Started[phase]++;
        if (late)
        {
            Late[phase]++;
        }
    }

    public void Reset()
    {
        foreach (var h in Latency)
        {
            h?.Reset();
        }

        foreach (var c in Counters)
        {
            c?.Reset();
        }

        foreach (var h in StartLag)
        {
            h?.Reset();
        }

        Array.Clear(Started);
        Array.Clear(Late);
        Slowest.Clear();
        Failures.Clear();
        Dirty = false;
    }
}

/// <summary>
/// A lock-guarded <see cref="IntervalBuffer"/>. Workers pick a shard by thread so locks are almost never
/// contended; the harvester swaps the buffer out once a second.
/// </summary>
internal sealed class MetricShard(IntervalBuffer initial)
{
    private readonly Lock _gate = new();
    private IntervalBuffer _current = initial;

    public void Record(int phase, int key, long latencyTicks, int status, ErrorKind kind, in SampleInfo info, bool isStep)
    {
        lock (_gate)
        {
            _current.Record(phase, key, latencyTicks, status, kind, info, isStep);
        }
    }

    public void RecordStart(int phase, long lagTicks, bool late)
    {
        lock (_gate)
        {
            _current.RecordStart(phase, lagTicks, late);
        }
    }

    /// <summary>A finished journey and how late it started, under one lock.</summary>
    public void RecordJourney(int phase, int key, long latencyTicks, int status, ErrorKind kind, in SampleInfo info, long lagTicks, bool late)
    {
        lock (_gate)
        {
            _current.RecordStart(phase, lagTicks, late);
            _current.Record(phase, key, latencyTicks, status, kind, info, isStep: false);
        }
    }

    public IntervalBuffer Swap(IntervalBuffer fresh)
    {
        lock (_gate)
        {
            var full = _current;
            _current = fresh;
            return full;
        }
    }
}
