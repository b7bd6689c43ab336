namespace Lab.Scenarios;

/// <summary>
/// A named policy the shop resolves per call: how it retries, loads history, applies events, takes write locks.
/// The shop declares each seam in its own libraries and passes its production-grade variant when it resolves one,
/// so the idle shop is the cured shop. While a scenario that regresses the seam is active, the scenario's variant
/// is returned instead (<see cref="Scenario.Regress"/>).
/// </summary>
public abstract class Seam
{
    protected Seam(string name, string description, bool storeBound)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        Description = description;
        StoreBound = storeBound;
    }

    /// <summary>Kebab-case name, as the catalog documents it (e.g. "history-loading").</summary>
    public string Name { get; }

    /// <summary>What the seam decides, and what the shop's own variant is.</summary>
    public string Description { get; }

    /// <summary>
    /// True when its variants differ in what they ask of the database (queries, locks, isolation, connections, stored rows):
    /// a scenario that regresses it behaves differently on each store, so it is proven on each.
    /// </summary>
    public bool StoreBound { get; }

    public override string ToString() => Name;
}

/// <summary>A seam whose variants are values of <typeparamref name="T"/> (a policy record, an enum).</summary>
public sealed class Seam<T>(string name, string description, bool storeBound = false) : Seam(name, description, storeBound)
    where T : notnull
{
    /// <summary>
    /// The variant in force for this call: <paramref name="production"/> (the shop's own) unless a live scenario regresses
    /// this seam for <paramref name="service"/> (and <paramref name="subject"/>, e.g. a SKU). Idle: one volatile read.
    /// </summary>
    public T Resolve(ServiceIdentity service, T production, string? subject = null) =>
        ScenarioRuntime.TryRegressed(this, service, subject, out var value) ? (T)value : production;

    /// <summary>True with the scenario's variant while one regresses this seam here; false when the shop's own applies.</summary>
    public bool TryResolveRegressed(ServiceIdentity service, out T variant, string? subject = null)
    {
        if (ScenarioRuntime.TryRegressed(this, service, subject, out var value))
        {
            variant = (T)value;
            return true;
        }

        variant = default!;
        return false;
    }
}

/// <summary>How a scenario uses a seam, as its meta declares it (documented in the catalog, checked at run time).</summary>
/// <param name="Seam">The seam's name.</param>
/// <param name="Variant">The variant the scenario puts in place of the shop's own, in a few words.</param>
/// <param name="CureRestores">True when <c>cure=true</c> restores the shop's own variant; false when the variant is part of the fault.</param>
public sealed record SeamUse(string Seam, string Variant, bool CureRestores);

/// <summary>
/// What <see cref="Scenario.Regress"/> writes: the variants one activation puts in place of the shop's own. Built once per
/// snapshot in each process, so a resolution reads values, not parameters.
/// </summary>
public sealed class SeamRegressions
{
    private readonly ScenarioMeta _meta;
    private readonly List<SeamRegression> _items = [];

    internal SeamRegressions(ScenarioMeta meta) => _meta = meta;

    internal IReadOnlyList<SeamRegression> Items => _items;

    /// <summary>The names of the seams <paramref name="scenario"/> regresses for <paramref name="activation"/> (for checks and docs).</summary>
    public static IReadOnlyList<string> SeamsSetBy(Scenario scenario, ScenarioActivation activation)
    {
        var regressions = new SeamRegressions(scenario.Meta);
        scenario.Regress(activation, regressions);
        return regressions._items.Select(item => item.Seam.Name).ToList();
    }

    /// <summary>
    /// Regresses <paramref name="seam"/> to <paramref name="variant"/> in the processes the activation targets (or in every
    /// process with <paramref name="everywhere"/>), for the subjects <paramref name="appliesTo"/> accepts (all when null).
    /// </summary>
    /// <exception cref="InvalidOperationException">The scenario's meta does not declare the seam.</exception>
    public SeamRegressions Set<T>(Seam<T> seam, T variant, Func<string?, bool>? appliesTo = null, bool everywhere = false)
        where T : notnull
    {
        if (!_meta.Seams.Any(use => use.Seam == seam.Name))
        {
            throw new InvalidOperationException($"Scenario '{_meta.Name}' regresses seam '{seam.Name}' without declaring it in Meta.Seams.");
        }

        _items.Add(new SeamRegression(seam, variant, appliesTo, everywhere));
        return this;
    }
}

/// <summary>One seam's variant from one activation.</summary>
internal sealed record SeamRegression(Seam Seam, object Variant, Func<string?, bool>? AppliesTo, bool Everywhere);
