namespace Lab.Scenarios.Catalog;

/// <summary>
/// The optional "hook" parameter of generic scenarios: narrows a scenario that could act at several hook
/// points to one layer, so e.g. a latency meant for the database is not also added to every grain call.
/// </summary>
public static class HookSelector
{
    public const string ParameterName = "hook";
    public const string Any = "any";

    private static readonly (string Name, HookPoint Point)[] Names =
    [
        ("grain", HookPoint.GrainIncoming),
        ("grain-outgoing", HookPoint.GrainOutgoing),
        ("repository", HookPoint.Repository),
        ("http-server", HookPoint.HttpServer),
        ("http-client", HookPoint.HttpClient),
        ("cache", HookPoint.Cache),
        ("stream-produce", HookPoint.StreamProduce),
        ("stream-consume", HookPoint.StreamConsume),
    ];

    /// <summary>The parameter spec offering "any" and the names of <paramref name="points"/>.</summary>
    public static ParameterSpec Parameter(params HookPoint[] points) =>
        ParameterSpec.Enum(
            ParameterName,
            Any,
            "Act only at this layer (any = every hook point the scenario supports).",
            [Any, .. Names.Where(n => points.Contains(n.Point)).Select(n => n.Name)]);

    public static bool Matches(ScenarioActivation activation, HookPoint point)
    {
        var selected = activation.GetString(ParameterName);
        if (selected == Any)
        {
            return true;
        }

        foreach (var (name, p) in Names)
        {
            if (p == point)
            {
                return name == selected;
            }
        }

        return false;
    }
}
