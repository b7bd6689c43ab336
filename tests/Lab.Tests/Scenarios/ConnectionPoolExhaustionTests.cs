using System.Diagnostics;
using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// connection-pool-exhaustion on the shop cluster: each silo's repository pool shrinks to a few connections held by a slow
/// query, so a burst of history reads queues for a connection and the callers that wait past the timeout fail. Pool waits
/// are read from the burst's own trace.
/// </summary>
[ScenarioTest(ConnectionPoolExhaustionScenario.Name)]
[Collection(ShopClusterCollection.Name)]
public sealed class ConnectionPoolExhaustionTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Callers = 8;
    private const int PoolSize = 2;
    private static readonly TimeSpan QueryDelay = TimeSpan.FromMilliseconds(400);
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromMilliseconds(250);

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task Callers_wait_for_the_shrunken_pool_then_time_out_and_the_full_pool_returns_when_off()
    {
        using var telemetry = new TelemetryCapture();
        await BurstAsync(telemetry); // warm-up: customer grains active, existence cached
        var off = await BurstAsync(telemetry);

        await _scenarios.EnableAsync(ConnectionPoolExhaustionScenario.Name,
            new Dictionary<string, string>
            {
                ["pool-size"] = PoolSize.ToString(),
                ["query-delay"] = "400ms",
                ["wait-timeout"] = "250ms",
            },
            new Dictionary<string, string> { ["repositoryOperation"] = "customer.order-history" });
        var on = await BurstAsync(telemetry);

        await _scenarios.ResetAsync();
        await BurstAsync(telemetry); // as before the first: the full pool opens its connections again (slow on a loaded PostgreSQL)
        var after = await BurstAsync(telemetry);

        output.WriteLine($"off: {off}");
        output.WriteLine($"on: {on}");
        output.WriteLine($"after: {after}");
        output.WriteLine($"on, first failure: {on.Failures.FirstOrDefault()?.GetType().FullName}: {on.Failures.FirstOrDefault()?.Message}");

        // On: each silo's pool (one per process; both silos live in this one) serves PoolSize callers with the
        // slow query; the rest queue, then time out.
        var pools = fixture.Cluster.Silos.Count;
        Assert.InRange(on.Succeeded, PoolSize, PoolSize * pools);
        Assert.Equal(Callers - on.Succeeded, on.Failures.Count);
        Assert.True(on.Failures.Count >= Callers - (PoolSize * pools), $"{on.Failures.Count} timeouts");
        Assert.All(on.Failures, ex =>
        {
            var timeout = Assert.IsType<DbPoolTimeoutException>(ex);
            Assert.Contains($"pool of {PoolSize}", timeout.Message);
        });
        Assert.True(on.PoolWaitEvents >= on.Failures.Count, $"{on.PoolWaitEvents} db.pool.wait events");
        // A caller that gave up waited the whole wait timeout first.
        Assert.True(on.MaxWaitMs >= WaitTimeout.TotalMilliseconds / 2, $"longest pool wait {on.MaxWaitMs} ms for a {WaitTimeout.TotalMilliseconds} ms timeout");
        Assert.True(on.MaxWaitingGauge >= 2, $"lab.db.pool.waiting peaked at {on.MaxWaitingGauge}");
        Assert.True(on.Elapsed >= QueryDelay / 2, $"the burst took {on.Elapsed.TotalMilliseconds:0} ms with a {QueryDelay.TotalMilliseconds} ms query");

        // Off (before and after): every caller gets a connection without waiting for one.
        foreach (var clean in new[] { off, after })
        {
            Assert.Equal(Callers, clean.Succeeded);
            Assert.Empty(clean.Failures);
            Assert.Equal(0, clean.PoolWaitEvents);
        }
    }

    /// <summary><see cref="Callers"/> history reads at once, in one trace; the pool waits they met, from their spans.</summary>
    private async Task<Burst> BurstAsync(TelemetryCapture telemetry)
    {
        using var sampling = new CancellationTokenSource();
        var maxWaiting = 0L;
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                maxWaiting = Math.Max(maxWaiting, telemetry.SamplePoolWaiting());
                await Task.Delay(10);
            }
        });

        var clock = Stopwatch.StartNew();
        using var burst = TelemetryCapture.Trace("connection-pool-exhaustion burst");
        var calls = Enumerable.Range(1, Callers)
            .Select(customer => fixture.Client.GetGrain<ICustomerGrain>(customer).GetOrderHistoryAsync(3))
            .ToArray();
        try
        {
            await Task.WhenAll(calls);
        }
        catch
        {
            // Failures are counted per call below.
        }

        var elapsed = clock.Elapsed;
        await sampling.CancelAsync();
        await sampler;
        var waits = telemetry.InTrace(burst.TraceId)
            .SelectMany(s => s.Events)
            .Where(e => e.Name == "db.pool.wait")
            .Select(e => e.Tags.First(t => t.Key == "lab.db.pool.wait_ms").Value is double ms ? ms : 0)
            .ToList();
        return new Burst(
            calls.Count(c => c.IsCompletedSuccessfully),
            [.. calls.Where(c => c.IsFaulted).Select(c => c.Exception!.InnerException!)],
            waits.Count,
            waits.Count == 0 ? 0 : waits.Max(),
            maxWaiting,
            elapsed);
    }

    private sealed record Burst(int Succeeded, IReadOnlyList<Exception> Failures, int PoolWaitEvents, double MaxWaitMs, long MaxWaitingGauge, TimeSpan Elapsed)
    {
        public override string ToString() =>
            $"{Succeeded} ok, {Failures.Count} failed, {PoolWaitEvents} pool waits (max {MaxWaitMs:0} ms), waiting gauge max {MaxWaitingGauge}, burst {Elapsed.TotalMilliseconds:0} ms";
    }
}
