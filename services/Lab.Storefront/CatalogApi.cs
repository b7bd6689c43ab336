using Lab.PageCache;
using Lab.Contracts;
using Lab.ServiceDefaults;

namespace Lab.Storefront;

public static class CatalogApi
{
    public static IEndpointRouteBuilder MapCatalogApi(this IEndpointRouteBuilder app)
    {
        var catalog = app.MapGroup("/api/catalog").WithTags("Catalog");
        catalog.MapGet("/search", SearchAsync).WithName("SearchCatalog")
            .WithDescription("Products whose name contains q (and in a category, if given), most popular first, one page at a time.")
            .Produces<CatalogPage>().ProducesValidationProblem();

        var products = app.MapGroup("/api/products").WithTags("Catalog");
        products.MapGet("/{sku}", GetProductAsync).WithName("GetProduct")
            .WithDescription("One product: name, category, price and description.")
            .Produces<Product>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<IResult> SearchAsync(IGrainFactory grains, string? q, string? category, int? page, int? pageSize)
    {
        if (q is { Length: > ShopLimits.MaxSearchTextLength })
        {
            return ProblemDetailsHandling.Validation("q", $"q must be at most {ShopLimits.MaxSearchTextLength} characters.");
        }

        if (page is < 1 or > 100_000)
        {
            return ProblemDetailsHandling.Validation("page", "page must be between 1 and 100000.");
        }

        if (pageSize is < 1 or > ShopLimits.MaxPageSize)
        {
            return ProblemDetailsHandling.Validation("pageSize", $"pageSize must be between 1 and {ShopLimits.MaxPageSize}.");
        }

        var query = new CatalogQuery(q, category, page ?? 1, pageSize ?? 20);
        return TypedResults.Ok(await grains.GetGrain<ICatalogGrain>(0).SearchAsync(query));
    }

    private static async Task<IResult> GetProductAsync(ProductReads reads, string sku)
    {
        if (!ShopInput.IsValidSku(sku))
        {
            return ProblemDetailsHandling.Validation("sku", ShopInput.SkuRule);
        }

        return await reads.GetAsync(sku) is { } product
            ? TypedResults.Ok(product)
            : ProblemDetailsHandling.NotFound("Product", $"No product with SKU '{sku}'.");
    }
}
