using System.Globalization;
using HdrHistogram;
using Lab.Load.Engine;
using Lab.Load.Plan;

namespace Lab.Load.Reporting;

/// <summary>A span of the run between timeline marks.</summary>
internal sealed record PhaseSpan(int Index, string Name, double StartSeconds, double EndSeconds);

/// <summary>Everything the runner knows at the end, before it becomes a <see cref="LoadReport"/>.</summary>
internal sealed record RunOutcome(
    LoadPlan Plan,
    MetricsCollector Collector,
    IReadOnlyList<PhaseSpan> Phases,
    DateTimeOffset StartedAt,
    double ElapsedSeconds,
    bool Interrupted,
    long[] PlannedByPhase,
    long[] DroppedByPhase,
    long[] UnstartedByPhase,
    long Cancelled,
    IReadOnlyList<TimelineEventReport> Timeline);

internal static class ReportBuilder
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static LoadReport Build(RunOutcome run)
    {
        var plan = run.Plan;
        var keys = run.Collector.Keys;
        var allPhases = Enumerable.Range(0, run.Phases.Count).ToArray();
        var seconds = Math.Max(run.ElapsedSeconds, 1e-3);
        var links = TraceLinksReport.For(plan.AspireUrl, plan.JaegerUrl);
        var open = plan.Model as OpenModel;

        var requests = Stats(run, allPhases, StepKeys(keys), seconds);
        var journeys = Journeys(run, allPhases, seconds);
        var schedule = Schedule(run, allPhases, seconds, open is null ? null : (open.StartRate + open.EndRate) / 2);
        var phases = run.Phases.Select(p =>
        {
            var span = Math.Max(Math.Min(p.EndSeconds, run.ElapsedSeconds) - p.StartSeconds, 1e-3);
            int[] only = [p.Index];
            double? target = open is null ? null : open.RateAt((p.StartSeconds + p.EndSeconds) / 2, plan.Duration.TotalSeconds);
            return new PhaseReport(p.Index, p.Name, p.StartSeconds, p.EndSeconds, Stats(run, only, StepKeys(keys), span), Schedule(run, only, span, target), Journeys(run, only, span));
        }).ToList();

        var phaseNames = run.Phases.Select(p => p.Name).ToArray();
        RequestRecordReport Record(RequestSample s)
        {
            var traceId = s.TraceId.ToString();
            var journey = keys.Journeys[keys.JourneyOf[s.Key]];
            var step = keys.StepOf[s.Key] < 0 ? journey.Name : journey.Steps[keys.StepOf[s.Key]];
            return new RequestRecordReport(
                journey.Name, step, s.Method, s.Path, s.Status, s.Kind == ErrorKind.None ? null : s.Kind.ToName(), s.Message,
                Round(Histograms.ToMilliseconds(s.LatencyTicks)), Round(s.OffsetTicks / (double)System.Diagnostics.Stopwatch.Frequency),
                phaseNames[s.Phase], traceId, links.AspireFor(traceId), links.JaegerFor(traceId));
        }

        var series = run.Collector.Series
            .Where(p => p.IntervalSeconds > 0.05)
            .Select(p => new TimePointReport(
                Round(p.AtSeconds),
                Round(p.Requests / p.IntervalSeconds),
                p.Requests == 0 ? 0 : Round(p.Errors / (double)p.Requests, 6),
                Round(p.Started / p.IntervalSeconds),
                open is null ? null : Round(open.RateAt(p.AtSeconds - (p.IntervalSeconds / 2), plan.Duration.TotalSeconds)),
                RoundOrNull(p.P50Ms), RoundOrNull(p.P90Ms), RoundOrNull(p.P99Ms), RoundOrNull(p.MaxMs),
                p.JourneyP99Ms.ToDictionary(kv => kv.Key, kv => Round(kv.Value))))
            .ToList();

        var thresholds = plan.Thresholds.Select(t => Evaluate(t, requests, journeys)).ToList();

        var histograms = new Dictionary<string, HistogramBase> { ["all"] = Merge(run, allPhases, StepKeys(keys)) };
        for (var j = 0; j < keys.Journeys.Count; j++)
        {
            histograms[keys.Journeys[j].Name] = Merge(run, allPhases, [keys.JourneyKey(j)]);
        }

        return new LoadReport
        {
            StartedAt = run.StartedAt,
            Target = plan.Target.ToString(),
            Model = plan.Model switch
            {
                OpenModel o => new ModelReport("open", o.StartRate, o.EndRate, null, null, plan.MaxInFlight),
                ClosedModel c => new ModelReport("closed", null, null, c.Users, c.ThinkTime.TotalMilliseconds, c.Users),
                _ => throw new InvalidOperationException("unknown load model"),
            },
            Mix = plan.Mix.ToString(),
            Seed = plan.Seed,
            PlannedSeconds = plan.Duration.TotalSeconds,
            ElapsedSeconds = Round(run.ElapsedSeconds),
            Interrupted = run.Interrupted,
            Requests = requests,
            Schedule = schedule,
            Journeys = journeys,
            Phases = phases,
            Timeline = run.Timeline,
            TimeSeries = series,
            Slowest = run.Collector.Slowest.Select(Record).ToList(),
            Failures = run.Collector.Failures.OrderBy(f => f.OffsetTicks).Select(Record).ToList(),
            Thresholds = thresholds,
            TraceLinks = links,
            Warnings = Warnings(run, schedule, requests),
            Histograms = histograms,
        };
    }

    internal static ThresholdResultReport Evaluate(Threshold threshold, StatsReport requests, IReadOnlyList<JourneyReport> journeys)
    {
        StatsReport? stats;
        string scope;
        if (threshold.Journey is null)
        {
            stats = requests;
            scope = "all requests";
        }
        else
        {
            var journey = journeys.FirstOrDefault(j => j.Name == threshold.Journey);
            if (threshold.Step is null)
            {
                stats = journey?.Journey;
                scope = $"{threshold.Journey} journeys";
            }
            else
            {
                stats = journey?.Steps.FirstOrDefault(s => s.Name == threshold.Step)?.Stats;
                scope = $"{threshold.Journey}/{threshold.Step} requests";
            }
        }

        if (stats is null || stats.Count == 0)
        {
            return new ThresholdResultReport(threshold.Expression, scope, null, "no data", false);
        }

        double? actual = threshold.Metric switch
        {
            ThresholdMetric.Errors => stats.ErrorRate,
            ThresholdMetric.Rate => stats.Rate,
            ThresholdMetric.P50 => stats.LatencyMs?.P50,
            ThresholdMetric.P90 => stats.LatencyMs?.P90,
            ThresholdMetric.P95 => stats.LatencyMs?.P95,
            ThresholdMetric.P99 => stats.LatencyMs?.P99,
            ThresholdMetric.P999 => stats.LatencyMs?.P999,
            ThresholdMetric.Max => stats.LatencyMs?.Max,
            _ => stats.LatencyMs?.Mean,
        };
        return actual is { } value
            ? new ThresholdResultReport(threshold.Expression, scope, value, threshold.FormatValue(value), threshold.IsMetBy(value))
            : new ThresholdResultReport(threshold.Expression, scope, null, "no data", false);
    }

    private static List<JourneyReport> Journeys(RunOutcome run, int[] phases, double seconds)
    {
        var keys = run.Collector.Keys;
        var list = new List<JourneyReport>();
        for (var j = 0; j < keys.Journeys.Count; j++)
        {
            var journey = keys.Journeys[j];
            var stepKeys = Enumerable.Range(0, journey.Steps.Count).Select(s => keys.JourneyKey(j) + 1 + s).ToArray();
            list.Add(new JourneyReport(
                journey.Name,
                Stats(run, phases, [keys.JourneyKey(j)], seconds),
                Stats(run, phases, stepKeys, seconds),
                journey.Steps.Select((step, s) => new StepReport(step, Stats(run, phases, [stepKeys[s]], seconds))).ToList()));
        }

        return list;
    }

    private static ScheduleReport Schedule(RunOutcome run, int[] phases, double seconds, double? target)
    {
        var c = run.Collector;
        var lag = Histograms.Create();
        long started = 0, late = 0, planned = 0, dropped = 0, unstarted = 0;
        foreach (var p in phases)
        {
            if (c.StartLag[p] is { } h)
            {
                lag.Add(h);
            }

            started += c.Started[p];
            late += c.Late[p];
            planned += run.PlannedByPhase[p];
            dropped += run.DroppedByPhase[p];
            unstarted += run.UnstartedByPhase[p];
        }

        var open = run.Plan.Model is OpenModel;
        return new ScheduleReport(
            open ? planned : null,
            started,
            dropped,
            unstarted,
            late,
            run.Plan.LateStartThreshold.TotalMilliseconds,
            phases.Length == run.Phases.Count ? run.Cancelled : 0,
            Latency(lag),
            target is null ? null : Round(target.Value),
            Round(started / seconds));
    }

    private static StatsReport Stats(RunOutcome run, int[] phases, int[] keys, double seconds)
    {
        var histogram = Merge(run, phases, keys);
        var counter = new KeyCounter();
        foreach (var p in phases)
        {
            foreach (var k in keys)
            {
                if (run.Collector.Counters[(p * run.Collector.Keys.Count) + k] is { } kc)
                {
                    counter.Add(kc);
                }
            }
        }

        var byKind = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < counter.ByKind.Length; i++)
        {
            if (counter.ByKind[i] > 0)
            {
                byKind[((ErrorKind)i).ToName()] = counter.ByKind[i];
            }
        }

        return new StatsReport(
            counter.Count,
            Round(counter.Count / seconds),
            counter.Errors,
            counter.Count == 0 ? 0 : Round(counter.Errors / (double)counter.Count, 6),
            Latency(histogram),
            new SortedDictionary<string, long>(counter.ByStatus.ToDictionary(kv => kv.Key.ToString(Inv), kv => kv.Value), StringComparer.Ordinal),
            byKind);
    }

    private static LongHistogram Merge(RunOutcome run, int[] phases, int[] keys)
    {
        var merged = Histograms.Create();
        foreach (var p in phases)
        {
            foreach (var k in keys)
            {
                if (run.Collector.Latency[(p * run.Collector.Keys.Count) + k] is { } h)
                {
                    merged.Add(h);
                }
            }
        }

        return merged;
    }

    private static int[] StepKeys(MetricKeys keys) =>
        Enumerable.Range(0, keys.Count).Where(k => keys.StepOf[k] >= 0).ToArray();

    private static LatencyReport? Latency(LongHistogram h) =>
        h.TotalCount == 0
            ? null
            : new LatencyReport(
                Ms(h.GetValueAtPercentile(50)),
                Ms(h.GetValueAtPercentile(90)),
                Ms(h.GetValueAtPercentile(95)),
                Ms(h.GetValueAtPercentile(99)),
                Ms(h.GetValueAtPercentile(99.9)),
                Ms(h.GetMaxValue()),
                Round(h.GetMean() * 1000.0 / System.Diagnostics.Stopwatch.Frequency));

    private static List<string> Warnings(RunOutcome run, ScheduleReport schedule, StatsReport requests)
    {
        var warnings = new List<string>();
        if (schedule.Dropped > 0)
        {
            warnings.Add(
                $"The client could not keep up: {schedule.Dropped} of {schedule.Planned} planned journeys ({Percent(schedule.Dropped, schedule.Planned ?? 0)}) were dropped " +
                $"because {run.Plan.MaxQueuedArrivals} arrivals were already waiting; their latency is not in the figures. Raise --max-in-flight or lower the rate.");
        }

        if (schedule.Unstarted > 0)
        {
            warnings.Add($"{schedule.Unstarted} planned journeys were still waiting for a free slot when the run ended and never started.");
        }

        if (schedule.Started > 0 && schedule.Late > schedule.Started / 100)
        {
            warnings.Add(
                $"{schedule.Late} journeys ({Percent(schedule.Late, schedule.Started)}) started more than {schedule.LateThresholdMs:0.#} ms after their planned time; " +
                "their latencies include that wait (measured from the planned start).");
        }

        if (schedule.Cancelled > 0)
        {
            warnings.Add($"{schedule.Cancelled} journeys were still running {run.Plan.DrainTimeout.TotalSeconds:0.#} s after the end and were cancelled; they are not counted.");
        }

        foreach (var mark in run.Timeline.Where(t => !t.Ok))
        {
            warnings.Add($"Timeline mark at {mark.AtSeconds:0.#}s ({mark.Action} {mark.Scenario}) failed: {mark.Error}");
        }

        if (requests.ErrorsByKind.TryGetValue(ErrorKind.ConnectionRefused.ToName(), out var refused) && refused > 0)
        {
            warnings.Add($"{refused} requests were refused: the target stopped listening during the run.");
        }

        return warnings;
    }

    private static string Percent(long part, long whole) =>
        whole == 0 ? "0%" : (part * 100.0 / whole).ToString("0.##", Inv) + "%";

    private static double Ms(long ticks) => Round(Histograms.ToMilliseconds(ticks));

    private static double Round(double value, int digits = 3) => Math.Round(value, digits);

    private static double? RoundOrNull(double? value) => value is null ? null : Round(value.Value);
}
