namespace Lab.Storefront;

/// <summary>Shape checks on identifiers, before anything reaches a grain.</summary>
public static class ShopInput
{
    public const int MaxSkuLength = 32;
    public const string SkuRule = "sku must be 1 to 32 letters, digits or dashes, such as SKU-00042.";
    public const string CustomerRule = "customerId must be a positive integer.";

    public static bool IsValidSku(string? sku) =>
        sku is { Length: > 0 and <= MaxSkuLength } && sku.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');

    public static bool IsValidCustomerId(int customerId) => customerId > 0;
}
