namespace Lab.Scenarios.Shop;

/// <summary>Marks the assembly of the shop's scenarios, for <c>AddScenariosFrom(typeof(ShopScenarios).Assembly)</c>.</summary>
public static class ShopScenarios
{
    public static System.Reflection.Assembly Assembly => typeof(ShopScenarios).Assembly;
}
