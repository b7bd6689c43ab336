using System.Net;
using Polly;

namespace Lab.Scenarios.Catalog;

/// <summary>Errors at rate r for a window W after activation, then clean.</summary>
public sealed class ErrorBurstScenario : Scenario
{
    public const string Name = "error-burst";

    private static readonly HookPoint[] Points =
    [
        HookPoint.GrainIncoming, HookPoint.Repository, HookPoint.HttpServer, HookPoint.HttpClient,
        HookPoint.Cache, HookPoint.StreamProduce, HookPoint.StreamConsume,
    ];

    private static readonly ResiliencePipeline FaultPipeline = ScenarioChaos.Fault(CreateFault);

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "errors",
        Description: "Fails a share of matching calls during a window that starts at activation, then lets everything through again. " +
                     "HTTP server: a 5xx problem response; HTTP client: HttpRequestException; grain, repository, cache, stream: InjectedFaultException.",
        Targets: Points,
        Parameters:
        [
            ParameterSpec.Percent("rate", "50%", "Share of matching calls that fail during the window."),
            ParameterSpec.Duration("window", "30s", "How long the burst lasts from activation; afterwards calls are clean while the scenario stays active.", min: "1s", max: "60m"),
            ParameterSpec.Int("status", 503, "HTTP status answered at the HTTP server hook.", min: 500, max: 599),
            HookSelector.Parameter(Points),
        ],
        Signature: "Error spans clustered in the window after activation, each tagged lab.scenario=error-burst; the error rate at the edge follows the rate, then drops to zero when the window closes.",
        Cure: "Retry with exponential backoff and jitter (and a retry budget), so a short burst is absorbed without amplifying load.",
        Runbook: new Runbook(
            Break: "lab scenario enable error-burst --set rate=30% --set window=20s --target grainInterface=IInventoryGrain",
            Hint: "Look at the error rate over time: when did errors start and stop, and do the failing calls have anything in common?",
            Verify: "Failed spans all fall inside the 20 s after activation and carry lab.scenario=error-burst with an InjectedFaultException naming the scenario; lab.scenario.injections{scenario=error-burst} stops growing when the window closes.",
            Restore: "lab scenario disable error-burst (or wait for the window to close); the error rate returns to zero. With retries and backoff on, most of the burst never reaches the user."));

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && HookSelector.Matches(activation, ctx.Point)
        && ctx.Now < activation.ActivatedAt + activation.GetDuration("window")
        && ctx.Random.Chance(activation.GetRate("rate"));

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        if (ctx.Point == HookPoint.HttpServer)
        {
            ctx.ServerStatus = (HttpStatusCode)activation.GetInt("status");
            ctx.ServerProblemTitle = "Injected error burst";
            return ValueTask.CompletedTask;
        }

        return ScenarioChaos.RunAsync(FaultPipeline, ctx, activation, ct);
    }

    private static Exception CreateFault(ScenarioInvocation invocation)
    {
        var message = $"Injected by lab scenario error-burst at {invocation.Context.Point} in {invocation.Context.Service.Name}.";
        return invocation.Context.Point == HookPoint.HttpClient
            ? new HttpRequestException(HttpRequestError.ConnectionError, message, new InjectedFaultException("error-burst", message))
            : new InjectedFaultException("error-burst", message);
    }
}
