using System.Numerics;
using System.Diagnostics;
using HdrHistogram;

namespace Lab.Load.Engine;

/// <summary>Figures of one harvest interval (about a second), for the time series and the live view.</summary>
internal sealed record IntervalPoint(
    double AtSeconds,
    double IntervalSeconds,
    long Requests,
    long Errors,
    long Journeys,
    long JourneyErrors,
    long Started,
    double? P50Ms,
    double? P90Ms,
    double? P99Ms,
    double? MaxMs,
    double? RollingP50Ms,
    double? RollingP99Ms,
    IReadOnlyDictionary<string, double> JourneyP99Ms);

/// <summary>
/// Merges the shards' interval buffers into run totals (per phase and key), a per-second time series, the
/// slowest requests and a bounded, varied set of failures. Only the harvester thread calls it, except
/// <see cref="ShardForCurrentThread"/>.
/// </summary>
internal sealed class MetricsCollector
{
    private const int RollingIntervals = 5;
    private const int FailuresPerKind = 3;

    private readonly MetricShard[] _shards;
    private readonly IntervalBuffer[] _spares;
    private readonly int _phases;
    private readonly int _slowestCount;
    private readonly int _failureCap;
    private readonly PriorityQueue<RequestSample, long> _slowest = new();
    private readonly Dictionary<(int Phase, int Key, int Status, ErrorKind Kind), int> _failureKinds = [];
    private readonly int[] _failuresPerPhase;
    private readonly LongHistogram _intervalAll = Histograms.Create();
    private readonly LongHistogram[] _intervalJourney;
    private readonly LongHistogram[] _rolling;
    private readonly LongHistogram _rollingSum = Histograms.Create();
    private int _rollingNext;
    private long _lastHarvestTicks;

    public MetricsCollector(MetricKeys keys, int phases, int slowestCount, int failureCap, long startTicks)
    {
        Keys = keys;
        _phases = phases;
        _slowestCount = slowestCount;
        _failureCap = failureCap;
        _failuresPerPhase = new int[phases];
        var shardCount = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(4, Environment.ProcessorCount * 2));
        _shards = new MetricShard[shardCount];
        _spares = new IntervalBuffer[shardCount];
        for (var i = 0; i < shardCount; i++)
        {
            _shards[i] = new MetricShard(NewBuffer());
            _spares[i] = NewBuffer();
        }

