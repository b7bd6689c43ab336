using System.Diagnostics;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// long-running-transaction on the real database: while the batch job holds its transaction, reservations of the rows it
/// locked wait for it (their spans' lock wait nears the hold); in short batches (the cure) they wait a batch's share; and
/// once it is off, not at all.
/// </summary>
[Collection(ShopClusterCollection.Name)]
public sealed class LongRunningTransactionTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    // One job runs (the silos of the test cluster share a process); a writer that meets it waits for the rest of its hold.
    private const string Hold = "1500ms";
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(4);

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task Writers_queue_behind_the_held_transaction_short_batches_cure_it_and_it_ends_when_off()
    {
        using var telemetry = new TelemetryCapture();
        var before = await MaxLockWaitMsAsync(telemetry);

        var parameters = new Dictionary<string, string> { ["rows"] = "40", ["hold"] = Hold, ["pause"] = "1s" };
        await _scenarios.EnableAsync(LongRunningTransactionScenario.Name, parameters);
        var held = await MaxLockWaitMsAsync(telemetry);
        var jobSpans = telemetry.Spans.Count(span => span.OperationName == LongRunningTransactionScenario.JobSpan);

        await _scenarios.EnableAsync(LongRunningTransactionScenario.Name, new Dictionary<string, string>(parameters) { ["cure"] = "true", ["batch"] = "4" });
        var batched = await MaxLockWaitMsAsync(telemetry);

        await _scenarios.ResetAsync();
        var after = await MaxLockWaitMsAsync(telemetry);
        output.WriteLine($"longest lock wait of a reservation, ms: before {before:0}, behind the {Hold} transaction {held:0} ({jobSpans} job transactions), " +
                         $"behind batches of 4 rows {batched:0}, after {after:0}");

        Assert.True(jobSpans >= 1, "the job's transaction has a span");
        // A writer that arrives while a job holds the rows waits for the rest of its hold: most of 1.5 s for some.
        Assert.True(held >= 700, $"the longest reservation waited {held:0} ms for its lock behind a {Hold} transaction");
        Assert.True(held > 2 * Math.Max(batched, 100), $"short batches: {batched:0} ms, one long transaction: {held:0} ms");
        Assert.True(after < held / 2, $"after reset a reservation still waited {after:0} ms");
    }

    /// <summary>Reserves and releases a unit of the job's first SKUs one after another for a while; the longest lock wait on their spans.</summary>
    private async Task<double> MaxLockWaitMsAsync(TelemetryCapture telemetry)
    {
        telemetry.Clear();
        var clock = Stopwatch.StartNew();
        var round = 0;
        while (clock.Elapsed < Window)
        {
            var inventory = fixture.Client.GetGrain<IInventoryGrain>($"SKU-{(round++ % 5) + 1:00000}");
            var order = Guid.NewGuid();
            var reserved = await inventory.ReserveAsync(order, 1);
            Assert.Equal(ReservationOutcome.Reserved, reserved.Outcome);
            Assert.True(await inventory.ReleaseAsync(order));
        }

        return telemetry.DbSpans(ShopOperations.InventoryReserve)
            .Select(span => span.GetTagItem(DbLockWait.Tag) as double? ?? 0)
            .DefaultIfEmpty(0)
            .Max();
    }
}
