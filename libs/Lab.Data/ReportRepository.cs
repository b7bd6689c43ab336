using System.Data;
using Dapper;
using Lab.Contracts;
using Lab.Shop;

namespace Lab.Data;

/// <summary>The back office's reports: several reads of the orders that must agree with each other.</summary>
public sealed class ReportRepository(LabDb db)
{
    // Sums cast to BIGINT: PostgreSQL sums integers as numeric, and SQLite gives an expression no declared type.
    private static readonly DbOperation Sales = new(ShopOperations.ReportSales, "orders", "SELECT",
        """
        SELECT COUNT(*) AS orders, CAST(COALESCE(SUM(total_cents), 0) AS BIGINT) AS total_cents FROM orders WHERE created_at >= @since;
        SELECT l.sku AS sku, CAST(SUM(l.quantity) AS BIGINT) AS units FROM order_lines l JOIN orders o ON o.order_id = l.order_id WHERE o.created_at >= @since GROUP BY l.sku ORDER BY units DESC, l.sku LIMIT 10;
        SELECT status, COUNT(*) AS orders, CAST(COALESCE(SUM(total_cents), 0) AS BIGINT) AS total_cents FROM orders WHERE created_at >= @since GROUP BY status ORDER BY status
        """);

    /// <summary>
    /// The sales since <paramref name="since"/>: the totals, the best-selling SKUs, then the totals by status, read in one
    /// transaction at <paramref name="isolation"/>. Under a snapshot the totals and the sum of the statuses agree; under
    /// READ COMMITTED each read sees the orders committed before it started, so an order placed meanwhile shows in one and
    /// not the other (a phantom).
    /// </summary>
    public Task<SalesReport> SalesAsync(DateTimeOffset since, IsolationLevel isolation, CancellationToken cancellationToken = default) =>
        db.InReadTransactionAsync(Sales, isolation, async (connection, transaction) =>
        {
            var parameters = new { since = ShopKeys.ToUnixMs(since) };
            var totals = await connection.QuerySingleAsync<TotalsRow>(new CommandDefinition(Sales.Parts[0], parameters, transaction, cancellationToken: cancellationToken));
            var top = await connection.QueryAsync<TopRow>(new CommandDefinition(Sales.Parts[1], parameters, transaction, cancellationToken: cancellationToken));
            var byStatus = await connection.QueryAsync<StatusRow>(new CommandDefinition(Sales.Parts[2], parameters, transaction, cancellationToken: cancellationToken));
            return new SalesReport(since, totals.orders, totals.total_cents / 100m,
                byStatus.Select(r => new SalesByStatus(r.status, r.orders, r.total_cents / 100m)).ToList(),
                top.Select(r => new SkuSales(r.sku, r.units)).ToList(),
                isolation.ToString());
        }, cancellationToken);

    // Settable rows, not positional records: SQLite gives an empty result's computed columns no type, and Dapper matches
    // a record's constructor by the column types.
    private sealed class TotalsRow
    {
        public long orders { get; set; }
        public long total_cents { get; set; }
    }

    private sealed class TopRow
    {
        public string sku { get; set; } = "";
        public long units { get; set; }
    }

    private sealed class StatusRow
    {
        public string status { get; set; } = "";
        public long orders { get; set; }
        public long total_cents { get; set; }
    }
}
