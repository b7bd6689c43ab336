using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Lab.Scenarios;
using Lab.ServiceDefaults;
using Lab.Shop;
using Polly;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Retry;
using Polly.Timeout;
using System.Threading.RateLimiting;
using RetryPolicy = Lab.Shop.RetryPolicy;

namespace Lab.Grains;

/// <summary>
/// The payments client's resilience: the payments-retry, payments-breaker, payments-timeout and payments-bulkhead seams,
/// built into one Polly pipeline. The shop's own pipeline (a bulkhead, jittered backoff with a retry budget, a breaker and
/// a timeout per attempt) is built once and kept for the life of the process, so its breaker remembers; a regressed set of
/// variants gets a pipeline of its own while it lasts. Held in a singleton, because HttpClientFactory rotates handlers and
/// a breaker's state must outlive them.
/// </summary>
public sealed class PaymentsResiliencePipelines(ShopPolicies policies, ServiceIdentity identity, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly PaymentsPipeline _production = PaymentsPipeline.Build(
        new PaymentsPolicies(policies.PaymentsRetry, policies.PaymentsBreaker, policies.PaymentsTimeout, policies.PaymentsBulkhead), time);
    private volatile PaymentsPipeline? _regressed;

    /// <summary>The pipeline for this call: the shop's own, or the one of the variants a scenario put in place.</summary>
    public PaymentsPipeline Current()
    {
        var own = _production.Policies;
        var retry = ShopSeams.PaymentsRetry.Resolve(identity, own.Retry);
        var breaker = ShopSeams.PaymentsBreaker.Resolve(identity, own.Breaker);
        var timeout = ShopSeams.PaymentsTimeout.Resolve(identity, own.AttemptTimeout);
        var bulkhead = ShopSeams.PaymentsBulkhead.Resolve(identity, own.Bulkhead);
        // Unregressed seams hand back the shop's own variants themselves: the idle path compares references, allocates nothing.
        var pipeline = ReferenceEquals(retry, own.Retry) && ReferenceEquals(breaker, own.Breaker) && timeout == own.AttemptTimeout
                       && ReferenceEquals(bulkhead, own.Bulkhead)
            ? _production
            : Regressed(new PaymentsPolicies(retry, breaker, timeout, bulkhead));
        PaymentsBreakerTelemetry.Track(pipeline);
        return pipeline;
    }

    private PaymentsPipeline Regressed(PaymentsPolicies wanted)
    {
        if (_regressed is { } current && current.Policies == wanted)
        {
            return current;
        }

        lock (_lock)
        {
            if (_regressed is not { } built || built.Policies != wanted)
            {
                _regressed = built = PaymentsPipeline.Build(wanted, time);
            }

            return built;
        }
    }
}

/// <summary>The variants one payments pipeline is built from.</summary>
public sealed record PaymentsPolicies(RetryPolicy Retry, BreakerPolicy Breaker, TimeSpan AttemptTimeout, BulkheadPolicy Bulkhead);

/// <summary>
/// One built pipeline, outermost first: the bulkhead (a call beyond it never waits), the retry, the breaker (so every
/// attempt counts for it) and the timeout of one attempt (so a hung attempt is a failure the breaker and the retry see).
/// </summary>
public sealed class PaymentsPipeline
{
    private PaymentsPipeline(PaymentsPolicies policies, ResiliencePipeline<HttpResponseMessage> pipeline,
        CircuitBreakerStateProvider? breakerState, RetryBudget? budget, string description)
    {
        Policies = policies;
        Pipeline = pipeline;
        BreakerState = breakerState;
        Budget = budget;
        Description = description;
    }

    public PaymentsPolicies Policies { get; }
    public ResiliencePipeline<HttpResponseMessage> Pipeline { get; }
    public CircuitBreakerStateProvider? BreakerState { get; }
    public RetryBudget? Budget { get; }
    public string Description { get; }

