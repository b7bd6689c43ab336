using System.Diagnostics;
using Lab.Load.Control;
using Lab.Load.Plan;
using Lab.Load.Reporting;

namespace Lab.Load.Engine;

/// <summary>Applies the plan's timeline marks through the control API at their offsets and records what happened.</summary>
internal sealed class Timeline(LoadPlan plan, IScenarioControl? control)
{
    private static readonly TimeSpan MinimumTtl = TimeSpan.FromMinutes(5);
    private readonly List<TimelineEventReport> _events = [];
    private readonly HashSet<string> _enabled = new(StringComparer.Ordinal);

    public IReadOnlyList<TimelineEventReport> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>Applies the marks planned exactly at <paramref name="at"/>.</summary>
    public async Task ApplyDueAsync(TimeSpan at, long startTicks, CancellationToken cancellationToken)
    {
        foreach (var mark in plan.Timeline.Where(m => m.At == at))
        {
            await ApplyAsync(mark, startTicks, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for each later mark and applies it; stops (recording the rest as not applied) when the run ends.</summary>
    public async Task RunAsync(long startTicks, CancellationToken stop)
    {
        foreach (var at in plan.Timeline.Select(m => m.At).Where(a => a > TimeSpan.Zero).Distinct().Order())
        {
            var wait = at - TimeSpan.FromSeconds((Stopwatch.GetTimestamp() - startTicks) / (double)Stopwatch.Frequency);
            try
            {
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                foreach (var mark in plan.Timeline.Where(m => m.At >= at))
                {
                    Add(new TimelineEventReport(mark.At.TotalSeconds, null, Name(mark.Action), mark.Scenario, mark.Parameters, false, "not applied: the run ended first"));
                }

                return;
            }

            await ApplyDueAsync(at, startTicks, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Disables what the timeline enabled and left on, so the next run starts clean.</summary>
    public async Task ResetEnabledAsync(long elapsedTicks, CancellationToken cancellationToken)
    {
        if (control is null)
        {
            return;
        }

        string[] left;
        lock (_enabled)
        {
            left = [.. _enabled];
        }

        foreach (var scenario in left)
        {
            string? error = null;
            try
            {
                await control.DisableAsync(scenario, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ScenarioControlException or HttpRequestException or OperationCanceledException)
            {
                error = e.Message;
            }

            var at = elapsedTicks / (double)Stopwatch.Frequency;
            Add(new TimelineEventReport(at, at, "reset", scenario, new Dictionary<string, string>(), error is null, error));
        }
    }

    private async Task ApplyAsync(TimelineMark mark, long startTicks, CancellationToken cancellationToken)
    {
        string? error = null;
        if (control is null)
        {
            error = "no control API configured";
        }
        else
        {
            try
            {
                if (mark.Action == TimelineAction.Enable)
                {
                    // Expire after the run even if this client dies, but never sooner than the lab's usual few minutes.
                    var remaining = plan.Duration - mark.At + TimeSpan.FromMinutes(1);
                    await control.EnableAsync(mark.Scenario, mark.Parameters, remaining > MinimumTtl ? remaining : MinimumTtl, cancellationToken).ConfigureAwait(false);
                    lock (_enabled)
                    {
                        _enabled.Add(mark.Scenario);
                    }
                }
                else
                {
                    await control.DisableAsync(mark.Scenario, cancellationToken).ConfigureAwait(false);
                    lock (_enabled)
                    {
                        _enabled.Remove(mark.Scenario);
                    }
                }
            }
            catch (Exception e) when (e is ScenarioControlException or HttpRequestException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                error = e.Message;
            }
        }

        var applied = (Stopwatch.GetTimestamp() - startTicks) / (double)Stopwatch.Frequency;
        Add(new TimelineEventReport(mark.At.TotalSeconds, error is null ? Math.Max(applied, 0) : null, Name(mark.Action), mark.Scenario, mark.Parameters, error is null, error));
    }

    private void Add(TimelineEventReport e)
    {
        lock (_events)
        {
            _events.Add(e);
        }
    }

    private static string Name(TimelineAction action) => action == TimelineAction.Enable ? "enable" : "disable";
}
