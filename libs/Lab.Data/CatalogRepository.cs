using Lab.Shop;
using Dapper;
using Lab.Contracts;

namespace Lab.Data;

public sealed class CatalogRepository(LabDb db)
{
    private static readonly DbOperation GetProduct = new(ShopOperations.CatalogGetProduct, "products", "SELECT",
        "SELECT sku, name, category, price_cents, description, version FROM products WHERE sku = @sku");

    private static readonly DbOperation ChangePrice = new(ShopOperations.CatalogChangePrice, "products", "UPDATE",
        """
        UPDATE products SET price_cents = @priceCents, version = version + 1 WHERE sku = @sku;
        SELECT sku, name, category, price_cents, description, version FROM products WHERE sku = @sku
        """);

    // A list parameter is spelled per provider (IN @list expanded by Dapper, or = ANY(@array)).
    private readonly DbOperation _currentPrices = new(ShopOperations.CatalogCurrentPrices, "products", "SELECT",
        $"SELECT sku, price_cents, version FROM products WHERE {db.Dialect.InList("sku", "@skus")}");

    private static readonly DbOperation Search = new(ShopOperations.CatalogSearch, "products", "SELECT",
        """
        SELECT sku, name, category, price_cents FROM products
        WHERE (@text IS NULL OR name LIKE @text ESCAPE '\') AND (@category IS NULL OR category = @category)
        ORDER BY popularity_rank LIMIT @limit OFFSET @offset;
        SELECT COUNT(*) FROM products
        WHERE (@text IS NULL OR name LIKE @text ESCAPE '\') AND (@category IS NULL OR category = @category);
        """);

    // Every match, in name order, for ranking outside the database (the catalog-ranking seam's in-grain variant).
    private static readonly DbOperation SearchCandidates = new(ShopOperations.CatalogSearchCandidates, "products", "SELECT",
        """
        SELECT sku, name, category, price_cents, popularity_rank FROM products
        WHERE (@text IS NULL OR name LIKE @text ESCAPE '\') AND (@category IS NULL OR category = @category)
        ORDER BY name LIMIT @limit
        """);

    public Task<Product?> GetProductAsync(string sku, CancellationToken cancellationToken = default) =>
        db.RunAsync(GetProduct, async connection =>
        {
            var row = await connection.QuerySingleOrDefaultAsync<ProductRow>(
                new CommandDefinition(GetProduct.Statement, new { sku }, cancellationToken: cancellationToken));
            return row?.ToProduct();
        }, cancellationToken, sku);

    /// <summary>Writes a new price and bumps the product's version, in one transaction.</summary>
    /// <returns>The product as written, or null when the SKU does not exist.</returns>
    public Task<Product?> ChangePriceAsync(string sku, decimal price, CancellationToken cancellationToken = default) =>
        db.InTransactionAsync(ChangePrice, async (connection, transaction) =>
        {
            var changed = await connection.ExecuteAsync(new CommandDefinition(ChangePrice.Parts[0],
                new { sku, priceCents = ShopKeys.ToCents(price) }, transaction, cancellationToken: cancellationToken));
            return changed == 0
                ? null
                : (await connection.QuerySingleAsync<ProductRow>(new CommandDefinition(ChangePrice.Parts[1], new { sku }, transaction,
                    cancellationToken: cancellationToken))).ToProduct();
        }, cancellationToken);

    /// <summary>The current price and version of each of <paramref name="skus"/>, in one query.</summary>
    public Task<IReadOnlyDictionary<string, PriceVersion>> CurrentPricesAsync(IReadOnlyCollection<string> skus, CancellationToken cancellationToken = default) =>
        db.RunAsync(_currentPrices, async connection =>
        {
            var rows = await connection.QueryAsync<PriceRow>(
                new CommandDefinition(_currentPrices.Statement, new { skus = skus.ToArray() }, cancellationToken: cancellationToken));
            return (IReadOnlyDictionary<string, PriceVersion>)rows.ToDictionary(row => row.sku,
                row => new PriceVersion(ShopKeys.FromCents(row.price_cents), row.version), StringComparer.Ordinal);
        }, cancellationToken);

    public Task<CatalogPage> SearchAsync(CatalogQuery query, CancellationToken cancellationToken = default) =>
        db.RunAsync(Search, async connection =>
        {
            var parameters = new
            {
                text = ContainsPattern(query.Text),
                category = string.IsNullOrWhiteSpace(query.Category) ? null : query.Category.Trim().ToLowerInvariant(),
                limit = query.PageSize,
                offset = (query.Page - 1) * query.PageSize,
            };
            await using var results = await connection.QueryMultipleAsync(
                new CommandDefinition(Search.Statement, parameters, cancellationToken: cancellationToken));
            var items = (await results.ReadAsync<SummaryRow>())
                .Select(row => new ProductSummary(row.sku, row.name, row.category, ShopKeys.FromCents(row.price_cents)))
                .ToList();
            var total = await results.ReadSingleAsync<long>();
            return new CatalogPage(items, query.Page, query.PageSize, (int)total);
        }, cancellationToken);

    /// <summary>Every product matching <paramref name="query"/> (up to <paramref name="maxRows"/>), unranked and unpaged.</summary>
    public Task<IReadOnlyList<CatalogCandidate>> SearchCandidatesAsync(CatalogQuery query, int maxRows, CancellationToken cancellationToken = default) =>
        db.RunAsync(SearchCandidates, async connection =>
        {
            var parameters = new
            {
                text = ContainsPattern(query.Text),
                category = string.IsNullOrWhiteSpace(query.Category) ? null : query.Category.Trim().ToLowerInvariant(),
                limit = maxRows,
            };
            var rows = await connection.QueryAsync<CandidateRow>(
                new CommandDefinition(SearchCandidates.Statement, parameters, cancellationToken: cancellationToken));
            return (IReadOnlyList<CatalogCandidate>)rows
                .Select(row => new CatalogCandidate(new ProductSummary(row.sku, row.name, row.category, ShopKeys.FromCents(row.price_cents)), row.popularity_rank))
                .ToList();
        }, cancellationToken);

    /// <summary>
    /// The LIKE pattern of "name contains the text": the text's own % and _ match themselves (escaped), not any characters,
    /// so a search for "%" finds the names that hold one instead of the whole catalog.
    /// </summary>
    private static string? ContainsPattern(string? text) =>
        string.IsNullOrWhiteSpace(text)
            ? null
            : $"%{text.Trim().Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal)}%";

    private sealed record CandidateRow(string sku, string name, string category, long price_cents, long popularity_rank);

    private sealed record ProductRow(string sku, string name, string category, long price_cents, string description, long version)
    {
        public Product ToProduct() => new(sku, name, category, ShopKeys.FromCents(price_cents), description, version);
    }

    private sealed record PriceRow(string sku, long price_cents, long version);

    private sealed record SummaryRow(string sku, string name, string category, long price_cents);
}

/// <summary>A product's price now, and the version it was written at.</summary>
public sealed record PriceVersion(decimal Price, long Version);

/// <summary>A search match with the popularity rank the shop orders by (1 = most popular).</summary>
public sealed record CatalogCandidate(ProductSummary Summary, long Rank);
