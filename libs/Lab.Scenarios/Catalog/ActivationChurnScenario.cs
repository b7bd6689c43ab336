using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lab.Scenarios.Catalog;

/// <summary>
/// A collection age far shorter than the access pattern: the silo's activation collector runs every 'interval' and
/// deactivates every grain idle for longer than 'collection-age'. Grains the shop reads every few seconds are collected
/// between two reads and activated again on the next, each time loading their state from the database again.
/// </summary>
public sealed class ActivationChurnScenario : Scenario
{
    public const string Name = "activation-churn";

    private static readonly ConcurrentDictionary<string, CancellationTokenSource> Running = new(StringComparer.Ordinal);

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "actor-system",
        Description: "Runs each targeted silo's activation collector every 'interval' with 'collection-age' as the age limit (IManagementGrain." +
                     "ForceActivationCollection, the collector Orleans runs with GrainCollectionOptions.CollectionAge): every grain idle longer than " +
                     "that is deactivated. Silos only; the grains' code is untouched.",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Duration("collection-age", "1s", "Idle time after which a grain is collected.", min: "0s", max: "1h"),
            ParameterSpec.Duration("interval", "1s", "How often the collector runs.", min: "100ms", max: "10m"),
        ],
        Signature: "orleans-catalog-activations (created and collected) climb on the targeted silos while the number of live grains stays flat; " +
                   "storage reads follow: lab.db.calls{db.operation=catalog.get-product} per product read rises towards 1 (each read activates " +
                   "and loads the product again) and latency rises by an activation and a load.",
        Cure: "Fit the collection age to the access pattern (GrainCollectionOptions.CollectionAge, [CollectionAgeLimit] per grain class, or " +
              "DelayDeactivation for grains known to be hot): a grain read every few seconds should outlive the gaps between reads.",
        Runbook: new Runbook(
            Break: "lab scenario enable activation-churn --set collection-age=1s --target service=silo while lab load --mix browse=100 runs",
            Hint: "The same products are read again and again, yet the database sees a load for most reads. Where does the product cache live, and how long?",
            Verify: "The Orleans dashboard shows activations and deactivations per second climb with a flat grain count; product reads' traces hold " +
                    "an activation and a catalog.get-product db span; lab.db.calls for catalog.get-product nearly equals the reads.",
            Restore: "lab scenario disable activation-churn: the collector runs at the silo's own age (15 minutes by default) and the cache stays warm."));

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        Stop(process.Service.Name);
        if (process.Services.GetService<ILocalSiloDetails>() is not { } silo)
        {
            return Task.CompletedTask; // not a silo: nothing here has activations
        }

        var management = process.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        var age = activation.GetDuration("collection-age");
        var stop = new CancellationTokenSource();
        Running[process.Service.Name] = stop;
        _ = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(activation.GetDuration("interval"), process.Time);
            while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
            {
                try
                {
                    await management.ForceActivationCollection([silo.SiloAddress], age);
                }
                catch (Exception ex) when (!stop.IsCancellationRequested)
                {
                    process.Logger.LogWarning(ex, "activation-churn: a collection failed; the next runs in one interval");
                }
            }
        }, CancellationToken.None).ContinueWith(static _ => { }, TaskScheduler.Default);
        return Task.CompletedTask;
    }

    public override Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        Stop(process.Service.Name);
        return Task.CompletedTask;
    }

    private static void Stop(string service)
    {
        if (Running.TryRemove(service, out var stop))
        {
            stop.Cancel();
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var loadsPerRead = new SignatureFigure("product loads per read", "", "lab.db.calls{db.operation=catalog.get-product} / GET /api/products/{sku}",
                m => SignatureFigure.Ratio(m.Delta("silo", LabMetricNames.DbCalls, ("db_operation", "catalog.get-product")),
                    m.Requests("storefront", "GET", "/api/products/{sku}")));
            var activations = new SignatureFigure("product activations", "", "orleans-catalog-activation-created{grain_type=product}, silos",
                m => m.Delta("silo", "orleans_catalog_activation_created_total", ("grain_type", "product")));
            return new ExperimentSpec(Name, [loadsPerRead, activations],
                [SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(250)), SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.AtBaseline(loadsPerRead, slack: 0.05)])
            {
                Mix = "browse=100",
                Target = new Dictionary<string, string> { ["service"] = "silo" },
            };
        }
    }
}
