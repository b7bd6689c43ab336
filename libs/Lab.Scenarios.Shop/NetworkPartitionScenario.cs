using System.Net.Sockets;
using Polly;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Cuts a link. link=payments: the targeted silos' payments client cannot reach payments (connection
/// refused, or a black hole that stalls until the caller's timeout). link=silos: application grain calls between the
/// targeted silo and the other silos fail (refused) or stall, while calls within each side go on.
/// </summary>
public sealed class NetworkPartitionScenario : Scenario
{
    public const string Name = "network-partition";

    private static readonly ResiliencePipeline Refuse = ScenarioChaos.Fault(CreateRefusal);

    // A black hole: nothing comes back; the caller's own timeout (HttpClient timeout, Orleans response timeout) ends the wait.
    private static readonly ResiliencePipeline Stall = ScenarioChaos.Latency(invocation => invocation.Activation.GetDuration("max-stall"));

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "network",
        Description: "Cuts the network between the targeted silo(s) and payments (link=payments: the payments client's HTTP calls fail with " +
                     "'connection refused' or stall until the client's timeout) or between the targeted silo and the other silos " +
                     "(link=silos: application grain calls crossing the cut fail with SiloUnavailableException or stall). Orleans' own " +
                     "membership traffic is not cut, so the cluster stays whole and only the shop's calls feel it.",
        Targets: [HookPoint.HttpClient, HookPoint.GrainOutgoing, HookPoint.GrainIncoming],
        Parameters:
        [
            ParameterSpec.Enum("link", "payments", "Which link to cut: silo <-> payments, or the targeted silo <-> the other silos.", "payments", "silos"),
            ParameterSpec.Enum("mode", "refuse", "refuse = fail at once (connection refused); blackhole = no answer until the caller's timeout.", "refuse", "blackhole"),
            ParameterSpec.Duration("max-stall", "30s", "Black hole: the longest a call is held if the caller has no timeout of its own; then it fails as a connect timeout.", min: "100ms", max: "5m"),
        ],
        Signature: "Calls across the cut fail (HttpRequestException 'Connection refused' / SiloUnavailableException) or time out (TaskCanceledException after the " +
                   "payments client timeout, TimeoutException after the Orleans response timeout) while everything else works: with link=payments checkouts fail " +
                   "with 'Payment failed' and payments receives nothing from the cut silos, while catalog and cart requests succeed.",
        Cure: "Timeouts on every remote call, retries that go elsewhere (another silo, a fallback provider), and a breaker so a cut link fails fast.",
        Runbook: new Runbook(
            Break: "lab scenario enable network-partition --set link=payments --set mode=refuse --target service=silo-1",
            Hint: "Some checkouts fail and some do not. What do the failing ones have in common: which silo ran their order saga?",
            Verify: "Failed checkout traces end in a payments client span with HttpRequestException 'Connection refused' on silo-1 and no payments server span; " +
                    "lab.scenario.injections{scenario=network-partition} grows only on silo-1; payments' request rate drops by silo-1's share.",
            Restore: "lab scenario disable network-partition: the next calls cross the link again; nothing needs a restart."));

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation)
    {
        var link = activation.GetString("link");
        return ctx.Point switch
        {
            HookPoint.HttpClient => link == "payments" && ctx.Service.Kind == ServiceKind.Silo && base.IsApplicable(ctx, activation),
            // The incoming side decides: it knows both ends (the caller stamped itself on the call).
            HookPoint.GrainIncoming => link == "silos" && CrossesCut(ctx, activation),
            _ => false,
        };
    }

    public override async ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        if (activation.GetString("mode") == "blackhole")
        {
            await ScenarioChaos.RunAsync(Stall, ctx, activation, ct);
        }

        // Refused at once, or the black hole's stall ran out without the caller giving up.
        await ScenarioChaos.RunAsync(Refuse, ctx, activation, ct);
    }

    // Checkouts are what cross the payments link; the default mix sends too few for a short phase.
    public override ExperimentSpec Experiment => ExperimentSpec.Default(this) with { Mix = "checkout=70,browse=30" };

    private static bool CrossesCut(HookContext ctx, ScenarioActivation activation)
    {
        if (ctx.CallerService is not { Kind: ServiceKind.Silo } caller || ctx.Service.Kind != ServiceKind.Silo
            || string.Equals(caller.Name, ctx.Service.Name, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // One end of the call must be on the targeted side; the other filters (grain, method...) still apply.
        var target = activation.Target;
        return (target.MatchesService(ctx.Service) || target.MatchesService(caller)) && (target with { Service = null }).Matches(ctx);
    }

    private static Exception CreateRefusal(ScenarioInvocation invocation)
    {
        var ctx = invocation.Context;
        var stalled = invocation.Activation.GetString("mode") == "blackhole";
        if (ctx.Point == HookPoint.HttpClient)
        {
            var message = stalled
                ? $"Connection to {ctx.RemoteHost} timed out (lab scenario network-partition: {ctx.Service.Name} cut from payments)."
                : $"Connection refused ({ctx.RemoteHost}) (lab scenario network-partition: {ctx.Service.Name} cut from payments).";
            return new HttpRequestException(HttpRequestError.ConnectionError, message,
                new SocketException((int)(stalled ? SocketError.TimedOut : SocketError.ConnectionRefused)));
        }

        return new SiloUnavailableException(
            $"{(stalled ? "No answer from" : "Connection refused by")} {ctx.Service.Name} for a call from {ctx.CallerService?.Name} " +
            $"to {ctx.GrainInterface}.{ctx.GrainMethod} (lab scenario network-partition: the silos are cut apart).");
    }
}
