using Lab.Shop;
using Dapper;

namespace Lab.Data;

public sealed class CustomerRepository(LabDb db)
{
    private static readonly DbOperation Exists = new(ShopOperations.CustomerExists, "customers", "SELECT",
        "SELECT COUNT(*) FROM customers WHERE customer_id = @customerId");

    public Task<bool> ExistsAsync(int customerId, CancellationToken cancellationToken = default) =>
        db.RunAsync(Exists, async connection => await connection.ExecuteScalarAsync<long>(
            new CommandDefinition(Exists.Statement, new { customerId }, cancellationToken: cancellationToken)) > 0, cancellationToken);
}
