using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Lab.Scenarios.Catalog;

/// <summary>
/// A live silo goes silent: its process is frozen (SIGSTOP, as a long GC pause, a VM stall or a stopped container does)
/// for longer than the cluster waits for its probes. The others suspect it, vote it dead and take over its grains. When it
/// wakes it finds itself declared dead and stops for good: a silo the cluster has declared dead may never serve again,
/// or two activations of one grain could live at once. The launcher starts a new process in its place.
/// </summary>
public sealed class MembershipSplitScenario : Scenario
{
    public const string Name = "membership-split";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "actor-system",
        Description: "Freezes the targeted silo's process with SIGSTOP for 'freeze', then resumes it with SIGCONT (a helper process sends both, since a " +
                     "frozen process cannot wake itself). Nothing else is touched: whether the others declare it dead depends only on their probe " +
                     "settings. One freeze per activation; a process started after the activation is left alone.",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Duration("freeze", "30s", "How long the silo's process stays frozen.", min: "1s", max: "5m"),
        ],
        Signature: "While frozen, calls to the silo's grains time out (the process exists but answers nothing); once the probes give up " +
                   "(Orleans:Membership ProbeTimeout × NumMissedProbesLimit and the votes) the membership table marks it Dead and its grains are " +
                   "activated on the others. On waking the frozen silo reads that it is dead and stops itself; the launcher starts a new one. " +
                   "A freeze shorter than the probe budget is only a pause: nobody is declared dead.",
        Cure: "Probe settings that match the pauses the platform really has (a GC pause should not cost a silo), and partition-aware health " +
              "(indirect probes, local health checks) so a slow silo is not voted out by one unlucky peer.",
        Runbook: new Runbook(
            Break: "lab scenario enable membership-split --set freeze=40s --target service=silo-2",
            Hint: "A silo's process was running the whole time, yet the cluster dropped it. What did the other silos see of it?",
            Verify: "The Orleans dashboard (or the membership table) shows silo-2 Dead while ps shows its process in state T (stopped); the silo's log, " +
                    "after the freeze, says it was declared dead and is stopping; the launcher prints that it came back as a new process.",
            Restore: "Nothing to undo: the new silo joins as any new silo does. lab scenario disable membership-split removes the activation."));

    public override void Validate(ScenarioActivation candidate, ResourceCaps caps, ValidationErrors errors) =>
        ProcessTarget.RequireOne(candidate, ServiceKind.Silo, errors);

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        if (!ProcessTarget.WasRunningAt(activation))
        {
            process.Logger.LogInformation("membership-split: this process started after the activation; it is not frozen");
            return Task.CompletedTask;
        }

        var seconds = activation.GetDuration("freeze").TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        var pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        process.Logger.LogWarning("membership-split: freezing this process for {Seconds} s (SIGSTOP, then SIGCONT)", seconds);
        var helper = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var argument in (string[])["-c", $"kill -STOP {pid}; sleep {seconds}; kill -CONT {pid}"])
        {
            helper.ArgumentList.Add(argument);
        }

        using var started = Process.Start(helper);
        return Task.CompletedTask;
    }

    public override ExperimentSpec Experiment =>
        new(Name, [SignatureFigure.ErrorShare, SiloCrashScenario.FailedCheckouts],
            [SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.P99Below(TimeSpan.FromSeconds(1))])
        {
            Mix = "checkout=100",
            Fault = new Dictionary<string, string> { ["freeze"] = "15s" },
            Target = new Dictionary<string, string> { ["service"] = "silo-2" },
            Settings = ProcessTarget.QuickMembership,
        };
}
