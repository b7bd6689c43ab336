using System.Diagnostics;
using System.Net;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

[Collection(ScenarioProcessesCollection.Name)]
public sealed class ResourceStarvationTests(ScenarioProcessesFixture lab, ITestOutputHelper output) : IAsyncLifetime
{
    private const string LongTurns = "orleans_scheduler_long_running_turns_total";
    private const string PoolThreads = "dotnet_thread_pool_thread_count_total";
    private static readonly TimeSpan Block = TimeSpan.FromMilliseconds(400);

    public Task InitializeAsync() => lab.ResetAsync();

    public Task DisposeAsync() => lab.ResetAsync();

    [Fact]
    public async Task Blocking_grain_turns_on_one_silo_count_as_long_running_turns_and_slow_that_silo_only()
    {
        var baseline = await DriveAsync(TimeSpan.FromSeconds(2));
        var turnsBefore = await LongTurnsAsync();

        // Thread.Sleep in the turn: the pool gets no hint that its threads are blocked, so the whole process starves.
        await lab.EnableAsync("resource-starvation",
            new() { ["block"] = "400ms", ["rate"] = "100%", ["style"] = "sleep", ["max-blocked"] = "32" },
            new() { ["service"] = "silo-1" });
        var starved = await DriveAsync(TimeSpan.FromSeconds(4));
        var turnsStarved = await LongTurnsAsync();

        await lab.ResetAsync();
        var recovered = await DriveAsync(TimeSpan.FromSeconds(2));
        var turnsAfter = await LongTurnsAsync();

        output.WriteLine($"baseline:  {baseline}");
        output.WriteLine($"starved:   {starved}");
        output.WriteLine($"recovered: {recovered}");
        output.WriteLine($"long-running turns: silo-1 +{turnsStarved.Silo1 - turnsBefore.Silo1} while on, +{turnsAfter.Silo1 - turnsStarved.Silo1} after; " +
                         $"silo-2 +{turnsStarved.Silo2 - turnsBefore.Silo2} while on");

        // Orleans saw the blocked turns on silo-1, not on silo-2.
        Assert.True(turnsStarved.Silo1 - turnsBefore.Silo1 >= 1, $"silo-1 long-running turns +{turnsStarved.Silo1 - turnsBefore.Silo1}");
        Assert.True(turnsStarved.Silo2 - turnsBefore.Silo2 <= 2, $"silo-2 long-running turns +{turnsStarved.Silo2 - turnsBefore.Silo2}");

        // Requests served by silo-1 grains wait at least a block; even silo-1's own HTTP endpoint, which no grain
        // serves, slows down, while silo-2's does not.
        // Deep starvation can push some reads past the Orleans response timeout (504); those count as slow, not as a failure of the test.
        Assert.True(starved.ProductP90 >= Block.TotalMilliseconds, $"product p90 {starved.ProductP90} ms while starved");
        Assert.True(baseline.ProductP90 < Block.TotalMilliseconds / 2, $"product p90 {baseline.ProductP90} ms at baseline");
        var quietAlive = Math.Max(baseline.Silo1AliveP90, starved.Silo2AliveP90);
        Assert.True(starved.Silo1AliveP90 > 3 * quietAlive,
            $"silo-1 /alive p90 {starved.Silo1AliveP90} ms vs {baseline.Silo1AliveP90} ms at baseline and silo-2 {starved.Silo2AliveP90} ms");

        // Off: no more long turns, latency back near the baseline.
        Assert.True(turnsAfter.Silo1 - turnsStarved.Silo1 <= 32, "at most the turns already blocked finish long");
        Assert.True(recovered.ProductP90 < Block.TotalMilliseconds / 2, $"product p90 {recovered.ProductP90} ms after");
        Assert.Equal(0, recovered.Errors);
        var quiet = await LongTurnsAsync();
        await DriveAsync(TimeSpan.FromSeconds(1));
        Assert.True((await LongTurnsAsync()).Silo1 - quiet.Silo1 <= 1, "no new long-running turns once off");

        // Sync-over-async (Task.Wait): the pool notices the blocked waits and injects threads on silo-1, which rescues
        // its other work at the cost of a climbing thread count; the turns are just as long.
        await lab.EnableAsync("resource-starvation",
            new() { ["block"] = "400ms", ["rate"] = "100%", ["style"] = "sync-over-async", ["max-blocked"] = "32" },
            new() { ["service"] = "silo-1" });
        var waiting = await DriveAsync(TimeSpan.FromSeconds(3));
        var turnsWaiting = await LongTurnsAsync();
        var threads = await ThreadsAsync();
        output.WriteLine($"sync-over-async: {waiting}; long-running turns silo-1 +{turnsWaiting.Silo1 - quiet.Silo1}; " +
                         $"pool threads silo-1 {threads.Silo1}, silo-2 {threads.Silo2}");
        Assert.True(turnsWaiting.Silo1 - quiet.Silo1 >= 1, $"silo-1 long-running turns +{turnsWaiting.Silo1 - quiet.Silo1}");
        Assert.True(threads.Silo1 >= threads.Silo2, $"pool threads silo-1 {threads.Silo1}, silo-2 {threads.Silo2}");
        Assert.True(waiting.ProductP90 >= Block.TotalMilliseconds, $"product p90 {waiting.ProductP90} ms");
    }

