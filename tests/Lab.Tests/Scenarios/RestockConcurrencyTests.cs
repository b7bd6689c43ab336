using System.Data.Common;
using System.Net;
using System.Text;
using System.Text.Json;
using Dapper;
using Lab.Tests.Support;
using Lab.Scenarios.Shop;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// double-write and optimistic-locking-collision on the real lab: restocks written outside the inventory grains, while
/// the grains reserve from the same rows or other deliveries write them. Lost updates are counted in the database against
/// stock conservation; conflicts against the version-checked writes, at two levels of concurrency.
/// </summary>
[ScenarioTest(DoubleWriteScenario.Name, OptimisticLockingCollisionScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class RestockConcurrencyTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Double_write_loses_the_reservations_made_between_the_jobs_read_and_write_and_the_single_writer_loses_none()
    {
        await fixture.ResetEverywhereAsync();
        string[] naiveSkus = ["SKU-00161", "SKU-00162", "SKU-00163", "SKU-00164", "SKU-00165", "SKU-00166"];
        string[] curedSkus = ["SKU-00171", "SKU-00172", "SKU-00173", "SKU-00174", "SKU-00175", "SKU-00176"];
        var writesBefore = await fixture.SiloSumAsync("lab_scenario_injections_total", ("scenario", "double-write"));

        await fixture.EnableEverywhereAsync("double-write", """{"ttl":"2m"}""");
        var (naiveCheckouts, naiveDeliveries, naiveWriter) = await CheckoutsWhileRestockingAsync(naiveSkus, firstCustomer: 200);
        await Task.Delay(400); // past the scrape cache
        var writes = await fixture.SiloSumAsync("lab_scenario_injections_total", ("scenario", "double-write")) - writesBefore;

        await fixture.EnableEverywhereAsync("double-write", """{"parameters":{"cure":"true"},"ttl":"2m"}""");
        var (curedCheckouts, _, curedWriter) = await CheckoutsWhileRestockingAsync(curedSkus, firstCustomer: 220);
        await fixture.DisableEverywhereAsync("double-write");
        await Task.Delay(400);
        var writesAfterCure = await fixture.SiloSumAsync("lab_scenario_injections_total", ("scenario", "double-write")) - writesBefore;

        var naive = Unbalanced(naiveSkus);
        var cured = Unbalanced(curedSkus);
        output.WriteLine($"no cure ({naiveWriter}): {naiveCheckouts} checkouts, {naiveDeliveries} deliveries, {writes} whole-level writes, unbalanced rows: {Describe(naive)}");
        output.WriteLine($"cure ({curedWriter}): {curedCheckouts} checkouts, unbalanced rows: {Describe(cured)}");

        Assert.Equal("ReadModifyWrite", naiveWriter);
        Assert.Equal(naiveDeliveries * naiveSkus.Length, writes);
        Assert.NotEmpty(naive); // lost updates: a reservation or release overwritten by the job's stale level
        Assert.Equal("InventoryGrain", curedWriter);
        Assert.Equal(writes, writesAfterCure); // the single writer writes no whole levels
        Assert.Empty(cured);
    }

    [Fact]
    public async Task Optimistic_writes_collide_once_writers_are_concurrent_lose_nothing_and_the_grain_serialises_them_away()
    {
        await fixture.ResetEverywhereAsync();
        // A delivery of eighteen SKUs (181-200 but the timeout tests' two): the job's write phase (eighteen writes after its read) is long against a request's own overhead.
        var skus = Enumerable.Range(181, 20).Select(n => $"SKU-{n:00000}").Where(s => s != "SKU-00190" && s != "SKU-00191").ToArray();
        var initialBefore = InitialStock(skus);
        await fixture.EnableEverywhereAsync("optimistic-locking-collision", """{"parameters":{"attempts":"3"},"ttl":"2m"}""");

        // One writer at a time, then eight: alone, a job has nothing to collide with.
        var low = await ContendAsync(skus, writers: 1, deliveries: 8);
        var high = await ContendAsync(skus, writers: 8, deliveries: 8);

        await fixture.EnableEverywhereAsync("optimistic-locking-collision", """{"parameters":{"attempts":"3","cure":"true"},"ttl":"2m"}""");
        var cured = await ContendAsync(skus, writers: 8, deliveries: 4);
        await fixture.DisableEverywhereAsync("optimistic-locking-collision");

        var added = InitialStock(skus) - initialBefore;
        output.WriteLine($"1 writer: {low}; 8 writers: {high}; cure, 8 writers: {cured}; units added {added}");

        // Conflicts come with concurrent writers: none while one job writes alone, many once eight do; a line that collided
        // on all its attempts failed, the others were written.
        Assert.Equal(0, low.Conflicts);
        Assert.Equal(8 * skus.Length, low.UnitsWritten);
        Assert.True(high.ConflictRate > 0.02, $"8 writers: {high}");

        // Nothing lost: every unit of every written line is in the stock, and the rows still add up.
        Assert.Equal(low.UnitsWritten + high.UnitsWritten + cured.UnitsWritten, added);
        Assert.Empty(Unbalanced(skus));

        // The cure: the grains serialise the writes; no version-checked write, no conflict, every line written.
        Assert.Equal(0, cured.VersionedWrites);
        Assert.Equal(0, cured.Conflicts);
        Assert.Equal(8 * 4 * skus.Length, cured.UnitsWritten);
    }

    /// <summary>
    /// Four customers check out pairs of <paramref name="skus"/>, eight times each, while two restock jobs deliver one unit of
    /// each SKU, delivery after delivery, until the checkouts are done (bounded).
    /// </summary>
    private async Task<(int Checkouts, int Deliveries, string Writer)> CheckoutsWhileRestockingAsync(string[] skus, int firstCustomer)
    {
        using var done = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // a bound; the checkouts end it first
        var checkouts = 0;
        var shoppers = Task.WhenAll(Enumerable.Range(0, 4).Select(async worker =>
        {
            for (var i = 0; i < 8; i++)
            {
                var checkout = await fixture.CheckoutAsync(firstCustomer + worker, [skus[(worker + i) % skus.Length], skus[(worker + i + 1) % skus.Length]]);
                Assert.True(checkout.Status == HttpStatusCode.Created, $"checkout: {(int)checkout.Status} {checkout.Body}");
                Interlocked.Increment(ref checkouts);
            }
        }));
        var writer = "";
        var deliveries = 0;
        var restockers = Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
        {
            for (var i = 0; i < 200 && !done.IsCancellationRequested; i++)
            {
                using var report = await RestockAsync(skus, quantity: 1);
                writer = report.RootElement.GetProperty("writer").GetString()!;
                Interlocked.Increment(ref deliveries);
            }
        }));
        try
        {
            await shoppers;
        }
        finally
        {
            await done.CancelAsync();
            await restockers;
        }

        return (checkouts, deliveries, writer);
    }

    private async Task<Contention> ContendAsync(string[] skus, int writers, int deliveries)
    {
        var conflictsBefore = await fixture.SiloSumAsync("lab_db_write_conflicts_total");
        var writesBefore = await fixture.SiloSumAsync("lab_db_calls_total", ("db_operation", "inventory.write-level-versioned"));
        var units = 0;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(async _ =>
        {
            for (var i = 0; i < deliveries; i++)
            {
                using var report = await RestockAsync(skus, quantity: 1);
                foreach (var line in report.RootElement.GetProperty("lines").EnumerateArray())
                {
                    if (!line.TryGetProperty("failure", out var failure) || failure.ValueKind == JsonValueKind.Null)
                    {
                        Interlocked.Increment(ref units);
                    }
                }
            }
        }));
        await Task.Delay(400); // past the scrape cache
        return new Contention(
            await fixture.SiloSumAsync("lab_db_write_conflicts_total") - conflictsBefore,
            await fixture.SiloSumAsync("lab_db_calls_total", ("db_operation", "inventory.write-level-versioned")) - writesBefore,
            units);
    }

    private sealed record Contention(double Conflicts, double VersionedWrites, int UnitsWritten)
    {
        public double ConflictRate => VersionedWrites > 0 ? Conflicts / VersionedWrites : 0;

        public override string ToString() => $"{Conflicts} conflicts in {VersionedWrites} versioned writes ({ConflictRate:P0}), {UnitsWritten} lines written";
    }

    private async Task<JsonDocument> RestockAsync(string[] skus, int quantity)
    {
        var body = JsonSerializer.Serialize(new { lines = skus.Select(sku => new { sku, quantity }) });
        using var response = await fixture.Control.PostAsync("/api/admin/restock", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"restock: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text);
    }

    /// <summary>The rows of <paramref name="skus"/> whose stock does not add up: initial_stock ≠ available + reserved + sold.</summary>
    private List<(string Sku, long Initial, long Counted)> Unbalanced(string[] skus)
    {
        using var shop = LabProcessesFixture.OpenDatabase(fixture.Lab, "shop.db");
        return shop.Query<(string, long, long)>(
                $"SELECT sku, initial_stock, available + reserved + sold FROM inventory WHERE {SkuIn(shop)} AND initial_stock <> available + reserved + sold ORDER BY sku",
                new { skus })
            .ToList();
    }

    private long InitialStock(string[] skus)
    {
        using var shop = LabProcessesFixture.OpenDatabase(fixture.Lab, "shop.db");
        return shop.ExecuteScalar<long>($"SELECT SUM(initial_stock) FROM inventory WHERE {SkuIn(shop)}", new { skus });
    }

    // Dapper expands IN @list for SQLite; Npgsql takes the array itself.
    private static string SkuIn(DbConnection connection) => connection is Npgsql.NpgsqlConnection ? "sku = ANY(@skus)" : "sku IN @skus";

    private static string Describe(List<(string Sku, long Initial, long Counted)> rows) =>
        rows.Count == 0 ? "none" : string.Join(", ", rows.Select(r => $"{r.Sku} initial {r.Initial} vs counted {r.Counted}"));
}
