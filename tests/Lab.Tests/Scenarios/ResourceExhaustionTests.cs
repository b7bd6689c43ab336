using System.Diagnostics;
using System.Net;
using Lab.Scenarios;
using Lab.Scenarios.Catalog;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// thread-pool-exhaustion on the real lab: payments' thread pool starves, so its /alive waits behind the blockers while the
/// storefront's answers at once (probed together, so a busy machine slows both alike); the pool injects threads, and after
/// disable payments answers at once again.
/// </summary>
[ScenarioTest(ThreadPoolExhaustionScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class ThreadPoolExhaustionTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const string ThreadCount = "dotnet_thread_pool_thread_count_total";
    // Far more blockers than payments' pool has threads (about 5 idle) or can add while the test probes it (the pool injects
    // a thread every half second or so when starved): with 8 it had grown to 11 by the probe once, and the probe found a free one.
    private const int Blocked = 32;
    private static readonly TimeSpan Hold = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Thread_pool_exhaustion_starves_the_targeted_process_while_the_others_answer()
    {
        await fixture.ResetEverywhereAsync();
        var threadsBefore = (await fixture.ScrapeAsync("payments")).Sum(ThreadCount);

        // Not waited for everywhere: the starved process answers its /lab/runtime as late as anything else.
        var (_, version) = await fixture.EnableAsync(ThreadPoolExhaustionScenario.Name,
            $$"""{"parameters":{"blocked":{{Blocked}},"hold":"{{Hold.TotalSeconds}}s","duration":"30s"},"target":{"service":"payments"},"ttl":"1m"}""");
        // This activation's own line (its set's version): an earlier test's line about the scenario must not count.
        await Eventually.GetAsync(() => Task.FromResult(fixture.Lab.Processes.Single(p => p.Name == "payments").Tail(200)),
            log => log.Contains($"Scenario {ThreadPoolExhaustionScenario.Name} enabled in payments (set v{version})", StringComparison.Ordinal),
            TimeSpan.FromSeconds(5), "payments applied the activation");
        // Both probed at once, so a busy machine slows both alike; the starved process waits for its pool to grow.
        var starved = AliveLatenciesAsync("payments", 1);
        var other = AliveLatenciesAsync("storefront", 1);
        var (starvedMs, otherMs) = (await starved, await other);
        var threadsDuring = await ScrapeSlowAsync("payments", ThreadCount);
        await fixture.WaitAppliedEverywhereAsync(version, TimeSpan.FromSeconds(30));

        // The starved process applies the change when its poll gets a thread: behind the blockers queued before it.
        await fixture.DisableEverywhereAsync(ThreadPoolExhaustionScenario.Name, TimeSpan.FromSeconds(30));
        var after = await AliveLatenciesAsync("payments", 3);
        output.WriteLine($"payments /alive max: starved {starvedMs.Max():0} ms (storefront meanwhile {otherMs.Max():0} ms), after {after.Max():0} ms; " +
                         $"pool threads {threadsBefore} -> {threadsDuring}");

        // The first probe queues behind the blockers until a hold ends or the pool has injected a thread for it: a good part
        // of a hold, where the storefront beside it answered at once.
        Assert.True(starvedMs.Max() >= Hold.TotalMilliseconds / 3, $"payments answered /alive within {starvedMs.Max():0} ms while {Blocked} pool threads were blocked");
        Assert.True(starvedMs.Max() > 4 * otherMs.Max(), "the storefront starved as much as payments");
        // The pool injected threads while it starved. (Not necessarily as many as are blocked: each blocker queues itself again
        // at the back after its hold, so queued work gets a thread in between.)
        Assert.True(threadsDuring > threadsBefore, $"payments' pool did not grow ({threadsBefore} -> {threadsDuring} threads) while it starved");
        Assert.True(after.Max() < starvedMs.Max() / 4, $"payments still answers slowly after disable: {after.Max():0} ms");
    }

    /// <summary>A metric of a process that may answer slowly (its thread pool starved): no short timeout.</summary>
    private async Task<double> ScrapeSlowAsync(string service, string metric)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        return PrometheusSamples.Parse(await http.GetStringAsync($"{fixture.UrlOf(service)}/metrics")).Sum(metric);
    }

    /// <summary>Latencies of <paramref name="count"/> sequential GET /alive to a service, in milliseconds.</summary>
    private async Task<List<double>> AliveLatenciesAsync(string service, int count)
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.UrlOf(service)), Timeout = TimeSpan.FromSeconds(30) };
        var latencies = new List<double>();
        for (var i = 0; i < count; i++)
        {
            var clock = Stopwatch.StartNew();
            using var response = await http.GetAsync("/alive");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            latencies.Add(clock.Elapsed.TotalMilliseconds);
        }

        return latencies;
    }
}

