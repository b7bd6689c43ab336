using Lab.Contracts;
using Lab.ServiceDefaults;
using Orleans.Storage;

namespace Lab.Storefront;

/// <summary>A customer's wish list: the products they keep an eye on.</summary>
public static class WishListApi
{
    public static IEndpointRouteBuilder MapWishListApi(this IEndpointRouteBuilder app)
    {
        var wishlist = app.MapGroup("/api/customers/{customerId}/wishlist").WithTags("Customers");
        wishlist.MapGet("/", GetAsync).WithName("GetWishList")
            .WithDescription("The customer's wish list, newest first, with its version (how often it changed).")
            .Produces<WishList>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        wishlist.MapPut("/{sku}", WishAsync).WithName("Wish")
            .WithDescription("Puts a product on the wish list (once; again changes nothing). 409 when the list changed meanwhile and the change could not be made.")
            .Produces<WishList>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    private static async Task<IResult> GetAsync(IGrainFactory grains, int customerId) =>
        !ShopInput.IsValidCustomerId(customerId)
            ? ProblemDetailsHandling.Validation("customerId", ShopInput.CustomerRule)
            : await grains.GetGrain<ICustomerGrain>(customerId).GetWishListAsync() is { } list
                ? TypedResults.Ok(list)
                : ProblemDetailsHandling.NotFound("Customer", $"No customer {customerId}.");

    private static async Task<IResult> WishAsync(IGrainFactory grains, int customerId, string sku)
    {
        if (!ShopInput.IsValidCustomerId(customerId))
        {
            return ProblemDetailsHandling.Validation("customerId", ShopInput.CustomerRule);
        }

        if (!ShopInput.IsValidSku(sku))
        {
            return ProblemDetailsHandling.Validation("sku", ShopInput.SkuRule);
        }

        if (await grains.GetGrain<IProductGrain>(sku).GetAsync() is null)
        {
            return ProblemDetailsHandling.NotFound("Product", $"No product with SKU '{sku}'.");
        }

        try
        {
            return await grains.GetGrain<ICustomerGrain>(customerId).WishAsync(sku) is { } list
                ? TypedResults.Ok(list)
                : ProblemDetailsHandling.NotFound("Customer", $"No customer {customerId}.");
        }
        catch (InconsistentStateException conflict)
        {
            // The list was written by someone else since the customer's grain read it, and the change was not made.
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Wish list changed meanwhile",
                detail: $"The wish list changed while this change was being made; nothing was changed. Try again. ({conflict.Message})");
        }
    }
}
