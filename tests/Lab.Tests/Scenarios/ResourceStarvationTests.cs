using Lab.Scenarios;
using System.Diagnostics;
using System.Net;
using Lab.Cli.Experiment;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// resource-starvation on real processes: grain turns on one silo block their thread, Orleans counts them as long-running turns,
/// and that silo slows (its own /alive too) while the other, probed in the same window, does not.
/// </summary>
[ScenarioTest(ResourceStarvationScenario.Name)]
[Collection(ScenarioProcessesCollection.Name)]
public sealed class ResourceStarvationTests(ScenarioProcessesFixture lab, ITestOutputHelper output) : IAsyncLifetime
{
    private const string LongTurns = "orleans_scheduler_long_running_turns_total";
    private const string PoolThreads = "dotnet_thread_pool_thread_count_total";
    private const string Activations = "orleans_catalog_activations";
    private static readonly TimeSpan Block = TimeSpan.FromMilliseconds(400);

    // The silo the scenario starves (index into lab.Silos) and the one left alone.
    private int _target;
    private int Other => 1 - _target;

    public Task InitializeAsync() => lab.ResetAsync();

    public Task DisposeAsync() => lab.ResetAsync();

    [Fact]
    public async Task Blocking_grain_turns_on_one_silo_count_as_long_running_turns_and_slow_that_silo_only()
    {
        var baseline = await DriveAsync(TimeSpan.FromSeconds(1)); // activates the products read below

        // Placement decides where the product grains live, and earlier tests in this lab may have left most of them on
        // one silo: starve the silo that hosts more of them, so that the reads meet the blocked turns.
        var products = await PerSiloAsync(m => m.Samples
            .Where(s => s.Name == Activations && s.Labels.GetValueOrDefault("grain_type") == "product")
            .Sum(s => s.Value));
        _target = products.Silo2 > products.Silo1 ? 1 : 0;
        var target = $"silo-{_target + 1}";
        var other = $"silo-{Other + 1}";
        output.WriteLine($"product activations: silo-1 {products.Silo1}, silo-2 {products.Silo2}; starving {target}");
        Assert.True(Math.Max(products.Silo1, products.Silo2) > 0, "no product grain activations counted on either silo");

        var turnsBefore = await LongTurnsAsync();
        var injectionsBefore = await InjectionsAsync();
        // Thread.Sleep in the turn: the pool gets no hint that its threads are blocked, so the whole process starves.
        await lab.EnableAsync("resource-starvation",
            new() { ["block"] = "400ms", ["rate"] = "100%", ["style"] = "sleep", ["max-blocked"] = "32" },
            new() { ["service"] = target });
        var starved = await DriveAsync(TimeSpan.FromSeconds(4));
        var turnsStarved = await LongTurnsAsync();

        await lab.ResetAsync();
        await Task.Delay(500); // past the scrape cache: the last blocks counted
        var injectionsOn = await InjectionsAsync();
        var recovered = await DriveAsync(TimeSpan.FromSeconds(2));
        var turnsAfter = await LongTurnsAsync();
        var injectionsAfter = await InjectionsAsync();

        output.WriteLine($"baseline:  {baseline}");
        output.WriteLine($"starved:   {starved}");
        output.WriteLine($"recovered: {recovered}");
        output.WriteLine($"long-running turns: {target} +{turnsStarved.Target - turnsBefore.Target} while on, +{turnsAfter.Target - turnsStarved.Target} after; " +
                         $"{other} +{turnsStarved.Other - turnsBefore.Other} while on");

        // The blocks happened on the targeted silo only, and Orleans saw them there as long-running turns.
        Assert.True(injectionsOn.Target - injectionsBefore.Target >= 1, "no turn was blocked on the targeted silo");
        Assert.Equal(injectionsBefore.Other, injectionsOn.Other);
        Assert.True(turnsStarved.Target - turnsBefore.Target >= 1, $"{target} long-running turns +{turnsStarved.Target - turnsBefore.Target}");

        // Requests served by the starved silo's grains wait at least a block; even its own HTTP endpoint, which no grain
        // serves, slows down, while the other silo's, probed in the same window, does not.
        // Deep starvation can push some reads past the Orleans response timeout (504); those count as slow, not as a failure of the test.
        Assert.True(starved.ProductP90 >= Block.TotalMilliseconds, $"product p90 {starved.ProductP90} ms while starved");
        Assert.True(starved.AliveP90[_target] > 3 * starved.AliveP90[Other],
            $"{target} /alive p90 {starved.AliveP90[_target]} ms vs {other} {starved.AliveP90[Other]} ms");

        // Off: nothing is blocked any more (at most the turns already blocked finish long), and the reads answer.
        Assert.Equal(injectionsOn.Target, injectionsAfter.Target);
        Assert.True(turnsAfter.Target - turnsStarved.Target <= 32, "at most the turns already blocked finish long");
        Assert.Equal(0, recovered.Errors);
        var quiet = await LongTurnsAsync();

        // Sync-over-async (Task.Wait): the pool notices the blocked waits and injects threads on the starved silo, which
        // rescues its other work at the cost of a climbing thread count; the turns are just as long.
        await lab.EnableAsync("resource-starvation",
            new() { ["block"] = "400ms", ["rate"] = "100%", ["style"] = "sync-over-async", ["max-blocked"] = "32" },
            new() { ["service"] = target });
        var waiting = await DriveAsync(TimeSpan.FromSeconds(3));
        var turnsWaiting = await LongTurnsAsync();
        var threads = await PerSiloAsync(m => m.Sum(PoolThreads));
        output.WriteLine($"sync-over-async: {waiting}; long-running turns {target} +{turnsWaiting.Target - quiet.Target}; " +
                         $"pool threads silo-1 {threads.Silo1}, silo-2 {threads.Silo2}");
        Assert.True(turnsWaiting.Target - quiet.Target >= 1, $"{target} long-running turns +{turnsWaiting.Target - quiet.Target}");
        var (targetThreads, otherThreads) = _target == 0 ? threads : (threads.Silo2, threads.Silo1);
        Assert.True(targetThreads >= otherThreads, $"pool threads {target} {targetThreads}, {other} {otherThreads}");
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
        return new Sample(products.Count, errors, string.Join(",", statuses), P90(products), [P90(alive[0]), P90(alive[1])]);
    }

