namespace Lab.Contracts;

[GenerateSerializer, Immutable, Alias("Lab.CartLine")]
public sealed record CartLine(
    [property: Id(0)] string Sku,
    [property: Id(1)] int Quantity,
    [property: Id(2)] decimal UnitPrice);

[GenerateSerializer, Immutable, Alias("Lab.Cart")]
public sealed record Cart(
    [property: Id(0)] int CustomerId,
    [property: Id(1)] IReadOnlyList<CartLine> Lines,
    [property: Id(2)] decimal Total);

public enum CartChangeOutcome
{
    Changed,
    UnknownCustomer,
    UnknownSku,
    QuantityTooLarge,
}

[GenerateSerializer, Immutable, Alias("Lab.CartChange")]
public sealed record CartChange(
    [property: Id(0)] CartChangeOutcome Outcome,
    [property: Id(1)] Cart? Cart);

/// <summary>The cart of one customer (key: customer id).</summary>
[Alias("Lab.ICartGrain")]
public interface ICartGrain : IGrainWithIntegerKey
{
    /// <returns>The cart, or null when the customer does not exist.</returns>
    [Alias("Get")]
    Task<Cart?> GetAsync();

    [Alias("AddItem")]
    Task<CartChange> AddItemAsync(string sku, int quantity);

    [Alias("RemoveItem")]
    Task<CartChange> RemoveItemAsync(string sku);

    /// <summary>Turns the cart into an order and runs its saga; the cart empties when the order confirms.</summary>
    [Alias("Checkout")]
    Task<CheckoutResult> CheckoutAsync();
}

/// <summary>A customer (key: customer id) and their order history.</summary>
[Alias("Lab.ICustomerGrain")]
public interface ICustomerGrain : IGrainWithIntegerKey
{
    [Alias("Exists")]
    Task<bool> ExistsAsync();

    /// <returns>The newest orders first, or null when the customer does not exist.</returns>
    [Alias("GetOrderHistory")]
    Task<IReadOnlyList<Order>?> GetOrderHistoryAsync(int limit);

    /// <returns>The customer's wish list, or null when the customer does not exist.</returns>
    [Alias("GetWishList")]
    Task<WishList?> GetWishListAsync();

    /// <summary>Adds a product to the wish list (adding it again changes nothing).</summary>
    /// <returns>The wish list, or null when the customer does not exist.</returns>
    [Alias("Wish")]
    Task<WishList?> WishAsync(string sku);

    /// <summary>The back office's clean-up: removes the wished products that are out of stock.</summary>
    [Alias("RemoveUnavailableWishes")]
    Task<WishList?> RemoveWishesAsync(IReadOnlyList<string> skus);
}

/// <summary>The products a customer wishes for, newest first, and how often the list was changed.</summary>
[GenerateSerializer, Immutable, Alias("Lab.WishList")]
public sealed record WishList(
    [property: Id(0)] int CustomerId,
    [property: Id(1)] IReadOnlyList<string> Skus,
    [property: Id(2)] int Version);

/// <summary>The back office's wish-list clean-up: out-of-stock products taken off the lists of the customers given (a stateless worker).</summary>
[Alias("Lab.IWishListCleanupGrain")]
public interface IWishListCleanupGrain : IGrainWithIntegerKey
{
    /// <returns>How many lists were changed.</returns>
    [Alias("Clean")]
    Task<int> CleanAsync(IReadOnlyList<int> customerIds);
}
