using Microsoft.Data.Sqlite;

namespace Lab.Cli.Verify;

/// <summary>One broken invariant, with the ids that let a user find the rows.</summary>
public sealed record Violation(string Invariant, string Id, string Detail);

/// <summary>Thrown when a database is missing or cannot be read.</summary>
public sealed class VerifyDatabaseException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Checks the shop's invariants against its databases after a run: stock conservation, reservations left over,
/// double charges, charges without an order, cancelled orders not refunded, orders stuck mid-saga, and the
/// order-status projection disagreeing with the orders table. Read-only.
/// </summary>
public static class ShopVerifier
{
    private static readonly string[] FinalStatuses = ["Confirmed", "Shipped", "Cancelled"];

    /// <param name="shopDatabase">Path of shop.db.</param>
    /// <param name="paymentsDatabase">Path of payments.db.</param>
    /// <param name="stuckAfter">An order not in a final status and untouched for longer than this is stuck.</param>
    /// <param name="now">The clock reading to compare order times with.</param>
    public static IReadOnlyList<Violation> Verify(string shopDatabase, string paymentsDatabase, TimeSpan stuckAfter, DateTimeOffset now)
    {
        // Unpooled: the ATTACH must not outlive this check on a reused connection.
        using var connection = Open(shopDatabase);
        Attach(connection, paymentsDatabase);
        var violations = new List<Violation>();

        Query(connection, "SELECT sku, initial_stock, available, reserved, sold FROM inventory WHERE initial_stock <> available + reserved + sold ORDER BY sku",
            r => violations.Add(new("stock conservation", r.GetString(0),
                $"initial {r.GetInt64(1)} <> available {r.GetInt64(2)} + reserved {r.GetInt64(3)} + sold {r.GetInt64(4)}")));
        Query(connection, """
            SELECT i.sku, i.reserved, COALESCE(SUM(r.quantity), 0) FROM inventory i LEFT JOIN reservations r ON r.sku = i.sku
            GROUP BY i.sku HAVING i.reserved <> COALESCE(SUM(r.quantity), 0) ORDER BY i.sku
            """,
            r => violations.Add(new("reserved matches reservations", r.GetString(0), $"reserved {r.GetInt64(1)}, reservations hold {r.GetInt64(2)}")));
        // Reservations expire within seconds; once the shop is quiet none may be left.
        Query(connection, "SELECT order_id, sku, quantity FROM reservations WHERE expires_at < $now ORDER BY order_id, sku",
            r => violations.Add(new("no reservation left once quiet", $"{r.GetString(0)}/{r.GetString(1)}", $"{r.GetInt64(2)} units still reserved after expiry")),
            ("$now", now.ToUnixTimeMilliseconds()));
        Query(connection, """
            SELECT order_id, COUNT(*), GROUP_CONCAT(charge_id) FROM payments.charges WHERE refunded_at IS NULL
            GROUP BY order_id HAVING COUNT(*) > 1 ORDER BY order_id
            """,
            r => violations.Add(new("order charged at most once", r.GetString(0), $"{r.GetInt64(1)} charges: {r.GetString(2)}")));
        Query(connection, "SELECT c.charge_id, c.order_id FROM payments.charges c LEFT JOIN orders o ON o.order_id = c.order_id WHERE o.order_id IS NULL ORDER BY c.charge_id",
            r => violations.Add(new("charge belongs to an order", r.GetString(0), $"order {r.GetString(1)} does not exist")));
        Query(connection, """
            SELECT o.order_id, c.charge_id FROM orders o JOIN payments.charges c ON c.order_id = o.order_id
            WHERE o.status = 'Cancelled' AND c.refunded_at IS NULL ORDER BY o.order_id
            """,
            r => violations.Add(new("cancelled order refunded", r.GetString(0), $"charge {r.GetString(1)} not refunded")));
        Query(connection, $"SELECT order_id, status, updated_at FROM orders WHERE status NOT IN ({string.Join(", ", FinalStatuses.Select(s => $"'{s}'"))}) AND updated_at < $before ORDER BY order_id",
            r => violations.Add(new("no order stuck mid-saga", r.GetString(0),
                $"{r.GetString(1)} since {DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)):O}")),
            ("$before", (now - stuckAfter).ToUnixTimeMilliseconds()));
        Query(connection, "SELECT o.order_id, o.status, v.status FROM orders o JOIN order_status_view v ON v.order_id = o.order_id WHERE o.status <> v.status ORDER BY o.order_id",
            r => violations.Add(new("projection equals orders", r.GetString(0), $"order {r.GetString(1)}, view {r.GetString(2)}")));
        return violations;
    }

    private static SqliteConnection Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new VerifyDatabaseException($"Database not found: {path}");
        }

        try
        {
            var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ConnectionString);
            connection.Open();
            using var probe = connection.CreateCommand();
            probe.CommandText = "SELECT COUNT(*) FROM orders";
            probe.ExecuteScalar();
            return connection;
        }
        catch (SqliteException ex)
        {
            throw new VerifyDatabaseException($"Cannot read {path}: {ex.Message}", ex);
        }
    }

    private static void Attach(SqliteConnection connection, string path)
    {
        if (!File.Exists(path))
        {
            throw new VerifyDatabaseException($"Database not found: {path}");
        }

        try
        {
            using var attach = connection.CreateCommand();
            attach.CommandText = "ATTACH DATABASE $path AS payments; SELECT COUNT(*) FROM payments.charges;";
            attach.Parameters.AddWithValue("$path", path);
            attach.ExecuteScalar();
        }
        catch (SqliteException ex)
        {
            throw new VerifyDatabaseException($"Cannot read {path}: {ex.Message}", ex);
        }
    }

    private static void Query(SqliteConnection connection, string sql, Action<SqliteDataReader> row, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            row(reader);
        }
    }
}
