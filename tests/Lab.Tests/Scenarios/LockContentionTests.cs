using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// lock-contention on the shop cluster: hot-SKU inventory writes hold the database lock (SQLite's write lock, a PostgreSQL row
/// lock) for the injected hold, so concurrent checkouts of different hot SKUs queue on it; alone, a checkout queues behind
/// nobody. Counted on the spans of the test's own checkouts (each in its trace): who held the lock, and how long the others
/// waited for it.
/// </summary>
[ScenarioTest(LockContentionScenario.Name)]
[Collection(ShopClusterCollection.Name)]
public sealed class LockContentionTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int High = 3;
    private static readonly TimeSpan Hold = TimeSpan.FromMilliseconds(300);

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task Concurrent_hot_sku_writers_queue_on_the_held_lock_and_nothing_holds_it_when_off()
    {
        using var telemetry = new TelemetryCapture();
        await RunAsync(High, telemetry); // warm: the checkout path compiled, grains active, connections open
        var off = await RunAsync(High, telemetry);

        await _scenarios.EnableAsync(LockContentionScenario.Name,
            new Dictionary<string, string> { ["hold"] = $"{Hold.TotalMilliseconds}ms", ["hot-skus"] = "20" });
        var alone = await RunAsync(1, telemetry);
        var together = await RunAsync(High, telemetry);
        await _scenarios.ResetAsync();
        var after = await RunAsync(High, telemetry);

        output.WriteLine($"off, {High} at once: {off}");
        output.WriteLine($"on, alone: {alone}");
        output.WriteLine($"on, {High} at once: {together}");
        output.WriteLine($"after reset, {High} at once: {after}");

        // The holders: every hot-SKU reserve and commit of the test's checkouts, tagged on its db span, and only while on.
        Assert.Equal(2 * alone.Checkouts, alone.Holders);
        Assert.Equal(2 * together.Checkouts, together.Holders);
        Assert.Equal(0, off.Holders + after.Holders);
        Assert.Equal(0, off.TimedOut + after.TimedOut + alone.TimedOut);

        // A holder keeps the lock for the hold; of writers that arrive together all but the first wait for it, so the longest
        // wait is at least half a hold. (How long they wait on average, and what a lone writer waits, depend on the machine.)
        Assert.True(together.MaxLockWaitMs >= Hold.TotalMilliseconds / 2,
            $"the longest lock wait of {High} concurrent checkouts was {together.MaxLockWaitMs:0} ms with a {Hold.TotalMilliseconds:0} ms hold");
        // Each checkout holds the lock twice (reserve, commit): a lone one is slower by two holds, at least half of each.
        Assert.True(alone.MaxCheckoutMs >= Hold.TotalMilliseconds, $"a lone checkout took {alone.MaxCheckoutMs:0} ms with two {Hold.TotalMilliseconds:0} ms holds");
    }

    /// <summary><paramref name="concurrency"/> checkouts at once, each in its own trace, of the worker's own customer and hot SKU.</summary>
    private async Task<Phase> RunAsync(int concurrency, TelemetryCapture telemetry)
    {
        var latencies = new ConcurrentBag<double>();
        var traces = new ConcurrentBag<ActivityTraceId>();
        var timedOut = 0;
        var workers = Enumerable.Range(0, concurrency).ToArray();
        // Each worker: its own customer and its own hot SKU, so the grains never serialise them; only the database can.
        await Task.WhenAll(workers.Select(w => Cart(w).AddItemAsync(Sku(w), 1)));
        await Task.WhenAll(workers.Select(async w =>
        {
            using var trace = TelemetryCapture.Trace("lock-contention checkout");
            traces.Add(trace.TraceId);
            var clock = Stopwatch.StartNew();
            try
            {
                var result = await Cart(w).CheckoutAsync();
                Assert.True(result.Failure == CheckoutFailure.None, $"{result.Failure}: {result.Detail}");
            }
            catch (TimeoutException)
            {
                // A writer left in the lock queue past the response timeout: counted.
                Interlocked.Increment(ref timedOut);
            }

            latencies.Add(clock.Elapsed.TotalMilliseconds);
        }));

        // Every write of the checkouts records its wait for the lock: on SQLite any writer (an order's insert too) queues
        // behind the holder, on PostgreSQL the hot-SKU writers queue on the held row.
        var spans = traces.SelectMany(telemetry.InTrace).ToList();
        var waits = spans
            .Select(s => s.GetTagItem("lab.db.lock_wait_ms"))
            .OfType<double>()
            .ToList();
        Assert.NotEmpty(waits);
        var holders = spans.Count(s => (s.GetTagItem("lab.scenario") as string) == LockContentionScenario.Name);
        return new Phase(concurrency, latencies.Max(), waits.Max(), holders, timedOut);
    }

    private ICartGrain Cart(int worker) => fixture.Client.GetGrain<ICartGrain>(11 + worker);

    private static string Sku(int worker) => $"SKU-{11 + worker:00000}";

    private sealed record Phase(int Checkouts, double MaxCheckoutMs, double MaxLockWaitMs, int Holders, int TimedOut)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"{Checkouts} checkouts, slowest {MaxCheckoutMs:0} ms, longest lock wait {MaxLockWaitMs:0.0} ms, {Holders} holders, {TimedOut} timed out");
    }
}