/// <summary>
/// memory-pressure on the real lab: silo-1 allocates large short-lived buffers, so its gen2 collections climb steeply (silo-2's
/// do not) while its heap stays flat; with the cure (pooled buffers) they fall back; after disable nothing allocates.
/// </summary>
[ScenarioTest(MemoryPressureScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class MemoryPressureTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    // The window under pressure lasts until silo-1 has run this many gen2 collections (the collector's budget for the large
    // object heap adapts, and a busy machine allocates more slowly, so a fixed window would count anything from 4 to 20); it
    // only sizes the window: silo-2's count and the pooled window are taken over the same length and compared with it.
    private const int PressedCollections = 8;
    private static readonly TimeSpan MinWindow = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan MaxWindow = TimeSpan.FromSeconds(30);
    private const long Rate = 256L << 20;

    [Fact]
    public async Task Memory_pressure_drives_gen2_collections_in_the_targeted_silo_and_pooling_cures_it()
    {
        await fixture.ResetEverywhereAsync();
        var heapBefore = (await fixture.ScrapeAsync("silo-1")).Sum("dotnet_gc_last_collection_heap_size_bytes");
        await fixture.EnableEverywhereAsync(MemoryPressureScenario.Name,
            """{"parameters":{"rate":"256MB","buffer":"1MB","duration":"60s"},"target":{"service":"silo-1"},"ttl":"2m"}""");
        var pressed = await Gen2OverAsync(MinWindow, until: PressedCollections);
        var committedPressed = (await fixture.ScrapeAsync("silo-1")).Sum("dotnet_gc_last_collection_memory_committed_size_bytes");
        await fixture.EnableEverywhereAsync(MemoryPressureScenario.Name,
            """{"parameters":{"rate":"256MB","buffer":"1MB","duration":"60s","cure":"true"},"target":{"service":"silo-1"},"ttl":"2m"}""");
        await Task.Delay(500); // the last unpooled buffers are collected
        var cured = await Gen2OverAsync(pressed.Window);
        await fixture.DisableEverywhereAsync(MemoryPressureScenario.Name);
        await Task.Delay(400); // past the scrape cache
        var committedAfter = (await fixture.ScrapeAsync("silo-1")).Sum("dotnet_gc_last_collection_memory_committed_size_bytes");
        output.WriteLine($"silo-1 GC committed memory: {committedPressed / 1048576.0:0} MiB under pressure, {committedAfter / 1048576.0:0} MiB after disable");
        output.WriteLine($"gen2 collections in {pressed.Window.TotalSeconds:0.0} s, silo-1 / silo-2: pressure {pressed.Silo1} / {pressed.Silo2}, " +
                         $"pooled {cured.Silo1} / {cured.Silo2}; silo-1 heap {heapBefore / 1048576.0:0} -> {pressed.Heap1 / 1048576.0:0} -> {cured.Heap1 / 1048576.0:0} MiB");

        // Under pressure the targeted silo collects gen2 far more often than the other silo over the same window; pooled, the
        // same work collects far less (compared within this run, window against window of the same length).
        Assert.True(pressed.Silo1 >= pressed.Silo2 + 5, $"silo-1 ran {pressed.Silo1} gen2 collections under pressure, silo-2 {pressed.Silo2}");
        Assert.True(pressed.Silo1 >= 3 * Math.Max(1, pressed.Silo2), $"silo-2 collected as often ({pressed.Silo2}) as the targeted silo-1 ({pressed.Silo1})");
        Assert.True(cured.Silo1 < pressed.Silo1 / 2, $"silo-1 still ran {cured.Silo1} gen2 collections with pooled buffers, {pressed.Silo1} without");
        // No leak: what the worker allocated is garbage at once, so the heap does not grow by anything like a second's worth.
        Assert.True(pressed.Heap1 < heapBefore + Rate, $"silo-1's heap grew from {heapBefore} to {pressed.Heap1} bytes");
        // Given back: the collector's committed memory after disable is no more than under pressure (a compacting collection ran).
        Assert.True(committedAfter <= committedPressed, $"silo-1 kept {committedAfter} bytes committed after disable, {committedPressed} under pressure");
    }

    /// <summary>
    /// Gen2 collections of both silos over a window of <paramref name="window"/>, or, with <paramref name="until"/>, from then on
    /// until silo-1 has run that many (at most <see cref="MaxWindow"/>); and silo-1's heap at the end.
    /// </summary>
    private async Task<(double Silo1, double Silo2, double Heap1, TimeSpan Window)> Gen2OverAsync(TimeSpan window, int? until = null)
    {
        async Task<(double, double)> ReadAsync()
        {
            var one = await fixture.ScrapeAsync("silo-1");
            var two = await fixture.ScrapeAsync("silo-2");
            return (one.Sum("dotnet_gc_collections_total", ("gc_heap_generation", "gen2")), two.Sum("dotnet_gc_collections_total", ("gc_heap_generation", "gen2")));
        }

        var (start1, start2) = await ReadAsync();
        var clock = Stopwatch.StartNew();
        await Task.Delay(window);
        var (end1, end2) = await ReadAsync();
        while (until is { } count && end1 - start1 < count && clock.Elapsed < MaxWindow)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500)); // past the scrape cache
            (end1, end2) = await ReadAsync();
        }

        var elapsed = clock.Elapsed;
        var heap = (await fixture.ScrapeAsync("silo-1")).Sum("dotnet_gc_last_collection_heap_size_bytes");
        return (end1 - start1, end2 - start2, heap, elapsed);
    }
}