    /// <summary>The turns the scenario blocked so far, on the targeted silo and on the other.</summary>
    private async Task<(double Target, double Other)> InjectionsAsync()
    {
        var injected = await PerSiloAsync(m => m.Sum("lab_scenario_injections_total", ("scenario", ResourceStarvationScenario.Name)));
        return _target == 0 ? injected : (injected.Silo2, injected.Silo1);
    }

    private async Task<(double Target, double Other)> LongTurnsAsync()
    {
        var turns = await PerSiloAsync(m => m.Sum(LongTurns));
        return _target == 0 ? turns : (turns.Silo2, turns.Silo1);
    }

    private async Task<(double Silo1, double Silo2)> PerSiloAsync(Func<PrometheusSamples, double> read) =>
        (read(await ScenarioProcessesFixture.MetricsAsync(lab.Silos[0])), read(await ScenarioProcessesFixture.MetricsAsync(lab.Silos[1])));

    private static double P90(List<double> values) =>
        values.Count == 0 ? double.NaN : Math.Round(values.Order().ElementAt((int)(values.Count * 0.9)));

    private sealed record Sample(int Requests, int Errors, string Statuses, double ProductP90, double[] AliveP90)
    {
        public override string ToString() =>
            $"{Requests} product reads, {Errors} not OK (statuses {Statuses}), p90 {ProductP90} ms; /alive p90 silo-1 {AliveP90[0]} ms, silo-2 {AliveP90[1]} ms";
    }
}
