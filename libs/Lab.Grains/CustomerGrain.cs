using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Lab.Shop;

namespace Lab.Grains;

public sealed class CustomerGrain(CustomerRepository customers, OrderRepository orders, ServiceIdentity identity) : Grain, ICustomerGrain
{
    private bool? _exists;

    private int CustomerId => (int)this.GetPrimaryKeyLong();

    public async Task<bool> ExistsAsync() => _exists ??= await customers.ExistsAsync(CustomerId);

    public async Task<IReadOnlyList<Order>?> GetOrderHistoryAsync(int limit)
    {
        if (!await ExistsAsync())
        {
            return null;
        }

        return ShopSeams.HistoryLoading.Resolve(identity, HistoryLoading.Batched) == HistoryLoading.OneByOne
            ? await orders.GetHistoryOneByOneAsync(CustomerId, limit)
            : await orders.GetHistoryAsync(CustomerId, limit);
    }
}
