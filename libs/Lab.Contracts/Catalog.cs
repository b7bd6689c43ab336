namespace Lab.Contracts;

[GenerateSerializer, Immutable, Alias("Lab.Product")]
public sealed record Product(
    [property: Id(0)] string Sku,
    [property: Id(1)] string Name,
    [property: Id(2)] string Category,
    [property: Id(3)] decimal Price,
    [property: Id(4)] string Description,
    [property: Id(5)] long Version = 1);

[GenerateSerializer, Immutable, Alias("Lab.ProductSummary")]
public sealed record ProductSummary(
    [property: Id(0)] string Sku,
    [property: Id(1)] string Name,
    [property: Id(2)] string Category,
    [property: Id(3)] decimal Price);

[GenerateSerializer, Immutable, Alias("Lab.CatalogPage")]
public sealed record CatalogPage(
    [property: Id(0)] IReadOnlyList<ProductSummary> Items,
    [property: Id(1)] int Page,
    [property: Id(2)] int PageSize,
    [property: Id(3)] int Total);

[GenerateSerializer, Immutable, Alias("Lab.CatalogQuery")]
public sealed record CatalogQuery(
    [property: Id(0)] string? Text,
    [property: Id(1)] string? Category,
    [property: Id(2)] int Page,
    [property: Id(3)] int PageSize);

/// <summary>Search across the catalog; stateless, so Orleans spreads it over every silo.</summary>
[Alias("Lab.ICatalogGrain")]
public interface ICatalogGrain : IGrainWithIntegerKey
{
    [Alias("Search")]
    Task<CatalogPage> SearchAsync(CatalogQuery query);
}

/// <summary>One product (key: SKU); holds it in the product cache.</summary>
[Alias("Lab.IProductGrain")]
public interface IProductGrain : IGrainWithStringKey
{
    /// <returns>The product, or null when the SKU does not exist.</returns>
    /// <param name="cancellationToken">Cancels the read at the grain as well (a hedged read's loser stops waiting).</param>
    [Alias("Get")]
    Task<Product?> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>Sets the product's price (its version goes up by one).</summary>
    /// <returns>The product as written, or null when the SKU does not exist.</returns>
    [Alias("ChangePrice")]
    Task<Product?> ChangePriceAsync(decimal price);
}
