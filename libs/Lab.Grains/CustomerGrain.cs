using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Lab.Scenarios.Shop;

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

        // n-plus-one-query switches to the naive loader (one query per order) until it is cured or disabled.
        return NPlusOneQueryScenario.LoadsOneByOne(identity)
            ? await orders.GetHistoryOneByOneAsync(CustomerId, limit)
            : await orders.GetHistoryAsync(CustomerId, limit);
    }
}
