using Microsoft.Extensions.Logging;

namespace Lab.Scenarios;

/// <summary>
/// A failure mode the lab can switch on. One sealed subclass per scenario with a public parameterless
/// constructor; <see cref="ScenarioRegistry"/> finds it by reflection. Instances are shared by all calls
/// and activations, so keep per-activation state out of fields (use the activation or a keyed table).
/// </summary>
public abstract class Scenario
{
    public abstract ScenarioMeta Meta { get; }

    /// <summary>
    /// Will this call be perturbed? The default: the hook point is one of <see cref="ScenarioMeta.Targets"/>
    /// and the activation's <see cref="TargetFilter"/> matches. Override to add the scenario's own decision
    /// (a time window, a rate drawn from <see cref="HookContext.Random"/>): the runtime draws the target's
    /// percentage after this returns true, asks <see cref="TryClaim"/>, counts the call as an injection, then calls
    /// <see cref="ApplyAsync"/>.
    /// </summary>
    public virtual bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        Meta.Targets.Contains(ctx.Point) && activation.Target.Matches(ctx);

    /// <summary>
    /// The last word before the runtime counts the injection, after the target's percentage was drawn: for a scenario whose
    /// capacity concurrent calls share (a cap on what it retains), claim it here in one atomic step and return false when
    /// another call took the last of it, so the injection counter counts exactly what the scenario did.
    /// </summary>
    public virtual bool TryClaim(HookContext ctx, ScenarioActivation activation) => true;

    /// <summary>Perturbs the real call: delay, throw, hold, or set one of the outcome fields of <paramref name="ctx"/>.</summary>
    public virtual ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        ValueTask.CompletedTask;

    /// <summary>
    /// The shop's seams this activation regresses: set each to its naive variant (or to the variant the fault needs) with
    /// <paramref name="seams"/>. Called once per snapshot in every process; leave out what <c>cure=true</c> restores.
    /// </summary>
    public virtual void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
    }

    /// <summary>
    /// How <c>lab experiment</c> runs this scenario: the load that exposes it, the fault and cure settings, the figures
    /// that show its signature and the steady state it hypothesises. The default measures injections, p99 and errors.
    /// </summary>
    public virtual ExperimentSpec Experiment => ExperimentSpec.Default(this);

    /// <summary>
    /// Process scenarios: start workers in this process. Called once per activation (and again after a change,
    /// following <see cref="OnDeactivatedAsync"/>) in every process whose identity the target includes.
    /// </summary>
    public virtual Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct) =>
        Task.CompletedTask;

    /// <summary>Process scenarios: stop the workers and release everything they hold (memory, threads, files).</summary>
    public virtual Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct) =>
        Task.CompletedTask;

    /// <summary>
    /// Checks that go beyond one parameter's schema (e.g. "jitter must not exceed delay"). Report problems
    /// with <paramref name="errors"/>, keyed by the parameter name.
    /// </summary>
    public virtual void Validate(ScenarioActivation candidate, ResourceCaps caps, ValidationErrors errors)
    {
    }

    public override string ToString() => Meta.Name;
}

/// <summary>What a process scenario gets to know about the process it runs in.</summary>
/// <param name="Services">The process's services (its host's lifetime, an Orleans silo's grain factory), for scenarios that
/// act on the process or the cluster itself.</param>
public sealed record ScenarioProcessContext(ServiceIdentity Service, ResourceCaps Caps, TimeProvider Time, ILogger Logger, IServiceProvider Services);

/// <summary>
/// The exception an injected fault throws at grain, repository, cache and stream hooks. It names the
/// scenario so a user can tell an injected cause from an emergent effect.
/// </summary>
[GenerateSerializer]
public sealed class InjectedFaultException : Exception
{
    public InjectedFaultException()
    {
    }

    public InjectedFaultException(string scenario, string message)
        : base(message) => Scenario = scenario;

    public InjectedFaultException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Name of the scenario that injected the fault.</summary>
    [Id(0)]
    public string Scenario { get; private set; } = "";
}