    /// <summary>Closed-loop product reads from 16 workers, while silo /alive endpoints are probed every 100 ms.</summary>
    private async Task<Sample> DriveAsync(TimeSpan duration)
    {
        var stop = Stopwatch.StartNew();
        var products = new List<double>();
        var errors = 0;
        var statuses = new SortedSet<int>();
        var workers = Enumerable.Range(0, 16).Select(async w =>
        {
            var i = w;
            while (stop.Elapsed < duration)
            {
                var clock = Stopwatch.StartNew();
                using var response = await lab.Storefront.GetAsync($"/api/products/SKU-{i % 120 + 1:00000}");
                lock (products)
                {
                    products.Add(clock.Elapsed.TotalMilliseconds);
                    errors += response.StatusCode == HttpStatusCode.OK ? 0 : 1;
                    statuses.Add((int)response.StatusCode);
                }

                i += 16;
            }
        }).ToList();
        var alive = new List<double>[] { [], [] };
        var probes = Enumerable.Range(0, 2).Select(async s =>
        {
            while (stop.Elapsed < duration)
            {
                var clock = Stopwatch.StartNew();
                using var response = await lab.Silos[s].GetAsync("/alive");
                alive[s].Add(clock.Elapsed.TotalMilliseconds);
                await Task.Delay(100);
            }
        }).ToList();
        await Task.WhenAll(workers.Concat(probes));
        return new Sample(products.Count, errors, string.Join(",", statuses), P90(products), P90(alive[0]), P90(alive[1]));
    }

    private async Task<(double Silo1, double Silo2)> LongTurnsAsync() =>
        ((await ScenarioProcessesFixture.MetricsAsync(lab.Silos[0])).Sum(LongTurns),
         (await ScenarioProcessesFixture.MetricsAsync(lab.Silos[1])).Sum(LongTurns));

    private async Task<(double Silo1, double Silo2)> ThreadsAsync() =>
        ((await ScenarioProcessesFixture.MetricsAsync(lab.Silos[0])).Sum(PoolThreads),
         (await ScenarioProcessesFixture.MetricsAsync(lab.Silos[1])).Sum(PoolThreads));

    private static double P90(List<double> values) =>
        values.Count == 0 ? double.NaN : Math.Round(values.Order().ElementAt((int)(values.Count * 0.9)));

    private sealed record Sample(int Requests, int Errors, string Statuses, double ProductP90, double Silo1AliveP90, double Silo2AliveP90)
    {
        public override string ToString() =>
            $"{Requests} product reads, {Errors} not OK (statuses {Statuses}), p90 {ProductP90} ms; /alive p90 silo-1 {Silo1AliveP90} ms, silo-2 {Silo2AliveP90} ms";
    }
}
