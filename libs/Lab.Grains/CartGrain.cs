using System.Diagnostics;
using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Lab.ServiceDefaults;
using Lab.Shop;

namespace Lab.Grains;

/// <summary>A customer's cart, persisted line by line; checkout hands it to a new order saga.</summary>
public sealed class CartGrain(CartRepository carts, CustomerRepository customers, CatalogRepository catalog, ServiceIdentity identity)
    : Grain, ICartGrain
{
    private List<CartLine>? _lines;

    private int CustomerId => (int)this.GetPrimaryKeyLong();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (await customers.ExistsAsync(CustomerId, cancellationToken))
        {
            _lines = await carts.LoadAsync(CustomerId, cancellationToken);
        }
    }

    public Task<Cart?> GetAsync() => Task.FromResult(_lines is null ? null : View(_lines));

    public async Task<CartChange> AddItemAsync(string sku, int quantity)
    {
        if (_lines is null)
        {
            return new CartChange(CartChangeOutcome.UnknownCustomer, null);
        }

        var product = await GrainFactory.GetGrain<IProductGrain>(sku).GetAsync();
        if (product is null)
        {
            return new CartChange(CartChangeOutcome.UnknownSku, View(_lines));
        }

        var index = _lines.FindIndex(line => line.Sku == sku);
        var newQuantity = quantity + (index >= 0 ? _lines[index].Quantity : 0);
        if (quantity < 1 || newQuantity > ShopLimits.MaxQuantityPerLine || (index < 0 && _lines.Count >= ShopLimits.MaxCartLines))
        {
            return new CartChange(CartChangeOutcome.QuantityTooLarge, View(_lines));
        }

        var line = new CartLine(sku, newQuantity, product.Price);
        await carts.UpsertLineAsync(CustomerId, line);
        if (index >= 0)
        {
            _lines[index] = line;
        }
        else
        {
            _lines.Add(line);
        }

        return new CartChange(CartChangeOutcome.Changed, View(_lines));
    }

    public async Task<CartChange> RemoveItemAsync(string sku)
    {
        if (_lines is null)
        {
            return new CartChange(CartChangeOutcome.UnknownCustomer, null);
        }

        if (_lines.RemoveAll(line => line.Sku == sku) == 0)
        {
            return new CartChange(CartChangeOutcome.UnknownSku, View(_lines));
        }

        await carts.RemoveLineAsync(CustomerId, sku);
        return new CartChange(CartChangeOutcome.Changed, View(_lines));
    }

    public async Task<CheckoutResult> CheckoutAsync()
    {
        if (_lines is null)
        {
            return new CheckoutResult(null, CheckoutFailure.UnknownCustomer, $"Customer {CustomerId} does not exist.");
        }

        if (_lines.Count == 0)
        {
            return new CheckoutResult(null, CheckoutFailure.EmptyCart, "The cart is empty.");
        }

        if (ShopSeams.CheckoutPricing.Resolve(identity, CheckoutPricing.CurrentPrices) == CheckoutPricing.CurrentPrices)
        {
            await RepriceAsync(_lines);
        }

        var lines = _lines.Select(line => new OrderLine(line.Sku, line.Quantity, line.UnitPrice)).ToList();
        var result = await GrainFactory.GetGrain<IOrderGrain>(Guid.NewGuid()).PlaceAsync(CustomerId, lines);
        if (result.Order?.Status == OrderStatus.Confirmed)
        {
            await carts.ClearAsync(CustomerId);
            _lines.Clear();
        }

        return result;
    }

    /// <summary>Puts the current price on every line whose price changed since it was added (the customer pays today's price).</summary>
    private async Task RepriceAsync(List<CartLine> lines)
    {
        var current = await catalog.CurrentPricesAsync(lines.Select(line => line.Sku).ToList());
        for (var i = 0; i < lines.Count; i++)
        {
            if (current.TryGetValue(lines[i].Sku, out var now) && now.Price != lines[i].UnitPrice)
            {
                Activity.Current?.AddEvent(new ActivityEvent("lab.repriced", tags: new ActivityTagsCollection
                {
                    ["sku"] = lines[i].Sku,
                    ["lab.price.cart"] = (double)lines[i].UnitPrice,
                    ["lab.price.current"] = (double)now.Price,
                    ["lab.price.version"] = now.Version,
                }));
                LabTelemetry.CheckoutRepriced.Add(1);
                lines[i] = lines[i] with { UnitPrice = now.Price };
            }
        }
    }

    private Cart View(List<CartLine> lines) =>
        new(CustomerId, lines.ToList(), lines.Sum(line => line.UnitPrice * line.Quantity));
}
