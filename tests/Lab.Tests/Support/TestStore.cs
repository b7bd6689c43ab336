namespace Lab.Tests.Support;

/// <summary>
/// Marks tests whose outcome cannot depend on the shop's database (files, the compiled assemblies, a browser against
/// the panel, in-process handlers): .ci/run runs them on SQLite only, and the rest again on PostgreSQL.
/// </summary>
public static class TestStore
{
    public const string Trait = "Store";
    public const string Independent = "independent";
}
