namespace Lab.Data;

/// <summary>How seeded keys are spelled: SKU-00001 is the most popular product.</summary>
public static class ShopKeys
{
    public static string Sku(int rank) => $"SKU-{rank:D5}";

    public static long ToCents(decimal amount) => (long)Math.Round(amount * 100m, MidpointRounding.AwayFromZero);

    public static decimal FromCents(long cents) => cents / 100m;

    public static long ToUnixMs(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    public static DateTimeOffset FromUnixMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
