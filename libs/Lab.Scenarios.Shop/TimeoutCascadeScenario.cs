using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Orleans.Runtime;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Catalog #27: latency deep down (inside payments' charge transaction) under a timeout at each layer. While it is on,
/// the storefront gives a checkout a budget (edge-timeout) and answers 504 when it is spent, but nothing below knows:
/// the order saga goes on, the payments client waits for its own timeout, payments commits the charge. Work finishes
/// after its caller gave up, and is counted as orphaned. With cure=true the deadline travels with the call (Orleans
/// RequestContext, then the Lab-Deadline HTTP header) and every layer stops when it is spent: payments cancels the
/// charge transaction, the client cancels the call, the saga compensates instead of confirming.
/// </summary>
public sealed class TimeoutCascadeScenario : Scenario
{
    public const string Name = "timeout-cascade";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "latency",
        Description: "Delays a share of payments' charge transactions (holding SQLite's write lock, so other charges queue behind them) while the storefront " +
                     "gives each checkout a time budget. Each layer times out on its own; below the edge the work goes on after the caller gave up.",
        Targets: [HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Duration("delay", "3s", "Extra time a delayed charge transaction takes (with the write lock held).", min: "1ms", max: "60s"),
            ParameterSpec.Percent("share", "30%", "Share of charges that are delayed."),
            ParameterSpec.Duration("edge-timeout", "2s", "The storefront's budget for one checkout; it answers 504 when it is spent.", min: "100ms", max: "60s"),
            ParameterSpec.Bool("cure", false, "Propagate the deadline (RequestContext, Lab-Deadline header) and cancel at every layer when it is spent."),
            ParameterSpec.Duration("margin", "100ms", "With the cure: what a layer keeps back from the budget it passes down, for its own remaining steps and its answer's way back.",
                min: "0ms", max: "10s"),
        ],
        Signature: "Checkouts answer 504 at the edge far more often than the share of delayed charges (charges queue behind the held write lock); " +
                   "lab.work.orphaned{layer=order-saga|payments-client|payments-server} counts work finished after the edge gave up: orders confirmed " +
                   "and charges committed for customers who were told their checkout timed out; their spans end after the storefront's server span.",
        Cure: "Deadline propagation: the remaining budget travels with the call and every layer cancels when it runs out (no orphaned work); timeout budgets that shrink downstream (each layer keeps 'margin' back for its own remaining steps).",
        Runbook: new Runbook(
            Break: "lab scenario enable timeout-cascade --set delay=3s --set share=30% --set edge-timeout=2s",
            Hint: "Customers get 504s, yet orders keep being confirmed and charged. Compare when the storefront's span ends with when the order saga and the charge end.",
            Verify: "In a 504 checkout trace the order grain's PlaceAsync span and payments' POST /api/charges/ span end after the storefront's server span; lab.work.orphaned grows; orders the customer saw fail are Confirmed in the database.",
            Restore: "lab scenario change timeout-cascade --set cure=true (every layer stops at the deadline: lab.work.orphaned stays flat), or lab scenario disable timeout-cascade."));

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.Service.Kind == ServiceKind.Payments
        && ctx.RepositoryOperation == "payments.charge"
        && ctx.Random.Chance(activation.GetRate("share"));

    public override async ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        await Task.Delay(activation.GetDuration("delay"), ct).ConfigureAwait(false);

    /// <summary>The storefront's budget for a checkout while the scenario is on, else null (idle: one volatile read).</summary>
    public static TimeSpan? EdgeTimeout() =>
        ShopScenarioState.Find(Name) is { } activation ? activation.GetDuration("edge-timeout") : null;

    /// <summary>
    /// With the cure on, what each layer keeps back from the deadline it passes down (so the work below stops early
    /// enough for the answer to arrive in time); null when the cure is off and no layer honours a deadline.
    /// </summary>
    public static TimeSpan? CureMargin() =>
        ShopScenarioState.Find(Name) is { } activation && activation.GetBool("cure") ? activation.GetDuration("margin") : null;
}

/// <summary>
/// The deadline of the call being served: set by the edge in Orleans' RequestContext (which flows with every grain
/// call made while serving it) and carried to HTTP services in the <see cref="Header"/> header as Unix milliseconds.
/// </summary>
public static class CallDeadline
{
    public const string Header = "Lab-Deadline";
    private const string ContextKey = "lab-deadline";

    private static readonly Meter Meter = new(RetryTelemetry.MeterName);

    private static readonly Counter<long> Orphaned = Meter.CreateCounter<long>(
        "lab.work.orphaned", unit: "{operation}", description: "Work finished after its caller's deadline had passed, by layer.");

    /// <summary>Sets the deadline for the grain calls this async flow makes from now on.</summary>
    public static void Set(DateTimeOffset deadline) => RequestContext.Set(ContextKey, deadline.ToUnixTimeMilliseconds());

    /// <summary>The deadline of the current grain call, if its caller set one.</summary>
    public static DateTimeOffset? Current() =>
        RequestContext.Get(ContextKey) is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    public static string Format(DateTimeOffset deadline) => deadline.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    public static DateTimeOffset? Parse(string? header) =>
        long.TryParse(header, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    /// <summary>Counts work that finished after <paramref name="deadline"/> and tags the current span with it.</summary>
    public static void FinishedAt(DateTimeOffset? deadline, DateTimeOffset now, string layer)
    {
        if (deadline is not { } d || now <= d)
        {
            return;
        }

        Orphaned.Add(1, new KeyValuePair<string, object?>("layer", layer));
        Activity.Current?.SetTag("lab.orphaned", layer);
        Activity.Current?.AddEvent(new ActivityEvent("lab.orphaned", tags: new ActivityTagsCollection
        {
            ["layer"] = layer,
            ["lab.after_deadline_ms"] = (now - d).TotalMilliseconds,
        }));
    }

    /// <summary>A source cancelled when <paramref name="deadline"/> passes; null when there is none (nothing allocated).</summary>
    public static CancellationTokenSource? Until(DateTimeOffset? deadline, DateTimeOffset now)
    {
        if (deadline is not { } d)
        {
            return null;
        }

        var source = new CancellationTokenSource();
        if (d > now)
        {
            source.CancelAfter(d - now);
        }
        else
        {
            // Spent already: cancel now. CancelAfter(0) fires on a timer thread a moment later, by which time a fast
            // piece of work (a charge transaction takes a millisecond or two) has finished unchecked.
            source.Cancel();
        }

        return source;
    }
}
