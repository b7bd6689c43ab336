using System.Diagnostics;

namespace Lab.Scenarios.Shop;

/// <summary>
/// The database this process's repositories use ("sqlite" or "postgresql", the db.system.name), for scenarios
/// whose mechanism exists on one provider only. Set by the repository pipeline when it is created.
/// </summary>
public static class ShopDatabaseSystem
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgresql";

    private static volatile string s_current = Sqlite;

    public static string Current
    {
        get => s_current;
        set => s_current = value;
    }

    /// <summary>Reports that <paramref name="scenario"/> cannot act on the current provider, or nothing when it can.</summary>
    public static void RequireSqlite(string scenario, ValidationErrors errors)
    {
        if (Current != Sqlite)
        {
            errors.Add("database", $"{scenario} requires the SQLite provider (Database:Provider=Sqlite); this lab's database is {Current}.");
        }
    }
}

/// <summary>The lab.db.lock_wait_ms attribute of a db span: every wait for a database lock inside the call, summed.</summary>
public static class DbLockWait
{
    public const string Tag = "lab.db.lock_wait_ms";

    public static void Add(Activity? activity, TimeSpan waited)
    {
        if (activity is null)
        {
            return;
        }

        var before = activity.GetTagItem(Tag) as double? ?? 0;
        activity.SetTag(Tag, Math.Round(before + waited.TotalMilliseconds, 3));
    }
}
