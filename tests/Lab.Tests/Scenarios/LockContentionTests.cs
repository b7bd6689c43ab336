using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

[Collection(ShopClusterCollection.Name)]
public sealed class LockContentionTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Low = 1; // alone, a worker's writes never queue behind another's hold
    private const int High = 4; // more, and SQLite's unfair busy-wait backoff can push one checkout past the 5 s response timeout
    private const int Rounds = 2;
    private const int Alternations = 2;
    private static readonly TimeSpan Hold = TimeSpan.FromMilliseconds(60);
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task Lock_wait_and_checkout_latency_grow_with_concurrency_when_on_and_not_when_off()
    {
        using var telemetry = new TelemetryCapture();
        await RunAsync(1, telemetry); // warm-up: the checkout path compiled, grains active, connections open
        await RunAsync(High, telemetry);
        var offLow = await RunAsync(Low, telemetry);
        var offHigh = await RunAsync(High, telemetry);

        await _scenarios.EnableAsync(LockContentionScenario.Name,
            new Dictionary<string, string> { ["hold"] = $"{Hold.TotalMilliseconds}ms", ["hot-skus"] = "20" });
        // Alternated, so that a burst of load from elsewhere on the machine does not land on one concurrency only; each
        // phase after the last one's own background writes (order events: projection, shipment, status) have landed, so
        // a lone checkout does not queue behind the four-worker phase before it (a lone mean of 957 ms was seen so).
        var onLow = await SettledRunAsync(Low, telemetry);
        var onHigh = await SettledRunAsync(High, telemetry);
        for (var i = 1; i < Alternations; i++)
        {
            onLow = onLow.Plus(await SettledRunAsync(Low, telemetry));
            onHigh = onHigh.Plus(await SettledRunAsync(High, telemetry));
        }

        await _scenarios.ResetAsync();
        await SettledRunAsync(1, telemetry); // settle: writers still queued from the last phase, and its events' writes, drain first
        var after = await RunAsync(High, telemetry);

        output.WriteLine($"off c={Low}: {offLow}");
        output.WriteLine($"off c={High}: {offHigh}");
        output.WriteLine($"on  c={Low}: {onLow}");
        output.WriteLine($"on  c={High}: {onHigh}");
        output.WriteLine($"after c={High}: {after}");

        // On: writers queue on the write lock, and the queue lengthens with concurrency: alone a worker never waits,
        // with others it waits for their holds. Checkout slows with it (compared by means: on SQLite a lone checkout's
        // other writes also wait behind background writers, so its maxima are too noisy to compare).
        Assert.True(onHigh.MeanLockWaitMs > onLow.MeanLockWaitMs * 1.5, "mean lock wait did not grow with concurrency");
        // A quarter of a hold on average: SQLite's busy wait is unfair, so between two holds several waiting writers may get
        // the lock at once while another waits many holds (a mean of 28.7 ms with 60 ms holds, and a maximum of 530 ms, seen).
        Assert.True(onHigh.MeanLockWaitMs >= Hold.TotalMilliseconds / 4, $"mean lock wait {onHigh.MeanLockWaitMs} ms with {High} workers");
        Assert.True(onHigh.MaxLockWaitMs > Hold.TotalMilliseconds, "no writer waited a full hold");
        Assert.True(onHigh.MeanCheckoutMs > onLow.MeanCheckoutMs, "checkout latency did not grow with concurrency");
        Assert.True(onLow.MaxCheckoutMs >= 2 * Hold.TotalMilliseconds * 0.9, "a checkout holds the lock twice (reserve, commit)");
        // The holders: every hot-SKU reserve and commit, tagged on its db span. On a busy machine a writer can queue past
        // the 5 s response timeout while the scenario is on (the contention itself); its saga still holds the lock when its
        // turn comes, perhaps after the phase. With the scenario off, nothing may time out.
        Assert.Equal(2 * Rounds * Low * Alternations, onLow.Holders);
        Assert.InRange(onHigh.Holders, 2 * Rounds * High * Alternations - 2 * onHigh.TimedOut, 2 * Rounds * High * Alternations);
        Assert.True(onHigh.TimedOut < Rounds * High * Alternations, "every checkout timed out with the scenario on");
        Assert.Equal(0, offHigh.Holders + after.Holders);
        Assert.Equal(0, offLow.TimedOut + offHigh.TimedOut + after.TimedOut);

        // Off: neither lock wait nor checkout latency depends on concurrency to any comparable degree.
        // Means, not maxima: one slow checkout on a shared machine (a GC, a busy core) must not decide it.
        Assert.True(offHigh.MeanLockWaitMs < 20, $"lock wait {offHigh.MeanLockWaitMs} ms with the scenario off");
        Assert.True(offHigh.MeanCheckoutMs < onHigh.MeanCheckoutMs / 2, "off is not clearly faster than on");
        Assert.True(after.MeanLockWaitMs < 20 && after.MeanCheckoutMs < onHigh.MeanCheckoutMs / 2, "no recovery after disable");
    }

    private async Task<Phase> SettledRunAsync(int concurrency, TelemetryCapture telemetry)
    {
        await Task.Delay(Settle);
        return await RunAsync(concurrency, telemetry);
    }

    private async Task<Phase> RunAsync(int concurrency, TelemetryCapture telemetry)
    {
        telemetry.Clear();
        var latencies = new ConcurrentBag<double>();
        var timedOut = 0;
        var workers = Enumerable.Range(0, concurrency).ToArray();
        for (var round = 0; round < Rounds; round++)
        {
            // Each worker: its own customer and its own hot SKU, so the grains never serialise them; only the database can.
            await Task.WhenAll(workers.Select(w => Cart(w).AddItemAsync(Sku(w), 1)));
            await Task.WhenAll(workers.Select(async w =>
            {
                var clock = Stopwatch.StartNew();
                try
                {
                    var result = await Cart(w).CheckoutAsync();
                    Assert.True(result.Failure == CheckoutFailure.None, $"{result.Failure}: {result.Detail}");
                }
                catch (TimeoutException)
                {
                    // A writer left behind in the lock queue past the response timeout: counted, judged by the caller.
                    Interlocked.Increment(ref timedOut);
                }

                latencies.Add(clock.Elapsed.TotalMilliseconds);
            }));
        }

        // The stock writers' waits: the order's own writes (its outbox rows, the projection's save) take the lock too,
        // but never hold it for the scenario, and would only dilute the mean.
        var waits = telemetry.Spans
            .Where(s => (s.GetTagItem("lab.db.operation") as string)?.StartsWith(Lab.Shop.ShopOperations.InventoryPrefix, StringComparison.Ordinal) == true)
            .Select(s => s.GetTagItem("lab.db.lock_wait_ms"))
            .OfType<double>()
            .ToList();
        Assert.NotEmpty(waits);
        var holders = telemetry.Spans.Count(s => (s.GetTagItem("lab.scenario") as string) == LockContentionScenario.Name);
        return new Phase(latencies.Max(), latencies.Average(), waits.Average(), waits.Max(), waits.Count, holders, timedOut);
    }

    private ICartGrain Cart(int worker) => fixture.Client.GetGrain<ICartGrain>(11 + worker);

    private static string Sku(int worker) => $"SKU-{11 + worker:00000}";

    private sealed record Phase(double MaxCheckoutMs, double MeanCheckoutMs, double MeanLockWaitMs, double MaxLockWaitMs, int Writes, int Holders, int TimedOut)
    {
        /// <summary>Both phases together; they ran the same number of checkouts, so their mean checkout times average.</summary>
        public Phase Plus(Phase other) => new(
            Math.Max(MaxCheckoutMs, other.MaxCheckoutMs),
            (MeanCheckoutMs + other.MeanCheckoutMs) / 2,
            (MeanLockWaitMs * Writes + other.MeanLockWaitMs * other.Writes) / (Writes + other.Writes),
            Math.Max(MaxLockWaitMs, other.MaxLockWaitMs),
            Writes + other.Writes,
            Holders + other.Holders,
            TimedOut + other.TimedOut);

        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"checkout max {MaxCheckoutMs:0} ms, mean {MeanCheckoutMs:0} ms, lock wait mean {MeanLockWaitMs:0.0} ms, max {MaxLockWaitMs:0.0} ms over {Writes} writes, {Holders} holders, {TimedOut} timed out");
    }
}
