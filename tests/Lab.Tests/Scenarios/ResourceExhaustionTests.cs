using System.Diagnostics;
using System.Net;
using Lab.Scenarios;
using Lab.Scenarios.Catalog;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// The resource scenarios on the real lab: thread-pool-exhaustion, memory-pressure, disk-io-saturation, bandwidth-limit and
/// activation-churn each act on one process, show their signature in that process's own metrics or answers, stay within
/// their caps, and give everything back at reset.
/// </summary>
[Collection(ScenarioLabCollection.Name)]
public sealed class ResourceExhaustionTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const string ThreadCount = "dotnet_thread_pool_thread_count_total";

    /// <summary>
    /// Payments' thread pool starves: its /alive waits seconds behind the blockers (the storefront's answers at once), the
    /// pool injects threads, and after disable it answers at once again.
    /// </summary>
    [Fact]
    public async Task Thread_pool_exhaustion_starves_the_targeted_process_until_its_pool_grows_past_the_blockers()
    {
        await fixture.ResetEverywhereAsync();
        const int Blocked = 12;
        var threadsBefore = (await fixture.ScrapeAsync("payments")).Sum(ThreadCount);
        var baseline = await AliveLatenciesAsync("payments", 5);

        // Not waited for everywhere: the starved process answers its /lab/runtime as late as anything else.
        var (_, version) = await fixture.EnableAsync(ThreadPoolExhaustionScenario.Name,
            $$"""{"parameters":{"blocked":{{Blocked}},"hold":"3s","duration":"30s"},"target":{"service":"payments"},"ttl":"1m"}""");
        // This activation's own line (its set's version): an earlier test's line about the scenario must not count.
        await Eventually.GetAsync(() => Task.FromResult(fixture.Lab.Processes.Single(p => p.Name == "payments").Tail(200)),
            log => log.Contains($"Scenario {ThreadPoolExhaustionScenario.Name} enabled in payments (set v{version})", StringComparison.Ordinal),
            TimeSpan.FromSeconds(5), "payments applied the activation");
        // Both probed at once, so a busy machine slows both alike; the starved process waits for its pool to grow.
        var starved = AliveLatenciesAsync("payments", 3);
        var other = AliveLatenciesAsync("storefront", 3);
        var (starvedMs, otherMs) = (await starved, await other);
        var threadsDuring = await ScrapeSlowAsync("payments", ThreadCount);
        await fixture.WaitAppliedEverywhereAsync(version, TimeSpan.FromSeconds(30));

        await fixture.DisableEverywhereAsync(ThreadPoolExhaustionScenario.Name);
        var after = await AliveLatenciesAsync("payments", 5);
        output.WriteLine($"payments /alive max: baseline {baseline.Max():0} ms, starved {starvedMs.Max():0} ms (storefront meanwhile {otherMs.Max():0} ms), " +
                         $"after {after.Max():0} ms; pool threads {threadsBefore} -> {threadsDuring}");

        // The first probe queues behind the blockers until the pool has injected enough threads: seconds, not milliseconds.
        Assert.True(starvedMs.Max() >= 1000, $"payments answered /alive within {starvedMs.Max():0} ms while {Blocked} pool threads were blocked");
        Assert.True(starvedMs.Max() > 4 * otherMs.Max(), "the storefront starved as much as payments");
        // The pool injected threads while it starved. Not necessarily as many as are blocked: each blocker queues itself again
        // at the back after its hold, so queued work gets a thread in between and the pool stops growing where it keeps up.
        Assert.True(threadsDuring > threadsBefore, $"payments' pool did not grow ({threadsBefore} -> {threadsDuring} threads) while it starved");
        Assert.True(after.Max() < Math.Max(500, 4 * baseline.Max()), $"payments still answers slowly after disable: {after.Max():0} ms");
    }

    /// <summary>
    /// silo-1 allocates large short-lived buffers: its gen2 collections climb steeply (silo-2's do not) while its heap stays
    /// flat; with the cure (pooled buffers) they stay near the baseline; after disable nothing allocates.
    /// </summary>
    [Fact]
    public async Task Memory_pressure_drives_gen2_collections_in_the_targeted_silo_and_pooling_cures_it()
    {
        await fixture.ResetEverywhereAsync();
        var window = TimeSpan.FromSeconds(3);
        var idle = await Gen2OverAsync(window);

        await fixture.EnableEverywhereAsync(MemoryPressureScenario.Name,
            """{"parameters":{"rate":"256MB","buffer":"1MB","duration":"60s"},"target":{"service":"silo-1"},"ttl":"2m"}""");
        var pressed = await Gen2OverAsync(window);
        var committedPressed = (await fixture.ScrapeAsync("silo-1")).Sum("dotnet_gc_last_collection_memory_committed_size_bytes");
        await fixture.EnableEverywhereAsync(MemoryPressureScenario.Name,
            """{"parameters":{"rate":"256MB","buffer":"1MB","duration":"60s","cure":"true"},"target":{"service":"silo-1"},"ttl":"2m"}""");
        await Task.Delay(500); // the last unpooled buffers are collected
        var cured = await Gen2OverAsync(window);
        await fixture.DisableEverywhereAsync(MemoryPressureScenario.Name);
        await Task.Delay(400); // past the scrape cache
        var committedAfter = (await fixture.ScrapeAsync("silo-1")).Sum("dotnet_gc_last_collection_memory_committed_size_bytes");
        output.WriteLine($"silo-1 GC committed memory: {committedPressed / 1048576.0:0} MiB under pressure, {committedAfter / 1048576.0:0} MiB after disable");
        output.WriteLine($"gen2 collections in {window.TotalSeconds:0} s, silo-1 / silo-2: idle {idle.Silo1} / {idle.Silo2}, pressure {pressed.Silo1} / {pressed.Silo2}, " +
                         $"pooled {cured.Silo1} / {cured.Silo2}; silo-1 heap {idle.Heap1 / 1048576.0:0} -> {pressed.Heap1 / 1048576.0:0} -> {cured.Heap1 / 1048576.0:0} MiB");

        Assert.True(pressed.Silo1 >= idle.Silo1 + 5, $"silo-1 ran {pressed.Silo1} gen2 collections under pressure, {idle.Silo1} idle");
        Assert.True(pressed.Silo1 >= 3 * Math.Max(1, pressed.Silo2), $"silo-2 collected as often ({pressed.Silo2}) as the targeted silo-1 ({pressed.Silo1})");
        Assert.True(cured.Silo1 <= idle.Silo1 + 2, $"silo-1 still ran {cured.Silo1} gen2 collections with pooled buffers");
        // No leak: what the worker allocated is garbage at once, so the heap does not grow by anything like it.
        Assert.True(pressed.Heap1 < idle.Heap1 + (256L << 20), $"silo-1's heap grew from {idle.Heap1} to {pressed.Heap1} bytes");
        // Given back: the collector's committed memory after disable is no more than under pressure (a compacting collection ran).
        Assert.True(committedAfter <= committedPressed, $"silo-1 kept {committedAfter} bytes committed after disable, {committedPressed} under pressure");
    }

    /// <summary>
    /// silo-1's writer writes and fsyncs continuously into a file that never outgrows its size, the database's writes share
    /// the disk, and after reset the writer is stopped and its file is gone.
    /// </summary>
    [Fact]
    public async Task Disk_io_saturation_writes_and_syncs_within_its_file_and_deletes_it_at_reset()
    {
        await fixture.ResetEverywhereAsync();
        var before = await WriteLatencyAsync();
        for (var customer = 240; customer < 250; customer++)
        {
            await fixture.CheckoutAsync(customer, [$"SKU-{customer - 100:00000}"]);
        }

        var baseline = await WriteLatencyAsync() - before;
        await fixture.EnableEverywhereAsync(DiskIoSaturationScenario.Name,
            """{"parameters":{"block":"1MB","file-size":"32MB","duration":"60s"},"target":{"service":"silo-1"},"ttl":"2m"}""");
        var file = Path.Combine(fixture.Lab.DataDirectory, "scenarios", "disk-io-silo-1.bin");
        await Eventually.GetAsync(() => Task.FromResult(File.Exists(file)), exists => exists, TimeSpan.FromSeconds(5), "the writer's file exists");
        var writtenBefore = await fixture.SiloSumAsync("lab_scenario_disk_io_written_bytes_total");
        before = await WriteLatencyAsync();
        for (var customer = 240; customer < 250; customer++)
        {
            await fixture.CheckoutAsync(customer, [$"SKU-{customer - 100:00000}"]);
        }

        var saturated = await WriteLatencyAsync() - before;
        await Task.Delay(400); // past the scrape cache
        var written = await fixture.SiloSumAsync("lab_scenario_disk_io_written_bytes_total") - writtenBefore;
        var size = new FileInfo(file).Length;

        await fixture.ResetEverywhereAsync();
        output.WriteLine($"writer: {written / 1048576.0:0} MiB written and synced meanwhile, file {size / 1048576.0:0.#} MiB; shop db writes: mean " +
                         $"{baseline.MeanMs:0.00} ms over {baseline.Count} before, {saturated.MeanMs:0.00} ms over {saturated.Count} while the disk was busy");

        Assert.True(written >= 32L << 20, $"the writer wrote only {written} bytes while the checkouts ran");
        Assert.InRange(size, 1, 32L << 20); // the disk use is bounded by file-size, whatever was written
        Assert.False(File.Exists(file), "the writer's file is still there after reset");
        Assert.True(saturated.Count > 0 && baseline.Count > 0);
    }

    /// <summary>The storefront's answers go out at 16 KB/s: a large page takes about its size over the rate, a small one stays fast.</summary>
    [Fact]
    public async Task Bandwidth_limit_slows_responses_in_proportion_to_their_size()
    {
        await fixture.ResetEverywhereAsync();
        const long Rate = 16 * 1024;
        await fixture.EnableEverywhereAsync(BandwidthLimitScenario.Name,
            $$"""{"parameters":{"rate":"{{Rate}}B"},"target":{"service":"storefront","route":"/api/catalog/search"},"ttl":"1m"}""");
        var large = await TimedGetAsync("/api/catalog/search?q=a&pageSize=100");
        var small = await TimedGetAsync("/api/catalog/search?q=a&pageSize=1");
        var other = await TimedGetAsync("/api/products/SKU-00001");
        await fixture.DisableEverywhereAsync(BandwidthLimitScenario.Name);
        var unthrottled = await TimedGetAsync("/api/catalog/search?q=a&pageSize=100");
        output.WriteLine($"throttled: {large.Bytes} B in {large.Ms:0} ms, {small.Bytes} B in {small.Ms:0} ms; another route {other.Ms:0} ms; " +
                         $"after disable {unthrottled.Bytes} B in {unthrottled.Ms:0} ms");

        var expectedMs = 1000.0 * large.Bytes / Rate;
        Assert.True(large.Bytes >= 4 * 1024, $"the large page is only {large.Bytes} bytes");
        Assert.InRange(large.Ms, expectedMs * 0.8, expectedMs * 3 + 1000);
        Assert.True(small.Ms < large.Ms / 4, "a page of one product was as slow as a page of a hundred");
        Assert.True(unthrottled.Ms < expectedMs / 2, $"after disable the large page still took {unthrottled.Ms:0} ms");
    }

    /// <summary>
    /// A collector running every second with a one-second age: products read every two seconds are activated and loaded
    /// from the database again for most reads; without it, they load once.
    /// </summary>
    [Fact]
    public async Task Activation_churn_reloads_grains_between_reads()
    {
        await fixture.ResetEverywhereAsync();
        var skus = Enumerable.Range(60, 10).Select(i => $"SKU-{i:00000}").ToList();
        var (idleLoads, idleReads) = await ReadRoundsAsync(skus);
        var createdBefore = await fixture.SiloSumAsync("orleans_catalog_activation_created_total", ("grain_type", "product"));

        await fixture.EnableEverywhereAsync(ActivationChurnScenario.Name,
            """{"parameters":{"collection-age":"500ms","interval":"500ms"},"target":{"service":"silo"},"ttl":"1m"}""");
        var (churnLoads, churnReads) = await ReadRoundsAsync(skus);
        await Task.Delay(400); // past the scrape cache
        var created = await fixture.SiloSumAsync("orleans_catalog_activation_created_total", ("grain_type", "product")) - createdBefore;
        await fixture.DisableEverywhereAsync(ActivationChurnScenario.Name);
        var (afterLoads, afterReads) = await ReadRoundsAsync(skus);
        output.WriteLine($"product loads per read: idle {idleLoads}/{idleReads}, churn {churnLoads}/{churnReads} ({created} product activations), after {afterLoads}/{afterReads}");

        Assert.True(churnLoads >= churnReads / 2, $"only {churnLoads} loads for {churnReads} reads under churn");
        Assert.True(created >= churnReads / 2, $"only {created} product activations for {churnReads} reads under churn");
        Assert.True(idleLoads <= skus.Count, $"{idleLoads} loads for {idleReads} reads without churn");
        Assert.True(afterLoads <= skus.Count, $"{afterLoads} loads for {afterReads} reads after disable");
    }

    /// <summary>Reads every SKU four times, two seconds apart; returns the product loads the silos made meanwhile and the reads.</summary>
    private async Task<(double Loads, int Reads)> ReadRoundsAsync(IReadOnlyList<string> skus)
    {
        var before = await fixture.SiloSumAsync(LabMetricNames.DbCalls, ("db_operation", Lab.Shop.ShopOperations.CatalogGetProduct));
        const int Rounds = 4;
        for (var round = 0; round < Rounds; round++)
        {
            if (round > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(2));
            }

            foreach (var sku in skus)
            {
                using var response = await fixture.Storefront.GetAsync($"/api/products/{sku}");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }

        await Task.Delay(400); // past the scrape cache
        var after = await fixture.SiloSumAsync(LabMetricNames.DbCalls, ("db_operation", Lab.Shop.ShopOperations.CatalogGetProduct));
        return (after - before, Rounds * skus.Count);
    }

    /// <summary>A metric of a process that may answer slowly (its thread pool starved): no short timeout.</summary>
    private async Task<double> ScrapeSlowAsync(string service, string metric)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        return PrometheusSamples.Parse(await http.GetStringAsync($"{fixture.UrlOf(service)}/metrics")).Sum(metric);
    }

    private async Task<(long Bytes, double Ms)> TimedGetAsync(string path)
    {
        var clock = Stopwatch.StartNew();
        var body = await fixture.Storefront.GetByteArrayAsync(path);
        return (body.Length, clock.Elapsed.TotalMilliseconds);
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

    private async Task<(double Silo1, double Silo2, double Heap1)> Gen2OverAsync(TimeSpan window)
    {
        async Task<(double, double)> ReadAsync()
        {
            var one = await fixture.ScrapeAsync("silo-1");
            var two = await fixture.ScrapeAsync("silo-2");
            return (one.Sum("dotnet_gc_collections_total", ("gc_heap_generation", "gen2")), two.Sum("dotnet_gc_collections_total", ("gc_heap_generation", "gen2")));
        }

        var (start1, start2) = await ReadAsync();
        await Task.Delay(window);
        var (end1, end2) = await ReadAsync();
        var heap = (await fixture.ScrapeAsync("silo-1")).Sum("dotnet_gc_last_collection_heap_size_bytes");
        return (end1 - start1, end2 - start2, heap);
    }

    /// <summary>The shop's database writes of a checkout, summed over both silos: total seconds and count.</summary>
    private async Task<DbWrites> WriteLatencyAsync()
    {
        await Task.Delay(400); // past the scrape cache
        double seconds = 0, count = 0;
        foreach (var operation in (string[])[Lab.Shop.ShopOperations.InventoryReserve, Lab.Shop.ShopOperations.InventoryCommit,
                     Lab.Shop.ShopOperations.OrderInsert, Lab.Shop.ShopOperations.OrderUpdateStatus])
        {
            seconds += await fixture.SiloSumAsync("lab_db_call_duration_seconds_sum", ("db_operation", operation));
            count += await fixture.SiloSumAsync("lab_db_call_duration_seconds_count", ("db_operation", operation));
        }

        return new DbWrites(seconds, count);
    }

    private sealed record DbWrites(double Seconds, double Count)
    {
        public double MeanMs => Count > 0 ? 1000 * Seconds / Count : double.NaN;

        public static DbWrites operator -(DbWrites after, DbWrites before) => new(after.Seconds - before.Seconds, after.Count - before.Count);
    }
}
