using System.Diagnostics;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Scenarios;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// deadlock on a cluster of its own: (a) a call cycle between non-reentrant grains stalls until the response timeout, and
/// call-chain reentrancy cures it; (b) deferred SQLite transactions that read, then write, cannot upgrade their lock, and
/// taking the lock first cures it.
/// </summary>
[ScenarioTest(DeadlockScenario.Name)]
[Collection(FaultClusterCollection.Name)]
public sealed class DeadlockTests(FaultClusterFixture faults, ITestOutputHelper output)
{
    private readonly ShopClusterFixture _fixture = faults.Shop;

    [Fact]
    public async Task A_grain_call_cycle_times_out_and_call_chain_reentrancy_cures_it()
    {
        var scenarios = new ScenarioSwitch(_fixture.Cluster);
        // Warm the path (activations, payments client, JIT) so the timings measure the cycle; the first may be slow.
        try
        {
            await PlaceAsync("SKU-00011");
        }
        catch (TimeoutException)
        {
        }

        var warm = await PlaceAsync("SKU-00011");
        Assert.True(warm.Order!.Status == OrderStatus.Confirmed, $"{warm.Failure}: {warm.Detail}");
        try
        {
            await scenarios.EnableAsync(DeadlockScenario.Name);
            using var telemetry = new TelemetryCapture();
            var clock = Stopwatch.StartNew();
            await Assert.ThrowsAsync<TimeoutException>(() => PlaceAsync("SKU-00011"));
            var stalled = clock.Elapsed;
            output.WriteLine($"deadlocked checkout failed with TimeoutException after {stalled.TotalMilliseconds:0} ms");
            // The fixture's response timeout is 5 s: the cycle waits for all of it (Orleans notices a late response up to a
            // second after it was due, never before).
            Assert.True(stalled >= FaultClusterFixture.ResponseTimeout * 0.9, $"the cycle ended after {stalled.TotalMilliseconds:0} ms, before the response timeout");
            // The stalled saga counts as a failed checkout, by the exception its step threw (what the dashboards show).
            // Its own call times out in the silo a moment after ours did in the client; at least one, as other clusters
            // in this process may count theirs meanwhile.
            await Eventually.GetAsync(() => Task.FromResult(telemetry.OrdersFailed(nameof(TimeoutException))), n => n >= 1,
                TimeSpan.FromSeconds(5), "the deadlocked checkout counted as failed with TimeoutException");

            // The inventory grain was stuck in the cycle too: let it finish before timing the cure.
            await _fixture.Client.GetGrain<IInventoryGrain>("SKU-00011").GetStockAsync();
            await scenarios.EnableAsync(DeadlockScenario.Name, new Dictionary<string, string> { ["cure"] = "true" });
            clock.Restart();
            // A cycle would end in the response timeout's TimeoutException: a confirmed order is one that never waited for it.
            var cured = await PlaceAsync("SKU-00011");
            output.WriteLine($"with call-chain reentrancy: {cured.Order!.Status} after {clock.Elapsed.TotalMilliseconds:0} ms");
            Assert.Equal(OrderStatus.Confirmed, cured.Order.Status);
        }
        finally
        {
            await scenarios.ResetAsync();
        }

        Assert.Equal(OrderStatus.Confirmed, (await PlaceAsync("SKU-00011")).Order!.Status);
    }

