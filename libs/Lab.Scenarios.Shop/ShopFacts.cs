using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>What the shop's scenarios share about the shop: its hot SKUs and its database provider.</summary>
internal static class ShopFacts
{
    /// <summary>True when <paramref name="sku"/> is one of the <paramref name="hotSkus"/> most popular SKUs (0 = every SKU).</summary>
    /// <remarks>The seed ranks popularity by SKU number: SKU-00001 is the hottest.</remarks>
    public static bool IsHot(string? sku, long hotSkus)
    {
        if (hotSkus <= 0)
        {
            return true;
        }

        return sku is { Length: > 4 }
            && sku.StartsWith("SKU-", StringComparison.Ordinal)
            && int.TryParse(sku.AsSpan(4), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var rank)
            && rank >= 1 && rank <= hotSkus;
    }

    public static void RequireSqlite(string scenario, ValidationErrors errors) =>
        RequireDatabase(scenario, ShopDatabaseSystem.Sqlite, "Database:Provider=Sqlite", errors);

    public static void RequirePostgres(string scenario, ValidationErrors errors) =>
        RequireDatabase(scenario, ShopDatabaseSystem.Postgres, "Database:Provider=Postgres, lab up --postgres", errors);

    /// <summary>Reports that <paramref name="scenario"/> cannot act on the current provider, or nothing when it can.</summary>
    private static void RequireDatabase(string scenario, string system, string setting, ValidationErrors errors)
    {
        if (ShopDatabaseSystem.Current != system)
        {
            var name = system == ShopDatabaseSystem.Sqlite ? "SQLite" : "PostgreSQL";
            errors.Add("database", $"{scenario} requires the {name} provider ({setting}); this lab's database is {ShopDatabaseSystem.Current}.");
        }
    }

    /// <summary>True for payments' POST of a new charge (HTTP server hook).</summary>
    public static bool IsChargeRequest(HookContext ctx) =>
        string.Equals(ctx.HttpMethod, "POST", StringComparison.OrdinalIgnoreCase)
        && ctx.Route is { } route
        && route.StartsWith(ShopRoutes.Charges, StringComparison.OrdinalIgnoreCase);

}
