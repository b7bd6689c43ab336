using System.Collections.Immutable;
using System.Globalization;

namespace Lab.Scenarios;

/// <summary>
/// One active scenario: what the control plane stored and every process applies. Parameters are kept as
/// validated text, complete with defaults, and parsed on access.
/// </summary>
/// <param name="Name">Scenario name (kebab-case).</param>
/// <param name="Parameters">Every parameter of the scenario's schema, as validated text (defaults filled in).</param>
/// <param name="Target">Where it applies; empty means everywhere the scenario's hook points reach.</param>
/// <param name="Seed">Seed of the activation's deterministic random, so a run can be repeated.</param>
/// <param name="ActivatedAt">When it was enabled (control plane clock).</param>
/// <param name="ExpiresAt">When it stops applying, whether or not the control plane has removed it yet.</param>
/// <param name="Version">Set version at which it was enabled or last changed.</param>
/// <param name="ActivatedBy">Who enabled or last changed it.</param>
[GenerateSerializer, Immutable]
public sealed record ScenarioActivation(
    [property: Id(0)] string Name,
    [property: Id(1)] ImmutableDictionary<string, string> Parameters,
    [property: Id(2)] TargetFilter Target,
    [property: Id(3)] long Seed,
    [property: Id(4)] DateTimeOffset ActivatedAt,
    [property: Id(5)] DateTimeOffset ExpiresAt,
    [property: Id(6)] long Version,
    [property: Id(7)] string ActivatedBy)
{
    public bool IsExpired(DateTimeOffset now) => now >= ExpiresAt;

    public string GetString(string name) =>
        Parameters.TryGetValue(name, out var value) ? value : throw MissingParameter(name);

    public TimeSpan GetDuration(string name) =>
        ParameterParser.TryParseDuration(GetString(name), out var v) ? v : throw BadParameter(name, ParameterType.Duration);

    public long GetInt(string name) =>
        ParameterParser.TryParseInt(GetString(name), out var v) ? v : throw BadParameter(name, ParameterType.Int);

    public double GetDouble(string name) =>
        ParameterParser.TryParseDouble(GetString(name), out var v) ? v : throw BadParameter(name, ParameterType.Double);

    public bool GetBool(string name) =>
        ParameterParser.TryParseBool(GetString(name), out var v) ? v : throw BadParameter(name, ParameterType.Bool);

    /// <summary>A rate as a fraction 0..1 ("25%" gives 0.25).</summary>
    public double GetRate(string name) =>
        ParameterParser.TryParsePercent(GetString(name), out var v) ? v : throw BadParameter(name, ParameterType.Percent);

    public long GetBytes(string name) =>
        ParameterParser.TryParseBytes(GetString(name), out var v) ? v : throw BadParameter(name, ParameterType.Bytes);

    /// <summary>Parameters as "k=v, k=v" for logs and span events.</summary>
    public string DescribeParameters() =>
        string.Join(", ", Parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));

    // Parameters are validated by the control plane, so these only fire on a programming error
    // (a scenario reading a parameter its schema does not declare).
    private InvalidOperationException MissingParameter(string name) =>
        new($"Scenario '{Name}' has no parameter '{name}'.");

    private InvalidOperationException BadParameter(string name, ParameterType type) =>
        new(string.Create(CultureInfo.InvariantCulture, $"Scenario '{Name}' parameter '{name}' is not {ParameterParser.Expectation(type)}."));
}

