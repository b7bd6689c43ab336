using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Lab.Scenarios.Catalog;

/// <summary>
/// A deployment restarts the silos one after the other under load. Without care each silo is killed on a fixed schedule
/// (as a careless script's kill -9 is): its grains' calls fail until the cluster notices, and if the schedule is tighter
/// than a restart, two silos are down at once. cure=true: each silo shuts down gracefully (it leaves the membership and
/// deactivates its grains, so their callers move on at once) and only when every silo is back and the one before it has
/// restarted. The launcher (or the orchestrator) starts each again.
/// </summary>
public sealed class RollingRestartScenario : Scenario
{
    public const string Name = "rolling-restart";

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(500);

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "actor-system",
        Description: "Each targeted silo stops its own process in turn, silo-N at 'interval' × (N - 1) after the activation: killed outright (SIGKILL), " +
                     "or with cure=true stopped gracefully (the host's own shutdown: Orleans leaves the cluster and deactivates its grains) and only once " +
                     "every silo is active again and the previous one has restarted. The launcher starts each again. A silo that hosts the membership " +
                     "itself (the primary of localhost clustering) is not restarted; a process started after the activation is left alone.",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Duration("interval", "15s", "Time between two silos' turns.", min: "1s", max: "30m"),
            ParameterSpec.Bool("cure", false, "Graceful shutdown, health-gated: each silo leaves cleanly, and only after the previous one is back."),
        ],
        Signature: "Without the cure, each restart is a failure window like silo-crash's (calls to its grains fail until it is declared dead) and a " +
                   "schedule tighter than a restart has two silos down at once. With the cure the silo leaves the membership itself, its grains are " +
                   "activated elsewhere on their next call, and the launcher shows each silo exiting with code 0 instead of 137. A graceful stop " +
                   "still rejects the calls that reach the silo while it stops (SiloUnavailableException 'shutting down', 'Silo stopping'): " +
                   "measured here, none against two for a kill with SQLite, but more than a kill's on PostgreSQL (41 against 6), whose restarts " +
                   "take longer; callers that retry a rejected call are the rest of the cure.",
        Cure: "Graceful shutdown (SIGTERM and a stop timeout long enough to deactivate), readiness-gated rollouts that wait for each instance to be " +
              "healthy before the next goes, a disruption budget of one, and callers that retry a call a stopping silo rejected (it never ran).",
        Runbook: new Runbook(
            Break: "lab scenario enable rolling-restart --set interval=10s while lab load --mix checkout=100 runs",
            Hint: "Errors came in bursts a few seconds apart, then stopped. What changed in the cluster at those moments?",
            Verify: "The launcher prints each silo exiting (code 137) and coming back; the Orleans dashboard shows a Dead entry per restart; failed " +
                    "spans name SiloUnavailableException or a response timeout in bursts, one per restart.",
            Restore: "Nothing to undo once the silos are back. Run it again with cure=true: exits with code 0, each after the previous is back, few or no errors."));

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        if (process.Services.GetService<ILocalSiloDetails>() is not { } silo || !ProcessTarget.WasRunningAt(activation))
        {
            return Task.CompletedTask;
        }

        var primary = MembershipHost(process.Services);
        if (silo.SiloAddress.Endpoint.Equals(primary))
        {
            process.Logger.LogWarning("rolling-restart: this silo hosts the cluster's membership (localhost clustering); it is not restarted");
            return Task.CompletedTask;
        }

        var turn = Turn(process.Service.Name);
        var graceful = activation.GetBool("cure");
        var due = activation.ActivatedAt + activation.GetDuration("interval") * (turn - 1);
        _ = Task.Run(() => RestartWhenDueAsync(activation, process, turn, due, graceful, primary), CancellationToken.None);
        return Task.CompletedTask;
    }

    private static async Task RestartWhenDueAsync(ScenarioActivation activation, ScenarioProcessContext process, int turn, DateTimeOffset due, bool graceful,
        System.Net.IPEndPoint? primary)
    {
        var management = process.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        var expected = (await management.GetDetailedHosts(onlyActive: true)).Length;
        while (process.Time.GetUtcNow() < due || (graceful && !await ReadyForMyTurnAsync(management, activation, turn, expected, primary)))
        {
            if (ScenarioRuntime.Current.Find(Name) is not { } current || current.Version != activation.Version)
            {
                return; // disabled or changed before this silo's turn
            }

            await Task.Delay(Poll, process.Time);
        }

        if (graceful)
        {
            process.Logger.LogWarning("rolling-restart: stopping this silo gracefully (turn {Turn}); it leaves the cluster first", turn);
            process.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        }
        else
        {
            process.Logger.LogCritical("rolling-restart: killing this silo (SIGKILL, turn {Turn})", turn);
            Process.GetCurrentProcess().Kill();
        }
    }

    /// <summary>
    /// Every silo is active again, and the one whose turn came before this one's (among those that restart) has restarted
    /// since the activation: its membership entry is newer than the activation.
    /// </summary>
    private static async Task<bool> ReadyForMyTurnAsync(IManagementGrain management, ScenarioActivation activation, int turn, int expected,
        System.Net.IPEndPoint? primary)
    {
        var active = await management.GetDetailedHosts(onlyActive: true);
        if (active.Length < expected)
        {
            return false;
        }

        var previous = active.Where(entry => Turn(entry.SiloName) < turn && !entry.SiloAddress.Endpoint.Equals(primary))
            .MaxBy(entry => Turn(entry.SiloName));
        return previous is null || previous.StartTime > activation.ActivatedAt.UtcDateTime;
    }

    /// <summary>The N of "silo-N"; 1 for a name without a number.</summary>
    private static int Turn(string? name) =>
        name is not null && name.LastIndexOf('-') is var dash and >= 0 && int.TryParse(name[(dash + 1)..], out var n) ? n : 1;

    /// <summary>
    /// The silo that hosts the membership itself, when the cluster keeps it in one (localhost clustering's primary): restarting
    /// it would take the cluster's memory with it. Null when the membership lives in a table.
    /// </summary>
    private static System.Net.IPEndPoint? MembershipHost(IServiceProvider services) =>
        services.GetService<IOptions<DevelopmentClusterMembershipOptions>>()?.Value.PrimarySiloEndpoint;

    public override ExperimentSpec Experiment =>
        new(Name, [SignatureFigure.ErrorShare, SiloCrashScenario.FailedCheckouts],
            [SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.P99Below(TimeSpan.FromSeconds(1))])
        {
            Mix = "checkout=100",
            Fault = new Dictionary<string, string> { ["interval"] = "10s" },
            Cure = ExperimentSpec.CureOn,
            Settings = ProcessTarget.QuickMembership,
        };
}
