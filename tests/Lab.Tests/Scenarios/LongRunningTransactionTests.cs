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
[ScenarioTest(LongRunningTransactionScenario.Name)]
[Collection(ShopClusterCollection.Name)]
public sealed class LongRunningTransactionTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    // One job runs (the silos of the test cluster share a process); a writer that meets it waits for the rest of its hold.
    private static readonly TimeSpan Hold = TimeSpan.FromMilliseconds(1500);
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);
    private const int Batch = 4;
    private const int Rows = 40;

    // One hold and the pause after it, and a little more: a writer meets the job's transaction at least once.
    private static readonly TimeSpan Window = Hold + Pause + TimeSpan.FromMilliseconds(500);

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task Writers_queue_behind_the_held_transaction_short_batches_cure_it_and_it_ends_when_off()
    {
        using var telemetry = new TelemetryCapture();
        var parameters = new Dictionary<string, string> { ["rows"] = $"{Rows}", ["hold"] = $"{Hold.TotalMilliseconds}ms", ["pause"] = $"{Pause.TotalSeconds}s" };
        await _scenarios.EnableAsync(LongRunningTransactionScenario.Name, parameters);
        // Writers until one met the held transaction (or three windows passed): on a busy machine the job's first run can
        // begin late, and a window that ends as it begins meets none.
        var held = await MaxLockWaitMsAsync(telemetry, until: wait => wait >= Hold.TotalMilliseconds / 2, windows: 3);
        var heldJobs = JobTransactions(telemetry);

        await _scenarios.EnableAsync(LongRunningTransactionScenario.Name,
            new Dictionary<string, string>(parameters) { ["cure"] = "true", ["batch"] = $"{Batch}" });
        // Measured from the first short batch on: a writer queued behind the long transaction's last hold is not behind a batch.
        telemetry.Clear();
        await Eventually.GetAsync(() => Task.FromResult(JobTransactions(telemetry)), rows => rows.Contains(Batch), Window * 2, "the job commits a short batch");
        var batched = await MaxLockWaitMsAsync(telemetry);
        var batchedJobs = JobTransactions(telemetry);

        await _scenarios.ResetAsync();
        // Reset stops the job and rolls its transaction back: none begins after it.
        telemetry.Clear();
        var after = await MaxLockWaitMsAsync(telemetry);
        var jobsAfter = JobTransactions(telemetry);
        output.WriteLine($"longest lock wait of a reservation, ms: behind the {Hold.TotalMilliseconds} ms transaction {held:0} ({heldJobs.Count} job transactions), " +
                         $"behind batches of {Batch} rows {batched:0} ({batchedJobs.Count}), after reset {after:0} ({jobsAfter.Count})");

        // The job holds all its rows in one transaction for the hold; in batches, a few rows each for a share of it.
        Assert.NotEmpty(heldJobs);
        Assert.All(heldJobs, rows => Assert.Equal(Rows, rows));
        Assert.NotEmpty(batchedJobs);
        Assert.All(batchedJobs, rows => Assert.Equal(Batch, rows));
        Assert.Empty(jobsAfter);
        // A writer that arrives while the job holds its rows waits for the rest of the hold: at least half of it for one of
        // them; behind a batch it waits at most that batch's share, far less than the whole hold.
        Assert.True(held >= Hold.TotalMilliseconds / 2, $"the longest reservation waited {held:0} ms for its lock behind a {Hold.TotalMilliseconds} ms transaction");
        Assert.True(batched < Hold.TotalMilliseconds / 2, $"behind batches of {Batch} of {Rows} rows a reservation still waited {batched:0} ms");
    }

    /// <summary>Rows locked by each job transaction recorded so far (its span's lab.batch.rows).</summary>
    private static List<int> JobTransactions(TelemetryCapture telemetry) =>
        [.. telemetry.Spans.Where(span => span.OperationName == LongRunningTransactionScenario.JobSpan).Select(span => (int)span.GetTagItem("lab.batch.rows")!)];

    /// <summary>
    /// Reserves and releases a unit of the job's first SKUs one after another for a window (or, with <paramref name="until"/>,
    /// window after window until the longest wait satisfies it, at most <paramref name="windows"/>); the longest lock wait on
    /// their spans.
    /// </summary>
    private async Task<double> MaxLockWaitMsAsync(TelemetryCapture telemetry, Func<double, bool>? until = null, int windows = 1)
    {
        telemetry.Clear();
        using var trace = TelemetryCapture.Trace("long-running-transaction writers");
        var clock = Stopwatch.StartNew();
        var round = 0;
        var longest = 0.0;
        for (var window = 1; window <= windows; window++)
        {
            while (clock.Elapsed < Window * window)
            {
                var inventory = fixture.Client.GetGrain<IInventoryGrain>($"SKU-{(round++ % 5) + 1:00000}");
                var order = Guid.NewGuid();
                var reserved = await inventory.ReserveAsync(order, 1);
                Assert.Equal(ReservationOutcome.Reserved, reserved.Outcome);
                Assert.True(await inventory.ReleaseAsync(order));
            }

            longest = telemetry.InTrace(trace.TraceId)
                .Where(span => (span.GetTagItem("lab.db.operation") as string) == ShopOperations.InventoryReserve)
                .Select(span => span.GetTagItem(DbLockWait.Tag) as double? ?? 0)
                .DefaultIfEmpty(0)
                .Max();
            if (until is null || until(longest))
            {
                break;
            }
        }

        return longest;
    }
}
