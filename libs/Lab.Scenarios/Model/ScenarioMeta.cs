namespace Lab.Scenarios;

/// <summary>Everything a user (and the control plane) needs to know about a scenario without running it.</summary>
/// <param name="Name">Scenario id in kebab-case, as the catalog (docs/scenarios.md) lists it.</param>
/// <param name="Category">Catalog category, e.g. "latency", "errors", "database", "resources".</param>
/// <param name="Description">One or two sentences: what the scenario does to the real call.</param>
/// <param name="Targets">Hook points the scenario acts on; the runtime only offers it calls from these.</param>
/// <param name="Parameters">Typed parameter schema; every parameter has a default.</param>
/// <param name="Signature">What a user should see in traces, metrics or logs when it is on.</param>
/// <param name="Cure">The mitigation that cures it, or null where none exists.</param>
/// <param name="Runbook">Break / hint / verify / restore, as shown by <c>lab scenario show</c>.</param>
public sealed record ScenarioMeta(
    string Name,
    string Category,
    string Description,
    IReadOnlyList<HookPoint> Targets,
    IReadOnlyList<ParameterSpec> Parameters,
    string Signature,
    string? Cure,
    Runbook Runbook)
{
    /// <summary>The parameter spec called <paramref name="name"/> (case-insensitive), or null.</summary>
    public ParameterSpec? FindParameter(string name)
    {
        foreach (var p in Parameters)
        {
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return p;
            }
        }

        return null;
    }

    /// <summary>
    /// The shop's seams the scenario regresses while active, and whether its cure restores each; empty for a scenario
    /// that only injects at hook points. <see cref="Scenario.Regress"/> may set only the seams named here.
    /// </summary>
    public IReadOnlyList<SeamUse> Seams { get; init; } = [];

    /// <summary>True when the scenario starts workers in the process it targets (cpu-spike, memory-leak...).</summary>
    public bool IsProcessScenario => Targets.Contains(HookPoint.Process);

    /// <summary>
    /// True for a process scenario whose workers act on the database itself (its schema, its locks) rather than through a
    /// repository hook or a seam.
    /// </summary>
    public bool ActsOnDatabase { get; init; }

    /// <summary>
    /// Whether what the scenario does depends on the store (SQLite or PostgreSQL), derived from what it acts on: a repository
    /// hook, a seam of <paramref name="seams"/> bound to the store, or workers that act on the database. Such a scenario is
    /// tested on every store; the others once.
    /// </summary>
    public bool TouchesStore(IReadOnlyList<Seam> seams) =>
        Targets.Contains(HookPoint.Repository)
        || ActsOnDatabase
        || Seams.Any(use => seams.Any(seam => seam.Name == use.Seam && seam.StoreBound));
}

/// <summary>How a user breaks, diagnoses and restores the system with this scenario.</summary>
/// <param name="Break">The command(s) that switch it on, with sensible parameters.</param>
/// <param name="Hint">What to look at first, without giving the answer away.</param>
/// <param name="Verify">Which trace, metric or log proves the diagnosis.</param>
/// <param name="Restore">How to switch it off and what recovery looks like.</param>
public sealed record Runbook(string Break, string Hint, string Verify, string Restore);
