namespace Lab.Scenarios.Shop;

/// <summary>
/// How shop code asks "is scenario X active right now, and with which activation" where a scenario changes a
/// code path (a retry loop, a resilience pipeline). Idle: one volatile read and a branch.
/// </summary>
public static class ShopScenarioSwitch
{
    /// <summary>The live activation of <paramref name="name"/>, or null when it is not active (or has expired).</summary>
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
}
