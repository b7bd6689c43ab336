namespace Lab.Scenarios.Shop;

/// <summary>
/// "Is scenario X on here, and with which activation?" for shop code whose code path a scenario changes
/// (a pool size, a cache's coalescing, a search algorithm). Call it only off the idle path, i.e. after
/// <see cref="ScenarioRuntime.IsActiveAt"/> or <see cref="ScenarioRuntime.IsIdle"/> said something is on.
/// </summary>
public static class ShopScenarioState
{
    /// <summary>The live activation of <paramref name="name"/> whose target includes <paramref name="service"/>, or null.</summary>
    public static ScenarioActivation? Find(string name, ServiceIdentity service) =>
        Find(name) is { } activation && activation.Target.MatchesService(service) ? activation : null;

    /// <summary>The live activation of <paramref name="name"/> wherever it targets; idle: one volatile read.</summary>
    public static ScenarioActivation? Find(string name)
    {
        if (ScenarioRuntime.IsIdle)
        {
            return null;
        }

        return ScenarioRuntime.Current.Find(name) is { } activation && !activation.IsExpired(DateTimeOffset.UtcNow)
            ? activation
            : null;
    }

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
}
