using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Lab.Scenarios;
using Lab.Scenarios.Shop;
using Lab.ServiceDefaults;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace Lab.Grains;

/// <summary>
/// The payments client's resilience while a scenario asks for it: retry-storm's client-layer retries (naive, or
/// jittered backoff with a retry budget as the cure) and circuit-breaker's breaker. Pipelines are built once per
/// activation and held here, a singleton, because HttpClientFactory rotates handlers and a breaker's state must
/// outlive them.
/// </summary>
public sealed class PaymentsResiliencePipelines(TimeProvider time)
{
    private readonly Lock _lock = new();
    private volatile PaymentsPipeline? _current;

    /// <summary>The pipeline for the active scenarios, or null when none asks for one.</summary>
    public PaymentsPipeline? Current()
    {
        var retry = RetryStormScenario.Current();
        var breaker = CircuitBreakerScenario.Current();
        if (retry is null && breaker is null)
        {
            return null;
        }

        var current = _current;
        if (current is not null && current.Retry == retry && current.Breaker == breaker)
        {
            return current;
        }

        lock (_lock)
        {
            current = _current;
            if (current is null || current.Retry != retry || current.Breaker != breaker)
            {
                current = PaymentsPipeline.Build(retry, breaker, time);
                _current = current;
                PaymentsBreakerTelemetry.Track(current);
            }

            return current;
        }
    }
}

/// <summary>One built pipeline: outer retry, inner breaker (so every attempt counts for the breaker).</summary>
public sealed class PaymentsPipeline
{
    private PaymentsPipeline(RetryStormSettings? retry, CircuitBreakerSettings? breaker, ResiliencePipeline<HttpResponseMessage> pipeline,
        CircuitBreakerStateProvider? breakerState, RetryBudget? budget, string description)
    {
        Retry = retry;
        Breaker = breaker;
        Pipeline = pipeline;
        BreakerState = breakerState;
        Budget = budget;
        Description = description;
    }

    public RetryStormSettings? Retry { get; }
    public CircuitBreakerSettings? Breaker { get; }
    public ResiliencePipeline<HttpResponseMessage> Pipeline { get; }
    public CircuitBreakerStateProvider? BreakerState { get; }
    public RetryBudget? Budget { get; }
    public string Description { get; }

