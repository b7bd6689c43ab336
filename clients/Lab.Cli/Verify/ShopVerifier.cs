using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Lab.Cli.Verify;

/// <summary>One broken invariant, with the ids that let a user find the rows.</summary>
public sealed record Violation(string Invariant, string Id, string Detail);

/// <summary>Thrown when a database is missing or cannot be read.</summary>
public sealed class VerifyDatabaseException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Checks the shop's invariants against its databases after a run: stock conservation, reservations left over,
/// double charges, charges without an order, cancelled orders not refunded, orders stuck mid-saga, the
/// order-status projection disagreeing with the orders table, order events no consumer acknowledged or parked as dead letters, charges made
/// directly at payments, and kept orders whose charge was refunded behind the shop's back. Read-only. The shop and payments are separate
/// databases (on PostgreSQL they cannot be joined), so checks that span both join in memory.
/// </summary>
public static class ShopVerifier
{
    private static readonly string[] FinalStatuses = ["Confirmed", "Shipped", "Cancelled"];

    /// <summary>Checks the SQLite databases of an embedded lab.</summary>
    /// <param name="shopDatabase">Path of shop.db.</param>
    /// <param name="paymentsDatabase">Path of payments.db.</param>
    /// <param name="stuckAfter">An order not in a final status and untouched for longer than this is stuck.</param>
    /// <param name="now">The clock reading to compare order times with.</param>
    public static IReadOnlyList<Violation> Verify(string shopDatabase, string paymentsDatabase, TimeSpan stuckAfter, DateTimeOffset now)
    {
        using var shop = OpenSqlite(shopDatabase, "orders");
        using var payments = OpenSqlite(paymentsDatabase, "charges");
        return Verify(shop, payments, stuckAfter, now);
    }

    /// <summary>Checks the PostgreSQL databases of a lab (connection strings of the shop's and of payments' database).</summary>
    public static IReadOnlyList<Violation> VerifyPostgres(string shopConnectionString, string paymentsConnectionString, TimeSpan stuckAfter,
        DateTimeOffset now)
    {
        using var shop = OpenPostgres(shopConnectionString, "orders");
        using var payments = OpenPostgres(paymentsConnectionString, "charges");
        return Verify(shop, payments, stuckAfter, now);
    }

    /// <summary>Checks the invariants over two open connections (the shop's, and payments').</summary>
    public static IReadOnlyList<Violation> Verify(DbConnection shop, DbConnection payments, TimeSpan stuckAfter, DateTimeOffset now)
    {
        var violations = new List<Violation>();

        Query(shop, "SELECT sku, initial_stock, available, reserved, sold FROM inventory WHERE initial_stock <> available + reserved + sold ORDER BY sku",
            r => violations.Add(new("stock conservation", r.GetString(0),
                $"initial {r.GetInt64(1)} <> available {r.GetInt64(2)} + reserved {r.GetInt64(3)} + sold {r.GetInt64(4)}")));
        Query(shop, """
            SELECT i.sku, i.reserved, COALESCE(SUM(r.quantity), 0) FROM inventory i LEFT JOIN reservations r ON r.sku = i.sku
            GROUP BY i.sku, i.reserved HAVING i.reserved <> COALESCE(SUM(r.quantity), 0) ORDER BY i.sku
            """,
            r => violations.Add(new("reserved matches reservations", r.GetString(0), $"reserved {r.GetInt64(1)}, reservations hold {r.GetInt64(2)}")));
        // Reservations expire within seconds; once the shop is quiet none may be left.
        Query(shop, "SELECT order_id, sku, quantity FROM reservations WHERE expires_at < @now ORDER BY order_id, sku",
            r => violations.Add(new("no reservation left once quiet", $"{r.GetString(0)}/{r.GetString(1)}", $"{r.GetInt64(2)} units still reserved after expiry")),
            ("now", now.ToUnixTimeMilliseconds()));
        Query(shop, $"SELECT order_id, status, updated_at FROM orders WHERE status NOT IN ({string.Join(", ", FinalStatuses.Select(s => $"'{s}'"))}) AND updated_at < @before ORDER BY order_id",
            r => violations.Add(new("no order stuck mid-saga", r.GetString(0),
                $"{r.GetString(1)} since {DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)):O}")),
            ("before", (now - stuckAfter).ToUnixTimeMilliseconds()));
        // An order the projection never heard of counts once it is quiet: its first event was lost, not just late.
        Query(shop, """
            SELECT o.order_id, o.status, COALESCE(v.status, 'missing') FROM orders o LEFT JOIN order_status_view v ON v.order_id = o.order_id
            WHERE (v.order_id IS NULL AND o.updated_at < @before) OR o.status <> v.status ORDER BY o.order_id
            """,
            r => violations.Add(new("projection equals orders", r.GetString(0), $"order {r.GetString(1)}, view {r.GetString(2)}")),
            ("before", (now - stuckAfter).ToUnixTimeMilliseconds()));
        // Consumers delete the outbox rows they are done with; one left this long was lost on the way, and not replayed.
        Query(shop, """
            SELECT e.order_id, e.kind, e.sequence, e.occurred_at, v.last_sequence FROM order_outbox e
                LEFT JOIN order_status_view v ON v.order_id = e.order_id
            WHERE e.occurred_at < @before ORDER BY e.order_id, e.sequence
            """,
            r => violations.Add(new("order events acknowledged", r.GetString(0),
                $"{r.GetString(1)} #{r.GetInt64(2)} of {DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)):O} still in the outbox " +
                (r.IsDBNull(4) ? "(no view)" : $"(view at #{r.GetInt64(4)})"))),
            ("before", (now - stuckAfter).ToUnixTimeMilliseconds()));

        // A parked event is a change the read model has not seen: someone has to fix what failed it and replay it.
        Query(shop, "SELECT order_id, kind, sequence, attempts, reason FROM order_dead_letters ORDER BY order_id, sequence",
            r => violations.Add(new("no event parked as a dead letter", r.GetString(0),
                $"{r.GetString(1)} #{r.GetInt64(2)} failed {r.GetInt64(3)} times ({r.GetString(4)}); replay with POST /api/admin/dead-letters/replay")));

        var charges = new List<PaymentsCharge>();
        Query(payments, "SELECT charge_id, order_id, refunded_at IS NOT NULL, charged_by, refunded_by FROM charges ORDER BY charge_id",
            r => charges.Add(new(r.GetString(0), r.GetString(1), r.GetBoolean(2), r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4))));
        foreach (var twice in charges.Where(c => !c.Refunded).GroupBy(c => c.OrderId).Where(g => g.Count() > 1).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            violations.Add(new("order charged at most once", twice.Key, $"{twice.Count()} charges: {string.Join(",", twice.Select(c => c.ChargeId))}"));
        }

