namespace Lab.Contracts;

/// <summary>Bounds of valid input, shared by the storefront's validation and the grains.</summary>
public static class ShopLimits
{
    public const int MaxQuantityPerLine = 100;
    public const int MaxCartLines = 50;
    public const int MaxPageSize = 100;
    public const int MaxHistoryLimit = 200;
    public const int MaxSearchTextLength = 100;
}