    [Fact]
    public async Task Deferred_read_then_write_transactions_deadlock_on_the_sqlite_lock_upgrade_and_taking_the_lock_first_cures_it()
    {
        var scenarios = new ScenarioSwitch(_fixture.Cluster);
        string[] skus = ["SKU-00021", "SKU-00022", "SKU-00023", "SKU-00024"];
        await Task.WhenAll(skus.Select(PlaceAsync)); // warm: grains active, connections open
        if (TestDatabases.IsPostgres)
        {
            // PostgreSQL writers take their row lock first here: there is no lock upgrade to fail, and the mode is refused.
            var refused = await scenarios.TryEnableAsync(DeadlockScenario.Name, parameters: new Dictionary<string, string> { ["mode"] = "database" });
            Assert.Equal(ControlOutcome.Invalid, refused.Outcome);
            Assert.Contains("requires the SQLite provider", Assert.Single(refused.Errors!["database"]));
            Assert.All(await Task.WhenAll(skus.Select(PlaceAsync)), placed => Assert.Equal(OrderStatus.Confirmed, placed.Order!.Status));
            return;
        }

        try
        {
            await scenarios.EnableAsync(DeadlockScenario.Name, new Dictionary<string, string> { ["mode"] = "database", ["think"] = "300ms" });
            using var telemetry = new TelemetryCapture();
            var clock = Stopwatch.StartNew();
            Outcome[] outcomes;
            ActivityTraceId trace;
            using (var checkouts = TelemetryCapture.Trace("deadlock checkouts"))
            {
                trace = checkouts.TraceId;
                outcomes = await Task.WhenAll(skus.Select(sku => OutcomeAsync(() => PlaceAsync(sku))));
            }

            output.WriteLine($"database mode, 4 concurrent checkouts in {clock.ElapsedMilliseconds} ms: {string.Join(" | ", outcomes.Select(o => o.Text))}");

            // Every transaction read under the shared lock; one whose snapshot another write made stale can never upgrade: SQLITE_BUSY after the busy timeout.
            var deadlocked = outcomes.Where(o => o.Error is not null).ToList();
            Assert.NotEmpty(deadlocked);
            Assert.All(deadlocked, o =>
            {
                Assert.IsType<Microsoft.Data.Sqlite.SqliteException>(o.Error);
                Assert.Contains("SQLite Error 5: 'database is locked'", o.Error!.Message);
                Assert.True(o.Elapsed >= TimeSpan.FromSeconds(FaultClusterFixture.BusyTimeoutSeconds * 0.9), $"failed after {o.Elapsed}, before the busy timeout");
            });
            var failedSpans = telemetry.InTrace(trace).Where(s => s.Status == ActivityStatusCode.Error && (s.GetTagItem("lab.db.operation") as string)?.StartsWith("inventory.", StringComparison.Ordinal) == true).ToList();
            Assert.NotEmpty(failedSpans);
            Assert.All(failedSpans, span => Assert.Equal(DeadlockScenario.Name, span.GetTagItem("lab.scenario")));

            // The cure: BEGIN IMMEDIATE, the write lock first. Writers queue behind each other; nobody deadlocks.
            await scenarios.EnableAsync(DeadlockScenario.Name, new Dictionary<string, string> { ["mode"] = "database", ["think"] = "300ms", ["cure"] = "true" });
            clock.Restart();
            var cured = await Task.WhenAll(skus.Select(sku => OutcomeAsync(() => PlaceAsync(sku))));
            output.WriteLine($"with the cure in {clock.ElapsedMilliseconds} ms: {string.Join(" | ", cured.Select(o => o.Text))}");
            Assert.All(cured, o => Assert.True(o.Error is null && o.Result!.Order!.Status == OrderStatus.Confirmed, o.Text));
        }
        finally
        {
            await scenarios.ResetAsync();
        }
    }

    private static async Task<Outcome> OutcomeAsync(Func<Task<CheckoutResult>> place)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            return new Outcome(await place(), null, clock.Elapsed);
        }
        catch (Exception ex)
        {
            return new Outcome(null, ex, clock.Elapsed);
        }
    }

    private sealed record Outcome(CheckoutResult? Result, Exception? Error, TimeSpan Elapsed)
    {
        public string Text => Error is null
            ? $"{Result!.Order?.Status} {Result.Failure} in {Elapsed.TotalMilliseconds:0} ms"
            : $"{Error.GetType().Name}: {Error.Message} after {Elapsed.TotalMilliseconds:0} ms";
    }

    private Task<CheckoutResult> PlaceAsync(string sku) =>
        _fixture.Client.GetGrain<IOrderGrain>(Guid.NewGuid()).PlaceAsync(8, [new OrderLine(sku, 1, 10m)]);
}