        Latency = new LongHistogram?[phases * keys.Count];
        Counters = new KeyCounter?[phases * keys.Count];
        StartLag = new LongHistogram?[phases];
        Started = new long[phases];
        Late = new long[phases];
        _intervalJourney = [.. keys.Journeys.Select(_ => Histograms.Create())];
        _rolling = [.. Enumerable.Range(0, RollingIntervals).Select(_ => Histograms.Create())];
        _lastHarvestTicks = startTicks;
        StartTicks = startTicks;
    }

    public MetricKeys Keys { get; }

    public long StartTicks { get; }

    /// <summary>Run totals, indexed [phase * keys + key].</summary>
    public LongHistogram?[] Latency { get; }

    public KeyCounter?[] Counters { get; }

    public LongHistogram?[] StartLag { get; }

    public long[] Started { get; }

    public long[] Late { get; }

    public List<IntervalPoint> Series { get; } = [];

    public List<RequestSample> Failures { get; } = [];

    public IEnumerable<RequestSample> Slowest => _slowest.UnorderedItems.Select(i => i.Element).OrderByDescending(s => s.LatencyTicks);

    public MetricShard ShardForCurrentThread() => _shards[Environment.CurrentManagedThreadId & (_shards.Length - 1)];

    /// <summary>Collects everything recorded since the previous harvest and appends a time-series point.</summary>
    public IntervalPoint Harvest(long nowTicks)
    {
        _intervalAll.Reset();
        foreach (var h in _intervalJourney)
        {
            h.Reset();
        }

        long requests = 0, errors = 0, journeys = 0, journeyErrors = 0, started = 0;
        for (var s = 0; s < _shards.Length; s++)
        {
            var full = _shards[s].Swap(_spares[s]);
            if (full.Dirty)
            {
                Merge(full, ref requests, ref errors, ref journeys, ref journeyErrors, ref started);
                full.Reset();
            }

            _spares[s] = full;
        }

        var rolling = _rolling[_rollingNext];
        rolling.Reset();
        rolling.Add(_intervalAll);
        _rollingNext = (_rollingNext + 1) % RollingIntervals;
        _rollingSum.Reset();
        foreach (var h in _rolling)
        {
            _rollingSum.Add(h);
        }

        var journeyP99 = new Dictionary<string, double>();
        for (var j = 0; j < _intervalJourney.Length; j++)
        {
            if (_intervalJourney[j].TotalCount > 0)
            {
                journeyP99[Keys.Journeys[j].Name] = Ms(_intervalJourney[j].GetValueAtPercentile(99));
            }
        }

        var any = _intervalAll.TotalCount > 0;
        var point = new IntervalPoint(
            AtSeconds: (nowTicks - StartTicks) / (double)Stopwatch.Frequency,
            IntervalSeconds: (nowTicks - _lastHarvestTicks) / (double)Stopwatch.Frequency,
            Requests: requests,
            Errors: errors,
            Journeys: journeys,
            JourneyErrors: journeyErrors,
            Started: started,
            P50Ms: any ? Ms(_intervalAll.GetValueAtPercentile(50)) : null,
            P90Ms: any ? Ms(_intervalAll.GetValueAtPercentile(90)) : null,
            P99Ms: any ? Ms(_intervalAll.GetValueAtPercentile(99)) : null,
            MaxMs: any ? Ms(_intervalAll.GetMaxValue()) : null,
            RollingP50Ms: _rollingSum.TotalCount > 0 ? Ms(_rollingSum.GetValueAtPercentile(50)) : null,
            RollingP99Ms: _rollingSum.TotalCount > 0 ? Ms(_rollingSum.GetValueAtPercentile(99)) : null,
            JourneyP99Ms: journeyP99);
        _lastHarvestTicks = nowTicks;
        Series.Add(point);
        return point;
    }

    private void Merge(IntervalBuffer buffer, ref long requests, ref long errors, ref long journeys, ref long journeyErrors, ref long started)
    {
        var keyCount = Keys.Count;
        for (var i = 0; i < buffer.Latency.Length; i++)
        {
            var h = buffer.Latency[i];
            if (h is null || h.TotalCount == 0)
            {
                continue;
            }

            (Latency[i] ??= Histograms.Create()).Add(h);
            var counter = buffer.Counters[i]!;
            (Counters[i] ??= new KeyCounter()).Add(counter);
            var key = i % keyCount;
            if (Keys.StepOf[key] >= 0)
            {
                _intervalAll.Add(h);
                requests += counter.Count;
                errors += counter.Errors;
            }
            else
            {
                _intervalJourney[Keys.JourneyOf[key]].Add(h);
                journeys += counter.Count;
                journeyErrors += counter.Errors;
            }
        }

        for (var p = 0; p < _phases; p++)
        {
            if (buffer.StartLag[p] is { TotalCount: > 0 } lag)
            {
                (StartLag[p] ??= Histograms.Create()).Add(lag);
            }

            Started[p] += buffer.Started[p];
            Late[p] += buffer.Late[p];
            started += buffer.Started[p];
        }

        foreach (var (sample, latency) in buffer.Slowest.UnorderedItems)
        {
            if (_slowest.Count < _slowestCount)
            {
                _slowest.Enqueue(sample, latency);
            }
            else if (_slowest.TryPeek(out _, out var least) && latency > least)
            {
                _slowest.DequeueEnqueue(sample, latency);
            }
        }

        // Keep a few of each distinct failure (phase, request, status, kind) so one noisy error does not hide the others.
        foreach (var failure in buffer.Failures)
        {
            var kind = (failure.Phase, failure.Key, failure.Status, failure.Kind);
            var seen = _failureKinds.GetValueOrDefault(kind);
            if (seen < FailuresPerKind && _failuresPerPhase[failure.Phase] < _failureCap)
            {
                _failureKinds[kind] = seen + 1;
                _failuresPerPhase[failure.Phase]++;
                Failures.Add(failure);
            }
        }
    }

    private IntervalBuffer NewBuffer() => new(_phases, Keys.Count, _slowestCount, _failureCap);

    private static double Ms(long ticks) => Histograms.ToMilliseconds(ticks);
}
