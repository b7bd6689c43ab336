using Polly;
using Polly.Simmy;
using Polly.Simmy.Behavior;
using Polly.Simmy.Fault;
using Polly.Simmy.Latency;
using Polly.Simmy.Outcomes;

namespace Lab.Scenarios;

/// <summary>The call a chaos strategy acts on: the hook context and the activation being applied.</summary>
public sealed record ScenarioInvocation(HookContext Context, ScenarioActivation Activation);

/// <summary>
/// Builds Polly v8 chaos pipelines driven by lab activations. A scenario builds its pipeline once (a static
/// field) and runs it per call with <see cref="RunAsync"/>; the strategies' generators read the
/// <see cref="ScenarioInvocation"/> carried in the resilience context: enabled while the activation is live,
/// injection rate from <paramref name="rate"/> (default 1: the runtime already decided this call is perturbed,
/// counted it and drew its percentage), latency, fault, outcome or behaviour from the activation's parameters.
/// Outside <see cref="RunAsync"/> (no invocation attached) the strategies are disabled, so the same pipeline can
/// sit inside a shop pipeline harmlessly.
/// </summary>
public static class ScenarioChaos
{
    private static readonly ResiliencePropertyKey<ScenarioInvocation> InvocationKey = new("lab.scenario.invocation");

    public static ResiliencePipeline Latency(Func<ScenarioInvocation, TimeSpan> latency, Func<ScenarioInvocation, double>? rate = null, TimeProvider? time = null) =>
        new ResiliencePipelineBuilder { TimeProvider = time ?? TimeProvider.System }
            .AddChaosLatency(Configure(new ChaosLatencyStrategyOptions
            {
                LatencyGenerator = args =>
                {
                    var delay = latency(Invocation(args.Context));
                    ScenarioTelemetry.RecordDelay(delay);
                    return ValueTask.FromResult(delay);
                },
            }, rate))
            .Build();

    public static ResiliencePipeline Fault(Func<ScenarioInvocation, Exception?> fault, Func<ScenarioInvocation, double>? rate = null) =>
        new ResiliencePipelineBuilder()
            .AddChaosFault(Configure(new ChaosFaultStrategyOptions
            {
                FaultGenerator = args => ValueTask.FromResult(fault(Invocation(args.Context))),
            }, rate))
            .Build();

    public static ResiliencePipeline Behavior(Func<ScenarioInvocation, CancellationToken, ValueTask> behavior, Func<ScenarioInvocation, double>? rate = null) =>
        new ResiliencePipelineBuilder()
            .AddChaosBehavior(Configure(new ChaosBehaviorStrategyOptions
            {
                BehaviorGenerator = args => behavior(Invocation(args.Context), args.Context.CancellationToken),
            }, rate))
            .Build();

    public static ResiliencePipeline<T> Outcome<T>(Func<ScenarioInvocation, Outcome<T>?> outcome, Func<ScenarioInvocation, double>? rate = null) =>
        new ResiliencePipelineBuilder<T>()
            .AddChaosOutcome(Configure(new ChaosOutcomeStrategyOptions<T>
            {
                OutcomeGenerator = args => ValueTask.FromResult(outcome(Invocation(args.Context))),
            }, rate))
            .Build();

    /// <summary>Runs <paramref name="pipeline"/> around a no-op for this call: the chaos strategies delay, throw or act.</summary>
    public static async ValueTask RunAsync(ResiliencePipeline pipeline, HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        var context = Rent(ctx, activation, ct);
        try
        {
            await pipeline.ExecuteAsync(static _ => ValueTask.CompletedTask, context);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>
    /// Runs <paramref name="pipeline"/> around <paramref name="callback"/>: returns the injected outcome, or the
    /// callback's result when nothing was injected.
    /// </summary>
    public static async ValueTask<T> RunAsync<T>(ResiliencePipeline<T> pipeline, HookContext ctx, ScenarioActivation activation, Func<CancellationToken, ValueTask<T>> callback, CancellationToken ct)
    {
        var context = Rent(ctx, activation, ct);
        try
        {
            return await pipeline.ExecuteAsync(static (c, cb) => cb(c.CancellationToken), context, callback);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>The invocation attached to <paramref name="context"/> by <see cref="RunAsync"/>, if any.</summary>
    public static ScenarioInvocation? Find(ResilienceContext context) =>
        context.Properties.TryGetValue(InvocationKey, out var invocation) ? invocation : null;

    private static ResilienceContext Rent(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        var context = ResilienceContextPool.Shared.Get(ct);
        context.Properties.Set(InvocationKey, new ScenarioInvocation(ctx, activation));
        return context;
    }

    private static TOptions Configure<TOptions>(TOptions options, Func<ScenarioInvocation, double>? rate)
        where TOptions : ChaosStrategyOptions
    {
        options.EnabledGenerator = args => ValueTask.FromResult(Find(args.Context) is not null);
        options.InjectionRateGenerator = args => ValueTask.FromResult(
            Find(args.Context) is { } invocation ? Math.Clamp(rate?.Invoke(invocation) ?? 1.0, 0, 1) : 0);
        return options;
    }

    private static ScenarioInvocation Invocation(ResilienceContext context) =>
        Find(context) ?? throw new InvalidOperationException("A lab chaos strategy ran without a scenario invocation.");
}