        // Payments records who asked: the shop's key, or another caller's (a person or tool charging directly).
        foreach (var direct in charges.Where(c => !c.Refunded && !c.ByShop))
        {
            violations.Add(new("charges made by the shop", direct.ChargeId, $"charged by '{direct.ChargedBy}' directly at payments for order {direct.OrderId}, not refunded"));
        }

        var statuses = OrderStatuses(shop, charges.Select(c => c.OrderId).Distinct().ToList());
        foreach (var charge in charges.Where(c => c.ByShop && !statuses.ContainsKey(c.OrderId)))
        {
            violations.Add(new("charge belongs to an order", charge.ChargeId, $"order {charge.OrderId} does not exist"));
        }

        foreach (var charge in charges.Where(c => !c.Refunded && statuses.GetValueOrDefault(c.OrderId) == "Cancelled").OrderBy(c => c.OrderId, StringComparer.Ordinal))
        {
            violations.Add(new("cancelled order refunded", charge.OrderId, $"charge {charge.ChargeId} not refunded"));
        }

        // A kept order keeps its money: a refund of its only charge happened behind the shop's back.
        var kept = KeptOrders(shop, charges.Where(c => c.Refunded).Select(c => c.OrderId).Distinct().ToList());
        foreach (var order in charges.GroupBy(c => c.OrderId).Where(g => kept.Contains(g.Key) && g.All(c => c.Refunded)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            violations.Add(new("kept order stays paid", order.Key,
                $"the order is kept but every charge is refunded ({string.Join(", ", order.Select(c => $"{c.ChargeId} by '{c.RefundedBy ?? "unknown"}'"))})"));
        }

        return violations;
    }

    /// <summary>A charge as payments recorded it; a null caller is a charge made before payments recorded callers.</summary>
    private sealed record PaymentsCharge(string ChargeId, string OrderId, bool Refunded, string? ChargedBy, string? RefundedBy)
    {
        public bool ByShop => ChargedBy is null or ShopCaller;
    }

    /// <summary>The caller name of the shop's own API key at payments.</summary>
    private const string ShopCaller = "shop";

    /// <summary>Those of <paramref name="orderIds"/> that are confirmed or shipped.</summary>
    private static HashSet<string> KeptOrders(DbConnection shop, IReadOnlyList<string> orderIds) =>
        OrderStatuses(shop, orderIds).Where(order => order.Value is "Confirmed" or "Shipped").Select(order => order.Key).ToHashSet(StringComparer.Ordinal);

    /// <summary>The status of each of <paramref name="orderIds"/> that exists, read in batches.</summary>
    private static Dictionary<string, string> OrderStatuses(DbConnection shop, IReadOnlyList<string> orderIds)
    {
        var statuses = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var batch in orderIds.Chunk(500))
        {
            var names = batch.Select((_, i) => ("o" + i, (object)batch[i])).ToArray();
            Query(shop, $"SELECT order_id, status FROM orders WHERE order_id IN ({string.Join(", ", names.Select(n => "@" + n.Item1))})",
                r => statuses[r.GetString(0)] = r.GetString(1), names);
        }

        return statuses;
    }

    private static SqliteConnection OpenSqlite(string path, string probeTable)
    {
        if (!File.Exists(path))
        {
            throw new VerifyDatabaseException($"Database not found: {path}");
        }

        // Read-only and unpooled: the check leaves nothing open behind it.
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ConnectionString);
        return Probe(connection, path, probeTable);
    }

    private static NpgsqlConnection OpenPostgres(string connectionString, string probeTable)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
        return Probe(new NpgsqlConnection(builder.ConnectionString), $"database {builder.Database} on {builder.Host}", probeTable);
    }

    private static T Probe<T>(T connection, string name, string probeTable)
        where T : DbConnection
    {
        try
        {
            connection.Open();
            using var probe = connection.CreateCommand();
            probe.CommandText = $"SELECT COUNT(*) FROM {probeTable}";
            probe.ExecuteScalar();
            return connection;
        }
        catch (DbException ex)
        {
            connection.Dispose();
            throw new VerifyDatabaseException($"Cannot read {name}: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or TimeoutException)
        {
            connection.Dispose();
            throw new VerifyDatabaseException($"Cannot reach {name}: {ex.Message}", ex);
        }
    }

    private static void Query(DbConnection connection, string sql, Action<DbDataReader> row, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            row(reader);
        }
    }
}
