using System.Collections.Concurrent;
using Lab.Contracts;
using Lab.Shop;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lab.Scenarios.Shop;

/// <summary>
/// A second writer of grain state: the back office's wish-list clean-up runs every 'interval' over the lists of the first
/// 'customers' customers and, through the wish-list-writes seam's naive variant, writes the stored lists itself instead of
/// asking the customers' grains. Each of its writes changes the stored ETag under the grains' feet, so a customer's next
/// change finds its state stale: Orleans' InconsistentStateException. With the state-conflicts seam's naive variant the
/// change fails (the customer gets 409, the activation is dropped); cure=true restores the shop's own: read again,
/// apply the change to what is stored, write again. The second writer stays.
/// </summary>
public sealed class GrainStateConflictScenario : Scenario
{
    public const string Name = "grain-state-conflict";

    private static readonly ConcurrentDictionary<string, CancellationTokenSource> Running = new(StringComparer.Ordinal);

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "actor-system",
        Description: "In each targeted silo, the back office's wish-list clean-up runs every 'interval' over customers 1 to 'customers', reading each " +
                     "stored list and writing it back directly (the wish-list-writes seam's naive variant). The customers' grains keep their state " +
                     "in Orleans storage with ETags (ShopGrainStorage); the state-conflicts seam's naive variant lets a write that finds a newer ETag fail.",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Int("customers", 20, "The clean-up goes through the lists of customers 1 to this.", min: 1, max: 1000),
            ParameterSpec.Duration("interval", "500ms", "How often the clean-up runs.", min: "50ms", max: "10m"),
            ParameterSpec.Bool("cure", false, "The shop's own: a stale write reads the state again, reapplies its change and writes again."),
        ],
        Signature: "lab.grain_state.conflicts{state=wishlist,outcome=failed} climbs: adding to the wish list of those customers answers 409 and the " +
                   "grain call's span carries Orleans.Storage.InconsistentStateException; the change is lost. With the cure the conflicts are counted " +
                   "with outcome=retried and every change lands; the clean-up's writes still land too.",
        Cure: "One writer per state (ask the grain), and where a second writer cannot be avoided, optimistic concurrency handled: on " +
              "InconsistentStateException read the state again, reapply the change and write again.",
        Runbook: new Runbook(
            Break: "lab scenario enable grain-state-conflict --set customers=20 --set interval=200ms, then PUT /api/customers/1/wishlist/SKU-00001",
            Hint: "Some customers cannot add to their wish list: it says the list changed meanwhile, though they were alone. Who else writes it?",
            Verify: "The failed PUT's trace shows InconsistentStateException under the customer grain's call; lab.grain_state.conflicts{outcome=failed} " +
                    "climbs; grain_state rows of those customers change their etag every interval.",
            Restore: "lab scenario change grain-state-conflict --set cure=true (conflicts retried: every change lands) or disable it (the clean-up stops)."))
    {
        Seams =
        [
            new SeamUse(ShopSeams.WishListWrites.Name, "the clean-up writes the stored lists itself", CureRestores: false),
            new SeamUse(ShopSeams.StateConflicts.Name, "a stale write fails", CureRestores: true),
        ],
    };

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        seams.Set(ShopSeams.WishListWrites, StateWriter.Direct, everywhere: true);
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.StateConflicts, StateConflicts.Fail, everywhere: true);
        }
    }

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        Stop(process.Service.Name);
        if (process.Services.GetService<ILocalSiloDetails>() is null)
        {
            return Task.CompletedTask; // the clean-up runs in silos
        }

        var cleanup = process.Services.GetRequiredService<IGrainFactory>().GetGrain<IWishListCleanupGrain>(0);
        var customers = Enumerable.Range(1, (int)activation.GetInt("customers")).ToList();
        var stop = new CancellationTokenSource();
        Running[process.Service.Name] = stop;
        _ = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(activation.GetDuration("interval"), process.Time);
            while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
            {
                try
                {
                    await cleanup.CleanAsync(customers);
                }
                catch (Exception ex) when (!stop.IsCancellationRequested)
                {
                    process.Logger.LogWarning(ex, "grain-state-conflict: a clean-up run failed; the next runs in one interval");
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
            var failed = new SignatureFigure("failed state writes", "", "lab.grain_state.conflicts{outcome=failed}, silos",
                m => m.Delta("silo", "lab_grain_state_conflicts_total", ("outcome", "failed")));
            var retried = new SignatureFigure("retried state writes", "", "lab.grain_state.conflicts{outcome=retried}, silos",
                m => m.Delta("silo", "lab_grain_state_conflicts_total", ("outcome", "retried")), LowerIsBetter: false);
            return new ExperimentSpec(Name, [failed, retried],
                [SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500)), SteadyStateProbe.AtBaseline(failed, slack: 0)])
            {
                Mix = "wishlist=100",
                Target = new Dictionary<string, string> { ["service"] = "silo-1" },
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
