namespace Lab.Tests.Support;

/// <summary>
/// Marks tests whose outcome cannot depend on the shop's database (files, the compiled assemblies, a browser against
/// the panel, in-process handlers, the lab's HTTP edge: documents, input validation, the load client, the experiment
/// runner): .ci/run runs them on SQLite only, and the rest again on PostgreSQL. Scenario tests get it from
/// [ScenarioTest] when their scenario does not touch the store.
/// </summary>
public static class TestStore
{
    public const string Trait = "Store";
    public const string Independent = "independent";
}