/// <summary>
/// Narrows where an activation applies. Every non-null field must match the hook context. String fields
/// compare case-insensitively; a trailing '*' makes a prefix match ("inventory.*", "/api/orders*").
/// </summary>
/// <param name="GrainInterface">Grain interface short or full name, e.g. "IInventoryGrain".</param>
/// <param name="GrainMethod">Grain method name, e.g. "ReserveAsync".</param>
/// <param name="GrainKey">Grain key as text.</param>
/// <param name="RepositoryOperation">Logical repository operation, e.g. "inventory.reserve" or "inventory.*".</param>
/// <param name="Route">HTTP route template or path prefix, e.g. "/api/checkout*".</param>
/// <param name="Service">Process name ("silo-1", "payments") or kind ("silo", "storefront", "payments").</param>
/// <param name="Sku">SKU the call is about.</param>
/// <param name="RemoteHost">Remote host of an outgoing call, e.g. "127.0.0.1:5200".</param>
/// <param name="Percentage">Share of matching calls perturbed, 0-100 (null = 100).</param>
[GenerateSerializer, Immutable]
public sealed record TargetFilter(
    [property: Id(0)] string? GrainInterface = null,
    [property: Id(1)] string? GrainMethod = null,
    [property: Id(2)] string? GrainKey = null,
    [property: Id(3)] string? RepositoryOperation = null,
    [property: Id(4)] string? Route = null,
    [property: Id(5)] string? Service = null,
    [property: Id(6)] string? Sku = null,
    [property: Id(7)] string? RemoteHost = null,
    [property: Id(8)] double? Percentage = null)
{
    public static TargetFilter Everywhere { get; } = new();

    /// <summary>The target keys accepted by the API and CLI (<c>--target key=value</c>).</summary>
    public static IReadOnlyList<string> Keys { get; } =
        ["grainInterface", "grainMethod", "grainKey", "repositoryOperation", "route", "service", "sku", "remoteHost", "percentage"];

    /// <summary>Does the call described by <paramref name="ctx"/> fall inside this target (percentage aside)?</summary>
    public bool Matches(HookContext ctx) =>
        MatchesService(ctx.Service)
        && (GrainInterface is null || MatchesInterface(GrainInterface, ctx.GrainInterface))
        && Like(GrainMethod, ctx.GrainMethod)
        && Like(GrainKey, ctx.GrainKey)
        && Like(RepositoryOperation, ctx.RepositoryOperation)
        && Like(Route, ctx.Route)
        && Like(Sku, ctx.Sku)
        && Like(RemoteHost, ctx.RemoteHost);

    /// <summary>Does this target include the process <paramref name="service"/>?</summary>
    public bool MatchesService(ServiceIdentity service) =>
        Service is null
        || Like(Service, service.Name)
        || string.Equals(Service, service.Kind.ToString(), StringComparison.OrdinalIgnoreCase);

    /// <summary>Non-null fields as "key=value" pairs, for display.</summary>
    public IEnumerable<KeyValuePair<string, string>> Describe()
    {
        foreach (var key in Keys)
        {
            var value = Get(key);
            if (value is not null)
            {
                yield return new(key, value);
            }
        }
    }

    /// <summary>The value of target field <paramref name="key"/> as text.</summary>
    public string? Get(string key) => key switch
    {
        "grainInterface" => GrainInterface,
        "grainMethod" => GrainMethod,
        "grainKey" => GrainKey,
        "repositoryOperation" => RepositoryOperation,
        "route" => Route,
        "service" => Service,
        "sku" => Sku,
        "remoteHost" => RemoteHost,
        "percentage" => Percentage?.ToString(CultureInfo.InvariantCulture),
        _ => null,
    };

    public override string ToString()
    {
        var parts = Describe().Select(p => $"{p.Key}={p.Value}").ToArray();
        return parts.Length == 0 ? "everywhere" : string.Join(", ", parts);
    }

    internal static bool Like(string? pattern, string? value)
    {
        if (pattern is null)
        {
            return true;
        }

        if (value is null)
        {
            return false;
        }

        return pattern.EndsWith('*')
            ? value.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.OrdinalIgnoreCase)
            : string.Equals(pattern, value, StringComparison.OrdinalIgnoreCase);
    }

    // "IInventoryGrain" matches "Lab.Contracts.IInventoryGrain" too.
    private static bool MatchesInterface(string pattern, string? value)
    {
        if (value is null)
        {
            return false;
        }

        if (Like(pattern, value))
        {
            return true;
        }

        var dot = value.LastIndexOf('.');
        return dot >= 0 && Like(pattern, value[(dot + 1)..]);
    }
}

/// <summary>The cluster-wide set of active scenarios at one version. Immutable: a change makes a new set.</summary>
/// <param name="Version">Increases with every change; processes poll for a different version.</param>
/// <param name="Activations">Active scenarios, at most one per name.</param>
[GenerateSerializer, Immutable]
public sealed record ActiveScenarioSet(
    [property: Id(0)] long Version,
    [property: Id(1)] ImmutableArray<ScenarioActivation> Activations)
{
    public static ActiveScenarioSet Empty { get; } = new(0, []);

    public ScenarioActivation? Find(string name)
    {
        foreach (var a in Activations)
        {
            if (string.Equals(a.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return a;
            }
        }

        return null;
    }
}
