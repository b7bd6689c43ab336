using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Lab.Scenarios.Catalog;

/// <summary>
/// Kills one silo's process outright (SIGKILL: no shutdown, no goodbye to the cluster), as a crash, an OOM kill or a lost
/// machine would. Its grains' calls fail until the others declare it dead and activate them again among themselves; the
/// lab's launcher starts a new process in its place, which joins as a new silo.
/// </summary>
public sealed class SiloCrashScenario : Scenario
{
    public const string Name = "silo-crash";

    private static readonly ConcurrentDictionary<string, CancellationTokenSource> Pending = new(StringComparer.Ordinal);

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "actor-system",
        Description: "The targeted silo kills its own process with SIGKILL 'after' the activation reaches it: no graceful shutdown, no deactivation, " +
                     "nothing flushed. The process the launcher (or compose's restart policy) starts in its place is left alone. One crash per activation.",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Duration("after", "1s", "Time between the activation reaching the silo and the kill.", min: "0s", max: "10m"),
        ],
        Signature: "Calls to grains that lived on the dead silo fail (Orleans SiloUnavailableException, gateway timeouts at the storefront) until " +
                   "membership declares it dead, a window set by Orleans:Membership (ProbeTimeout × NumMissedProbesLimit, plus the votes); then " +
                   "they are activated on the survivors and succeed. Orders it held mid-saga are resumed by the recovery sweep: lab verify is clean afterwards.",
        Cure: "Faster failure detection (shorter probe timeouts, fewer missed probes) narrows the window; idempotent, resumable work (the saga's " +
              "recovery, the outbox) makes sure nothing is lost in it.",
        Runbook: new Runbook(
            Break: "lab scenario enable silo-crash --target service=silo-2 while lab load runs",
            Hint: "For a few seconds a share of checkouts failed, then everything worked again. Which process's log ends abruptly?",
            Verify: "The launcher prints that silo-2 exited (code 137, SIGKILL) and came back; the Orleans dashboard shows the old silo Dead and a new one " +
                    "Active; failed spans in the window name SiloUnavailableException or a response timeout; lab verify is clean once the sweep has run.",
            Restore: "Nothing to undo: the new silo serves at once. lab scenario disable silo-crash removes the activation."));

    public override void Validate(ScenarioActivation candidate, ResourceCaps caps, ValidationErrors errors) =>
        ProcessTarget.RequireOne(candidate, ServiceKind.Silo, errors);

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        if (!ProcessTarget.WasRunningAt(activation))
        {
            process.Logger.LogInformation("silo-crash: this process started after the activation; it stays up");
            return Task.CompletedTask;
        }

        var cancel = new CancellationTokenSource();
        Pending[process.Service.Name] = cancel;
        var after = activation.GetDuration("after");
        _ = Task.Run(async () =>
        {
            await Task.Delay(after, process.Time, cancel.Token);
            process.Logger.LogCritical("silo-crash: killing this process (SIGKILL) now");
            Process.GetCurrentProcess().Kill();
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    public override Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        // Disabled before its time came: the silo lives.
        if (Pending.TryRemove(process.Service.Name, out var cancel))
        {
            cancel.Cancel();
        }

        return Task.CompletedTask;
    }

    public override ExperimentSpec Experiment =>
        new(Name, [SignatureFigure.ErrorShare, FailedCheckouts], [SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.P99Below(TimeSpan.FromSeconds(1))])
        {
            Mix = "checkout=100",
            Target = new Dictionary<string, string> { ["service"] = "silo-2" },
            // Membership that notices a dead silo in seconds, as a small cluster should; the restarted silo joins meanwhile.
            Settings = ProcessTarget.QuickMembership,
        };

    /// <summary>Checkouts that failed in the phase, as the load client judged them.</summary>
    internal static SignatureFigure FailedCheckouts { get; } = new("failed checkouts", "", "checkout journeys the load client judged failed", m => m.Load.Failed("checkout"));
}