    internal static PaymentsPipeline Build(RetryStormSettings? retry, CircuitBreakerSettings? breaker, TimeProvider time)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time };
        var parts = new List<string>();
        RetryBudget? budget = null;
        if (retry is { ClientAttempts: > 1 })
        {
            budget = retry.Cure ? new RetryBudget(retry.RetryBudget, retry.BudgetFloor, TimeSpan.FromSeconds(10), time) : null;
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = retry.ClientAttempts - 1,
                // Naive: retry at once, every time. Cure: exponential backoff with jitter, and only while the budget lasts.
                Delay = retry.Cure ? retry.Backoff : TimeSpan.Zero,
                BackoffType = retry.Cure ? DelayBackoffType.Exponential : DelayBackoffType.Constant,
                UseJitter = retry.Cure,
                // Polly asks on the last attempt too: only draw from the budget for a retry that will happen.
                ShouldHandle = args => ValueTask.FromResult(IsTransient(args.Outcome)
                    && (budget is null || (args.AttemptNumber < retry.ClientAttempts - 1 && budget.TryRetry()))),
                OnRetry = args =>
                {
                    RetryTelemetry.Retried("client");
                    Activity.Current?.AddEvent(new ActivityEvent("lab.payments.retry", tags: new ActivityTagsCollection
                    {
                        ["attempt"] = args.AttemptNumber + 1,
                        ["delay_ms"] = args.RetryDelay.TotalMilliseconds,
                        ["cause"] = Describe(args.Outcome),
                    }));
                    return ValueTask.CompletedTask;
                },
            });
            parts.Add(retry.Cure ? $"retry({retry.ClientAttempts}, jittered backoff {retry.Backoff.TotalMilliseconds:0} ms, budget {retry.RetryBudget:P0})" : $"retry({retry.ClientAttempts}, naive)");
        }

        CircuitBreakerStateProvider? state = null;
        if (breaker is not null)
        {
            state = new CircuitBreakerStateProvider();
            builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
            {
                FailureRatio = breaker.FailureRatio,
                MinimumThroughput = breaker.MinimumThroughput,
                SamplingDuration = breaker.SamplingDuration,
                BreakDuration = breaker.BreakDuration,
                StateProvider = state,
                ShouldHandle = args => ValueTask.FromResult(IsTransient(args.Outcome)),
                OnOpened = args => PaymentsBreakerTelemetry.Transition("opened", $"after {Describe(args.Outcome)}; open for {args.BreakDuration.TotalMilliseconds:0} ms"),
                OnHalfOpened = _ => PaymentsBreakerTelemetry.Transition("half-opened", "probing payments"),
                OnClosed = args => PaymentsBreakerTelemetry.Transition("closed", $"after {Describe(args.Outcome)}"),
            });
            parts.Add($"breaker(ratio {breaker.FailureRatio}, min {breaker.MinimumThroughput}, sampling {breaker.SamplingDuration.TotalSeconds:0.#} s, break {breaker.BreakDuration.TotalSeconds:0.#} s)");
        }

        return new PaymentsPipeline(retry, breaker, builder.Build(), state, budget, parts.Count == 0 ? "none" : string.Join(" > ", parts));
    }

    /// <summary>What a retry or a breaker counts as a failure of payments: no answer, a 5xx, 408 or 429.</summary>
    internal static bool IsTransient(Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception is HttpRequestException
        || outcome.Result is { StatusCode: >= HttpStatusCode.InternalServerError or HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests };

    private static string Describe(Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception is { } ex ? ex.GetType().Name : $"{(int?)outcome.Result?.StatusCode}";
}

/// <summary>
/// A retry budget: retries allowed as a share of first attempts within a window (plus a floor), so retries cannot
/// multiply load on a dependency that is down.
/// </summary>
public sealed class RetryBudget(double ratio, int floor, TimeSpan window, TimeProvider time)
{
    private readonly Lock _lock = new();
    private long _windowStart = time.GetTimestamp();
    private int _requests;
    private int _retries;

    public void OnRequest()
    {
        lock (_lock)
        {
            Roll();
            _requests++;
        }
    }

    public bool TryRetry()
    {
        lock (_lock)
        {
            Roll();
            if (_retries >= Math.Max(floor, (int)(ratio * _requests)))
            {
                return false;
            }

            _retries++;
            return true;
        }
    }

    private void Roll()
    {
        if (time.GetElapsedTime(_windowStart) >= window)
        {
            _windowStart = time.GetTimestamp();
            _requests = 0;
            _retries = 0;
        }
    }
}

/// <summary>Breaker state as a metric and as span events, so a user sees it open, probe and close.</summary>
public static class PaymentsBreakerTelemetry
{
    public const string MeterName = "Lab.Payments.Client";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Transitions = Meter.CreateCounter<long>(
        "lab.payments.breaker.transitions", unit: "{transition}", description: "Circuit breaker transitions of the payments client, by new state (opened, half-opened, closed).");

    private static readonly Counter<long> Rejections = Meter.CreateCounter<long>(
        "lab.payments.breaker.rejections", unit: "{call}", description: "Payments calls failed fast by the open breaker, without reaching payments.");

    private static volatile PaymentsPipeline? s_tracked;

    static PaymentsBreakerTelemetry()
    {
        Meter.CreateObservableGauge("lab.payments.breaker.state", ObserveState, unit: "{state}",
            description: "Circuit breaker state of the payments client: 0 closed, 1 open, 2 half-open, 3 isolated (only while the circuit-breaker scenario is on).");
    }

    internal static void Track(PaymentsPipeline pipeline) => s_tracked = pipeline;

    internal static ValueTask Transition(string state, string detail)
    {
        Transitions.Add(1, new KeyValuePair<string, object?>("state", state));
        Activity.Current?.AddEvent(new ActivityEvent("lab.payments.breaker." + state,
            tags: new ActivityTagsCollection { ["detail"] = detail }));
        return ValueTask.CompletedTask;
    }

    internal static void Rejected(BrokenCircuitException ex)
    {
        Rejections.Add(1);
        Activity.Current?.AddEvent(new ActivityEvent("lab.payments.breaker.rejected",
            tags: new ActivityTagsCollection { ["retry_after_ms"] = ex.RetryAfter?.TotalMilliseconds }));
    }

    private static IEnumerable<Measurement<int>> ObserveState()
    {
        // Report only while the breaker that is tracked belongs to the live activation.
        if (s_tracked is { BreakerState: { } state, Breaker: { } settings } && CircuitBreakerScenario.Current() == settings)
        {
            yield return new Measurement<int>((int)state.CircuitState);
        }
    }
}

/// <summary>
/// Runs payments calls through <see cref="PaymentsResiliencePipelines"/> while a scenario asks for it; otherwise
/// passes them straight on (idle: one volatile read and a branch). Sits outside the scenario handler, so its retries
/// and breaker see what the scenario injects.
/// </summary>
public sealed class PaymentsResilienceHandler(PaymentsResiliencePipelines pipelines) : DelegatingHandler
{
    private static readonly string[] TraceHeaders = ["traceparent", "tracestate", "baggage", "Request-Id", "Correlation-Context"];

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (ScenarioRuntime.IsIdle || pipelines.Current() is not { } pipeline)
        {
            return base.SendAsync(request, cancellationToken);
        }

        return SendThroughAsync(pipeline, request, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendThroughAsync(PaymentsPipeline pipeline, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var activity = LabTelemetry.Source.StartActivity("payments client resilience");
        activity?.SetTag("lab.payments.pipeline", pipeline.Description);
        pipeline.Budget?.OnRequest();
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            return await pipeline.Pipeline.ExecuteAsync(
                static (ctx, state) => state.Handler.SendOnceAsync(state.Request, ctx.CancellationToken),
                context,
                (Handler: this, Request: request));
        }
        catch (BrokenCircuitException ex)
        {
            PaymentsBreakerTelemetry.Rejected(ex);
            activity?.SetStatus(ActivityStatusCode.Error, "circuit open");
            throw;
        }
        finally
        {
            activity?.SetTag("lab.payments.breaker.state", pipeline.BreakerState?.CircuitState.ToString());
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private async ValueTask<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // Each attempt gets its own client span: drop the trace headers the previous attempt's span injected.
        foreach (var header in TraceHeaders)
        {
            request.Headers.Remove(header);
        }

        return await base.SendAsync(request, cancellationToken);
    }
}