    public static PaymentsPipeline Build(PaymentsPolicies policies, TimeProvider time)
    {
        var (retry, breaker, attemptTimeout, bulkhead) = policies;
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time };
        var parts = new List<string>();
        if (bulkhead.MaxConcurrent is { } permits)
        {
            builder.AddConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = permits, QueueLimit = 0 });
            parts.Add(bulkhead.ToString());
        }

        RetryBudget? budget = null;
        if (retry.Attempts > 1)
        {
            budget = retry.Budget is { } b ? new RetryBudget(b.Ratio, b.Floor, b.Window, time) : null;
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = retry.Attempts - 1,
                Delay = retry.Backoff,
                BackoffType = retry.Backoff > TimeSpan.Zero ? DelayBackoffType.Exponential : DelayBackoffType.Constant,
                UseJitter = retry.Jitter,
                // Polly asks on the last attempt too: only draw from the budget for a retry that will happen.
                ShouldHandle = args => ValueTask.FromResult(IsTransient(args.Outcome)
                    && (budget is null || (args.AttemptNumber < retry.Attempts - 1 && budget.TryRetry()))),
                OnRetry = args =>
                {
                    ResilienceTelemetry.Retried("client");
                    Activity.Current?.AddEvent(new ActivityEvent("lab.payments.retry", tags: new ActivityTagsCollection
                    {
                        ["attempt"] = args.AttemptNumber + 1,
                        ["delay_ms"] = args.RetryDelay.TotalMilliseconds,
                        ["cause"] = Describe(args.Outcome),
                    }));
                    return ValueTask.CompletedTask;
                },
            });
            parts.Add($"retry({retry})");
        }

        CircuitBreakerStateProvider? state = null;
        if (breaker.Enabled)
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
            parts.Add(breaker.ToString());
        }

        // Infinite: no timeout of its own per attempt; the HttpClient's for the whole call still applies.
        if (attemptTimeout != Timeout.InfiniteTimeSpan)
        {
            builder.AddTimeout(attemptTimeout);
            parts.Add($"timeout({attemptTimeout.TotalMilliseconds:0} ms per attempt)");
        }

        return new PaymentsPipeline(policies, builder.Build(), state, budget, parts.Count == 0 ? "none" : string.Join(" > ", parts));
    }

    /// <summary>
    /// What a retry or a breaker counts as a failure of payments: no answer (or none within the attempt's timeout), a 5xx,
    /// 408 or 429. Not a 504: payments answers it when the caller's own deadline is too close to charge, which says
    /// nothing about payments' health.
    /// </summary>
    internal static bool IsTransient(Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception is HttpRequestException or TimeoutRejectedException
        || outcome.Result is { StatusCode: (>= HttpStatusCode.InternalServerError and not HttpStatusCode.GatewayTimeout) or HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests };

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

    private static readonly Counter<long> BulkheadRejections = Meter.CreateCounter<long>(
        "lab.payments.bulkhead.rejections", unit: "{call}", description: "Payments calls refused at once because the bulkhead's calls in flight were all taken.");

    private static volatile PaymentsPipeline? s_tracked;

    static PaymentsBreakerTelemetry()
    {
        Meter.CreateObservableGauge("lab.payments.breaker.state", ObserveState, unit: "{state}",
            description: "Circuit breaker state of the payments client in use: 0 closed, 1 open, 2 half-open, 3 isolated.");
    }

    /// <summary>The pipeline whose breaker the state gauge reports: the one the last call used (a write only when it changes).</summary>
    internal static void Track(PaymentsPipeline pipeline)
    {
        if (!ReferenceEquals(s_tracked, pipeline))
        {
            s_tracked = pipeline;
        }
    }

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

    internal static void BulkheadFull()
    {
        BulkheadRejections.Add(1);
        Activity.Current?.AddEvent(new ActivityEvent("lab.payments.bulkhead.rejected"));
    }

    private static IEnumerable<Measurement<int>> ObserveState()
    {
        if (s_tracked is { BreakerState: { } state })
        {
            yield return new Measurement<int>((int)state.CircuitState);
        }
    }
}

/// <summary>
/// Runs payments calls through the pipeline of <see cref="PaymentsResiliencePipelines"/>. Sits outside the scenario
/// handler, so its retries and breaker see what a scenario injects.
/// </summary>
public sealed class PaymentsResilienceHandler(PaymentsResiliencePipelines pipelines) : DelegatingHandler
{
    private static readonly string[] TraceHeaders = ["traceparent", "tracestate", "baggage", "Request-Id", "Correlation-Context"];

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var pipeline = pipelines.Current();
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
        catch (RateLimiterRejectedException)
        {
            PaymentsBreakerTelemetry.BulkheadFull();
            activity?.SetStatus(ActivityStatusCode.Error, "bulkhead full");
            throw;
        }
        catch (TimeoutRejectedException ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, $"no answer within {ex.Timeout.TotalMilliseconds:0} ms");
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
