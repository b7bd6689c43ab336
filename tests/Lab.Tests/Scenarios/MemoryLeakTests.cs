using System.Net;
using Lab.Scenarios.Catalog;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// memory-leak on the real lab: the targeted silo retains memory per grain call up to the cap (what it holds is the scenario's
/// own gauge, read in that process), the other silo nothing; reset drops the blocks and collects, so the heap is back.
/// </summary>
[ScenarioTest(MemoryLeakScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class MemoryLeakTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const long MiB = 1024 * 1024;
    private const long PerCall = 1 * MiB;
    private const long Max = 48 * MiB;
    private const int Blocks = (int)(Max / PerCall);
    private const string RetainedGauge = "lab_scenario_memory_leak_retained_bytes";

    [Fact]
    public async Task Retained_memory_grows_per_call_up_to_the_cap_and_reset_frees_it()
    {
        await fixture.ResetEverywhereAsync();
        var heapBefore = await HeapAsync("silo-1");
        var rssBefore = fixture.ResidentBytes("silo-1");
        var injectedBefore = await InjectionsAsync("silo-1");

        await fixture.EnableEverywhereAsync(MemoryLeakScenario.Name,
            """{"parameters":{"per-call":"1MB","max":"48MB","hook":"grain"},"target":{"service":"silo-1"},"ttl":"2m"}""");

        // Grain calls land on both silos; drive them until silo-1 holds the cap (bounded), then some more.
        var sku = 0;
        await Eventually.GetAsync(async () =>
        {
            await ReadProductsAsync(20, sku);
            sku += 20;
            return (await fixture.ScrapeAsync("silo-1")).Sum(RetainedGauge);
        }, retained => retained >= Max, TimeSpan.FromSeconds(15), $"silo-1 retains {Max / MiB} MiB");
        await ReadProductsAsync(40, sku);

        await Task.Delay(400); // past the scrape cache
        var retained1 = (await fixture.ScrapeAsync("silo-1")).Sum(RetainedGauge);
        var retained2 = (await fixture.ScrapeAsync("silo-2")).Sum(RetainedGauge);
        var injected = await InjectionsAsync("silo-1") - injectedBefore;
        var rssLeaking = fixture.ResidentBytes("silo-1");

        await fixture.ResetEverywhereAsync();
        await Task.Delay(400);
        var retainedAfter = (await fixture.ScrapeAsync("silo-1")).Sum(RetainedGauge);
        var heapAfter = await HeapAsync("silo-1");
        output.WriteLine($"silo-1 retained {retained1 / MiB} MiB ({injected} blocks), silo-2 {retained2 / MiB} MiB; after reset {retainedAfter / MiB} MiB; " +
                         $"GC heap at the last collection {heapBefore / MiB} MiB before, {heapAfter / MiB} MiB after reset; resident {rssBefore / MiB} -> {rssLeaking / MiB} MiB");

        // Capped: max / per-call blocks and not one more, only in the targeted process.
        Assert.Equal(Max, retained1);
        Assert.Equal(Blocks, injected);
        Assert.Equal(0, retained2);

        // Reset dropped the blocks and ran a compacting collection there: the live heap is back within half the leak of what
        // it was before, where a kept leak would leave it a whole leak above.
        Assert.Equal(0, retainedAfter);
        Assert.True(heapAfter < heapBefore + (Max / 2), $"heap {heapAfter / MiB} MiB after reset, {heapBefore / MiB} MiB before the leak");
    }

    private async Task ReadProductsAsync(int count, int first)
    {
        for (var i = first; i < first + count; i++)
        {
            using var response = await fixture.Storefront.GetAsync($"/api/products/SKU-{i % 200 + 1:00000}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    private async Task<double> InjectionsAsync(string service) =>
        (await fixture.ScrapeAsync(service)).Sum("lab_scenario_injections_total", ("scenario", MemoryLeakScenario.Name));

    /// <summary>The GC heap size at the end of the last collection, all generations (runtime instrumentation).</summary>
    private async Task<long> HeapAsync(string service) =>
        (long)(await fixture.ScrapeAsync(service)).Sum("dotnet_gc_last_collection_heap_size_bytes");
}
