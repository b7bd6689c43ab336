namespace Lab.Scenarios.Shop;

/// <summary>
/// Catalog #23: a call cycle between non-reentrant grains. While it is on, the inventory grain checks a
/// reservation against the order by calling back into the order grain, which is busy awaiting that very
/// reservation: both wait until the Orleans response timeout (Orleans has no deadlock detection), and the
/// checkout fails with a TimeoutException. With cure=true the order grain makes the reservation call inside
/// RequestContext.AllowCallChainReentrancy(), so the call-back of its own call chain may enter while it awaits.
/// </summary>
public sealed class DeadlockScenario : Scenario
{
    public const string Name = "deadlock";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "concurrency",
        Description: "Inventory reservations call back into the order that asked for them (to read its lines). The order grain is non-reentrant and busy awaiting the reservation, so the cycle order -> inventory -> order stalls until the response timeout.",
        Targets: [HookPoint.GrainIncoming],
        Parameters:
        [
            ParameterSpec.Bool("cure", false, "The order grain reserves inside RequestContext.AllowCallChainReentrancy(): the call-back of its own call chain enters while it awaits."),
        ],
        Signature: "Checkouts hang for the full grain response timeout, then fail with System.TimeoutException; the trace shows IInventoryGrain/ReserveAsync waiting on IOrderGrain/GetAsync for the same order, which only starts when PlaceAsync has given up. No CPU, no db load: calls just wait.",
        Cure: "Avoid the cycle (pass what the callee needs in the request), or where a call-back is safe allow call-chain reentrancy for it; lock ordering for database transactions.",
        Runbook: new Runbook(
            Break: "lab scenario enable deadlock",
            Hint: "Checkouts all take exactly as long as a timeout, and the CPU is idle. Which grain is waiting for which?",
            Verify: "In a failed checkout trace IOrderGrain/PlaceAsync -> IInventoryGrain/ReserveAsync (tagged lab.scenario=deadlock) -> IOrderGrain/GetAsync for the same order key; the spans end at the response timeout with TimeoutException.",
            Restore: "lab scenario change deadlock --set cure=true (the call-back re-enters the call chain, checkouts finish in milliseconds), or lab scenario disable deadlock. Orders caught in the deadlock stay Placed: lab verify lists them as stuck."));

    // Tag the reservation that makes the call-back.
    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.GrainMethod == "ReserveAsync"
        && ctx.GrainInterface?.EndsWith("IInventoryGrain", StringComparison.Ordinal) == true;

    /// <summary>Null when the scenario is off here; else whether the cure (call-chain reentrancy) is on.</summary>
    public static bool? CallBack(ServiceIdentity service) =>
        ScenarioRuntime.IsIdle || ShopScenarioState.Find(Name, service) is not { } activation
            ? null
            : activation.GetBool("cure");
}
