using Lab.Cli;
using Lab.Cli.Verify;
using Lab.Contracts;
using Lab.Tests.Support;
using System.Net.Http.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Spectre.Console.Testing;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

[Collection(ShopClusterCollection.Name)]
public sealed class VerifyTests(ShopClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan StuckAfter = TimeSpan.FromMinutes(2);

    private const string Corruption = """
        UPDATE inventory SET available = available + 1 WHERE sku = 'SKU-00009';
        UPDATE orders SET status = 'StockReserved' WHERE order_id = @orderId;
        """;

    private const string Repair = """
        UPDATE inventory SET available = available - 1 WHERE sku = 'SKU-00009';
        UPDATE orders SET status = 'Shipped' WHERE order_id = @orderId;
        """;

    [Fact]
    public async Task Verify_is_clean_after_checkouts_and_reports_corrupted_rows_with_their_ids()
    {
        var orderId = await CheckoutAndWaitShippedAsync();

        // Clean once the streams are drained (a projection may trail its order by a moment).
        await Eventually.GetAsync(() => Task.FromResult(VerifyLive(DateTimeOffset.UtcNow)),
            violations => violations.Count == 0, TimeSpan.FromSeconds(10), "no violations");

        if (TestDatabases.IsPostgres)
        {
            await CorruptInPlaceAsync(orderId);
            return;
        }

        var shopPath = fixture.ShopDatabase.SqlitePath!;
        var paymentsPath = fixture.PaymentsDatabase.SqlitePath!;
        using var copy = new TempDirectory("lab-verify");
        var data = Directory.CreateDirectory(Path.Combine(copy.Path, "data")).FullName;
        Backup(shopPath, Path.Combine(data, "shop.db"));
        Backup(paymentsPath, Path.Combine(data, "payments.db"));
        using (var shop = new SqliteConnection($"Data Source={Path.Combine(data, "shop.db")};Pooling=False"))
        {
            shop.Open();
            using var corrupt = shop.CreateCommand();
            corrupt.CommandText = """
                UPDATE inventory SET available = available + 1 WHERE sku = 'SKU-00009';
                UPDATE orders SET status = 'StockReserved' WHERE order_id = $orderId;
                """;
            corrupt.Parameters.AddWithValue("$orderId", orderId.ToString());
            Assert.Equal(2, corrupt.ExecuteNonQuery());
        }

        var found = ShopVerifier.Verify(Path.Combine(data, "shop.db"), Path.Combine(data, "payments.db"), StuckAfter, DateTimeOffset.UtcNow);
        output.WriteLine(string.Join(Environment.NewLine, found));
        Assert.Contains(found, v => v.Invariant == "stock conservation" && v.Id == "SKU-00009");
        Assert.Contains(found, v => v.Invariant == "projection equals orders" && v.Id == orderId.ToString());
        // The same order, untouched for longer than the bound, is stuck mid-saga.
        Assert.Contains(ShopVerifier.Verify(Path.Combine(data, "shop.db"), Path.Combine(data, "payments.db"), StuckAfter, DateTimeOffset.UtcNow.AddMinutes(5)),
            v => v.Invariant == "no order stuck mid-saga" && v.Id == orderId.ToString());

        var console = new TestConsole();
        console.Profile.Width = 200;
        Assert.Equal(1, VerifyCommand.Run(copy.Path, StuckAfter, console));
        Assert.Contains("SKU-00009", console.Output);
        Assert.Equal(2, VerifyCommand.Run(Path.Combine(copy.Path, "missing"), StuckAfter, new TestConsole()));

        // --output json: the same verdict, in a shape a script reads.
        var json = new TestConsole();
        Assert.Equal(1, VerifyCommand.Run(copy.Path, StuckAfter, json, json: true));
        using (var report = System.Text.Json.JsonDocument.Parse(json.Output))
        {
            Assert.False(report.RootElement.GetProperty("clean").GetBoolean());
            Assert.Contains(report.RootElement.GetProperty("violations").EnumerateArray(),
                v => v.GetProperty("invariant").GetString() == "stock conservation" && v.GetProperty("id").GetString() == "SKU-00009");
        }

        var unreadable = new TestConsole();
        Assert.Equal(2, VerifyCommand.Run(Path.Combine(copy.Path, "missing"), StuckAfter, unreadable, json: true));
        using (var error = System.Text.Json.JsonDocument.Parse(unreadable.Output))
        {
            Assert.Contains("missing", error.RootElement.GetProperty("error").GetString());
        }
    }

    /// <summary>
    /// PostgreSQL: no file to copy, so the live rows are corrupted, checked and repaired (the grains write relative
    /// updates, so the repair restores what they see); the CLI checks the same databases by connection string.
    /// </summary>
    private async Task CorruptInPlaceAsync(Guid orderId)
    {
        using var shop = fixture.ShopDatabase.Open();
        foreach (var statement in Corruption.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Assert.Equal(1, await shop.ExecuteAsync(statement, new { orderId = orderId.ToString() }));
        }

        try
        {
            var found = VerifyLive(DateTimeOffset.UtcNow);
            output.WriteLine(string.Join(Environment.NewLine, found));
            Assert.Contains(found, v => v.Invariant == "stock conservation" && v.Id == "SKU-00009");
            Assert.Contains(found, v => v.Invariant == "projection equals orders" && v.Id == orderId.ToString());
            Assert.Contains(VerifyLive(DateTimeOffset.UtcNow.AddMinutes(5)),
                v => v.Invariant == "no order stuck mid-saga" && v.Id == orderId.ToString());

            var console = new TestConsole();
            console.Profile.Width = 200;
            Assert.Equal(1, VerifyCommand.RunPostgres(fixture.ShopDatabase.ConnectionString, fixture.PaymentsDatabase.ConnectionString, StuckAfter, console));
            Assert.Contains("SKU-00009", console.Output);
            var missing = new Npgsql.NpgsqlConnectionStringBuilder(fixture.ShopDatabase.ConnectionString) { Database = "lab_test_no_such_database" };
            Assert.Equal(2, VerifyCommand.RunPostgres(missing.ConnectionString, null, StuckAfter, new TestConsole()));
        }
        finally
        {
            await shop.ExecuteAsync(Repair, new { orderId = orderId.ToString() });
        }

        Assert.Empty(VerifyLive(DateTimeOffset.UtcNow));
    }

    /// <summary>
    /// Payments records who charged and who refunded: a charge made directly with another caller's key, and the refund of
    /// a shipped order's charge behind the shop's back, are both found (then undone, so the books are clean again).
    /// </summary>
    [Fact]
    public async Task Verify_tells_direct_charges_and_refunds_from_the_shops()
    {
        var orderId = await CheckoutAndWaitShippedAsync();
        var shopCharge = Assert.Single(await fixture.Payments.Charges.GetByOrderAsync(orderId));
        using var direct = fixture.Payments.CreateOperatorClient();
        var stranger = Guid.NewGuid();
        using var charge = new HttpRequestMessage(HttpMethod.Post, "api/charges")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { orderId = stranger, amount = 12.5m, currency = "EUR" }),
        };
        charge.Headers.Add("Idempotency-Key", $"direct-{stranger}");
        using var charged = await direct.SendAsync(charge);
        Assert.Equal(System.Net.HttpStatusCode.Created, charged.StatusCode);
        var directCharge = (await charged.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("chargeId").GetString()!;
        using (var refunded = await direct.PostAsync($"api/charges/{shopCharge.ChargeId}/refund", null))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, refunded.StatusCode);
        }

        try
        {
            var found = VerifyLive(DateTimeOffset.UtcNow);
            output.WriteLine(string.Join(Environment.NewLine, found));
            Assert.Contains(found, v => v.Invariant == "charges made by the shop" && v.Id == directCharge && v.Detail.Contains("'operator'"));
            Assert.Contains(found, v => v.Invariant == "kept order stays paid" && v.Id == orderId.ToString() && v.Detail.Contains("by 'operator'"));
            // A charge the shop did not make is no "charge without an order" of the shop's.
            Assert.DoesNotContain(found, v => v.Invariant == "charge belongs to an order" && v.Id == directCharge);
        }
        finally
        {
            using var payments = fixture.PaymentsDatabase.Open();
            await payments.ExecuteAsync("UPDATE charges SET status = 'captured', refunded_at = NULL, refunded_by = NULL WHERE charge_id = @id",
                new { id = shopCharge.ChargeId });
            (await direct.PostAsync($"api/charges/{directCharge}/refund", null)).Dispose();
        }

        Assert.Empty(VerifyLive(DateTimeOffset.UtcNow));
    }

    private IReadOnlyList<Violation> VerifyLive(DateTimeOffset now)
    {
        using var shop = fixture.ShopDatabase.Open();
        using var payments = fixture.PaymentsDatabase.Open();
        return ShopVerifier.Verify(shop, payments, StuckAfter, now);
    }

    private async Task<Guid> CheckoutAndWaitShippedAsync()
    {
        try
        {
            // Warm-up: on a cold, busy cluster the first checkout can outlast the 5 s response timeout; its saga still finishes.
            await fixture.Client.GetGrain<IOrderGrain>(Guid.NewGuid()).PlaceAsync(9, [new OrderLine("SKU-00009", 1, 10m)]);
        }
        catch (TimeoutException)
        {
        }

        var orderId = Guid.NewGuid();
        var result = await fixture.Client.GetGrain<IOrderGrain>(orderId).PlaceAsync(9, [new OrderLine("SKU-00009", 1, 10m)]);
        Assert.Equal(OrderStatus.Confirmed, result.Order!.Status);
        await Eventually.GetAsync(() => fixture.Client.GetGrain<IOrderProjectionGrain>(orderId).GetAsync(),
            v => v?.Status == OrderStatus.Shipped, TimeSpan.FromSeconds(10), "projection shows Shipped");
        return orderId;
    }

    private static void Backup(string source, string destination)
    {
        // The backup API copies a consistent snapshot, WAL content included.
        using var from = new SqliteConnection($"Data Source={source};Pooling=False");
        using var to = new SqliteConnection($"Data Source={destination};Pooling=False");
        from.Open();
        to.Open();
        from.BackupDatabase(to);
    }
}