/// <summary>
/// disk-io-saturation on the real lab: silo-1's writer writes and fsyncs continuously into a file that never outgrows its size
/// while the database's writes share the disk, and after reset the writer is stopped and its file is gone.
/// </summary>
[ScenarioTest(DiskIoSaturationScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class DiskIoSaturationTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const long FileSize = 32L << 20;

    [Fact]
    public async Task Disk_io_saturation_writes_and_syncs_within_its_file_and_deletes_it_at_reset()
    {
        await fixture.ResetEverywhereAsync();
        var writtenBefore = await fixture.SiloSumAsync("lab_scenario_disk_io_written_bytes_total");
        await fixture.EnableEverywhereAsync(DiskIoSaturationScenario.Name,
            $$"""{"parameters":{"block":"1MB","file-size":"{{FileSize >> 20}}MB","duration":"60s"},"target":{"service":"silo-1"},"ttl":"2m"}""");
        var file = Path.Combine(fixture.Lab.DataDirectory, "scenarios", "disk-io-silo-1.bin");
        await Eventually.GetAsync(() => Task.FromResult(File.Exists(file)), exists => exists, TimeSpan.FromSeconds(5), "the writer's file exists");

        // Checkouts write to the same disk meanwhile, until the writer has written its file over at least once (bounded).
        var checkouts = new List<HttpStatusCode>();
        var written = await Eventually.GetAsync(async () =>
        {
            var customer = 240 + checkouts.Count % 10;
            checkouts.Add((await fixture.CheckoutAsync(customer, [$"SKU-{customer - 100:00000}"])).Status);
            return await fixture.SiloSumAsync("lab_scenario_disk_io_written_bytes_total") - writtenBefore;
        }, bytes => bytes >= 2 * FileSize, TimeSpan.FromSeconds(30), "the writer writes its file over");
        var size = new FileInfo(file).Length;

        await fixture.ResetEverywhereAsync();
        output.WriteLine($"writer: {written / 1048576.0:0} MiB written and synced meanwhile, file {size / 1048576.0:0.#} MiB; checkouts meanwhile: " +
                         string.Join(", ", checkouts.GroupBy(s => (int)s).Select(g => $"{g.Count()}x{g.Key}")));

        Assert.InRange(size, 1, FileSize); // the disk use is bounded by file-size, whatever was written
        Assert.All(checkouts, status => Assert.Equal(HttpStatusCode.Created, status)); // slower, not failing
        Assert.False(File.Exists(file), "the writer's file is still there after reset");
    }
}

/// <summary>The storefront's answers go out at 16 KB/s: a large page takes about its size over the rate, a small one stays fast.</summary>
[ScenarioTest(BandwidthLimitScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class BandwidthLimitTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const long Rate = 16 * 1024;

    [Fact]
    public async Task Bandwidth_limit_slows_responses_in_proportion_to_their_size()
    {
        await fixture.ResetEverywhereAsync();
        await fixture.EnableEverywhereAsync(BandwidthLimitScenario.Name,
            $$"""{"parameters":{"rate":"{{Rate}}B"},"target":{"service":"storefront","route":"/api/catalog/search"},"ttl":"1m"}""");
        var large = await TimedGetAsync("/api/catalog/search?q=a&pageSize=100");
        var small = await TimedGetAsync("/api/catalog/search?q=a&pageSize=1");
        await fixture.DisableEverywhereAsync(BandwidthLimitScenario.Name);
        var unthrottled = await TimedGetAsync("/api/catalog/search?q=a&pageSize=100");
        output.WriteLine($"throttled: {large.Bytes} B in {large.Ms:0} ms, {small.Bytes} B in {small.Ms:0} ms; after disable {unthrottled.Bytes} B in {unthrottled.Ms:0} ms");

        // The large page takes at least (half) its size over the rate; the small one a fraction of that; after disable the
        // large one no longer waits for the rate.
        var expectedMs = 1000.0 * large.Bytes / Rate;
        Assert.True(large.Bytes >= 4 * 1024, $"the large page is only {large.Bytes} bytes");
        Assert.True(large.Ms >= expectedMs / 2, $"{large.Bytes} bytes at {Rate} B/s took {large.Ms:0} ms");
        Assert.True(small.Ms < large.Ms / 4, "a page of one product was as slow as a page of a hundred");
        Assert.True(unthrottled.Ms < expectedMs / 2, $"after disable the large page still took {unthrottled.Ms:0} ms");
    }

    private async Task<(long Bytes, double Ms)> TimedGetAsync(string path)
    {
        var clock = Stopwatch.StartNew();
        var body = await fixture.Storefront.GetByteArrayAsync(path);
        return (body.Length, clock.Elapsed.TotalMilliseconds);
    }
}

/// <summary>
/// activation-churn on the real lab: a collector running every half second with a half-second age, so products read 1.5 s
/// apart are activated and loaded from the database again for most reads; without it they load once. Each read's loads are
/// counted on its own spans.
/// </summary>
[ScenarioTest(ActivationChurnScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class ActivationChurnTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Gap = TimeSpan.FromSeconds(1.5);

    [Fact]
    public async Task Activation_churn_reloads_grains_between_reads()
    {
        await fixture.ResetEverywhereAsync();
        var skus = Enumerable.Range(60, 10).Select(i => $"SKU-{i:00000}").ToList();
        var idleReads = await ReadRoundsAsync(skus, rounds: 2);
        var createdBefore = await fixture.SiloSumAsync("orleans_catalog_activation_created_total", ("grain_type", "product"));

        await fixture.EnableEverywhereAsync(ActivationChurnScenario.Name,
            """{"parameters":{"collection-age":"500ms","interval":"500ms"},"target":{"service":"silo"},"ttl":"1m"}""");
        var churnReads = await ReadRoundsAsync(skus, rounds: 3);
        await Task.Delay(400); // past the scrape cache
        var created = await fixture.SiloSumAsync("orleans_catalog_activation_created_total", ("grain_type", "product")) - createdBefore;
        await fixture.DisableEverywhereAsync(ActivationChurnScenario.Name);
        var afterReads = await ReadRoundsAsync(skus, rounds: 2);
        var counted = await Task.WhenAll(LoadsAsync(idleReads), LoadsAsync(churnReads), LoadsAsync(afterReads));
        var (idle, churn, after) = (counted[0], counted[1], counted[2]);
        output.WriteLine($"product loads per read: idle {idle.Loads}/{idle.Reads}, churn {churn.Loads}/{churn.Reads} ({created} product activations), " +
                         $"after {after.Loads}/{after.Reads}");

        // Churning: the reads after the first round find their grain collected and load it again (half of them at least, as
        // the collector's age and period allow); the activations count it too.
        var rereads = churn.Reads - skus.Count;
        Assert.True(churn.Loads >= rereads / 2, $"only {churn.Loads} loads for {churn.Reads} reads under churn");
        Assert.True(created >= rereads / 2, $"only {created} product activations for {churn.Reads} reads under churn");
        // Without it a product loads at most once for all its reads.
        Assert.True(idle.Loads <= skus.Count, $"{idle.Loads} loads for {idle.Reads} reads without churn");
        Assert.True(after.Loads <= skus.Count, $"{after.Loads} loads for {after.Reads} reads after disable");
    }

    /// <summary>Reads every SKU <paramref name="rounds"/> times, <see cref="Gap"/> apart, in one trace.</summary>
    private async Task<(TestTrace Trace, int Reads)> ReadRoundsAsync(IReadOnlyList<string> skus, int rounds)
    {
        var trace = new TestTrace();
        for (var round = 0; round < rounds; round++)
        {
            if (round > 0)
            {
                await Task.Delay(Gap);
            }

            foreach (var sku in skus)
            {
                var (status, _, _) = await fixture.GetAsync($"/api/products/{sku}", trace);
                Assert.Equal(HttpStatusCode.OK, status);
            }
        }

        return (trace, rounds * skus.Count);
    }

    /// <summary>
    /// The product loads below the reads of one trace, once the silos' span of every read's grain call is in: a load ends
    /// inside its grain call, so a silo exports it before (or with) that call's span, and the trace is whole for the count.
    /// </summary>
    private async Task<(int Loads, int Reads)> LoadsAsync((TestTrace Trace, int Reads) reads)
    {
        var spans = await fixture.SettledTraceAsync(reads.Trace, found =>
            found.Count(s => s.Service == "lab-storefront" && s.Kind == ViewerSpan.ServerKind) >= reads.Reads
            && found.Count(s => s.Service == "lab-silo" && s.Kind == ViewerSpan.ServerKind && s.Name.EndsWith("IProductGrain/GetAsync", StringComparison.Ordinal)) >= reads.Reads);
        return (spans.Count(span => span.Attribute("lab.db.operation") == Lab.Shop.ShopOperations.CatalogGetProduct), reads.Reads);
    }
}
