using Lab.Contracts;
using Lab.Data;

namespace Lab.Grains;

/// <summary>A customer's cart, persisted line by line; checkout hands it to a new order saga.</summary>
public sealed class CartGrain(CartRepository carts, CustomerRepository customers) : Grain, ICartGrain
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

        var lines = _lines.Select(line => new OrderLine(line.Sku, line.Quantity, line.UnitPrice)).ToList();
        var result = await GrainFactory.GetGrain<IOrderGrain>(Guid.NewGuid()).PlaceAsync(CustomerId, lines);
        if (result.Order?.Status == OrderStatus.Confirmed)
        {
            await carts.ClearAsync(CustomerId);
            _lines.Clear();
        }

        return result;
    }

    private Cart View(List<CartLine> lines) =>
        new(CustomerId, lines.ToList(), lines.Sum(line => line.UnitPrice * line.Quantity));
}
