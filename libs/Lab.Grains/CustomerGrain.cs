using Lab.Contracts;
using Lab.Data;

namespace Lab.Grains;

public sealed class CustomerGrain(CustomerRepository customers, OrderRepository orders) : Grain, ICustomerGrain
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

        return await orders.GetHistoryAsync(CustomerId, limit);
    }
}
