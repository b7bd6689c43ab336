using System.Diagnostics;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// algorithmic-degradation on a cluster of 3,000 products: catalog search ranks its matches itself with a quadratic
/// insertion, so its work (the comparisons its span counts) grows with the square of the matches; off, the database ranks.
/// </summary>
[ScenarioTest(AlgorithmicDegradationScenario.Name)]
[Collection(LargeCatalogCollection.Name)]
public sealed class AlgorithmicDegradationTests(LargeCatalogClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Samples = 5;

    // Same page size, different match counts: one noun (~1/14 of the catalog) against the whole catalog.
    private static readonly CatalogQuery Narrow = new("lamp", null, 1, 20);
    private static readonly CatalogQuery Broad = new(null, null, 1, 20);

    private readonly ScenarioSwitch _scenarios = new(fixture.Shop.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task Search_work_grows_with_the_square_of_the_match_count_when_on_and_the_database_ranks_when_off()
    {
        using var telemetry = new TelemetryCapture();
        await SearchesAsync(Narrow, telemetry);
        await SearchesAsync(Broad, telemetry);
        var offNarrow = await SearchesAsync(Narrow, telemetry);
        var offBroad = await SearchesAsync(Broad, telemetry);

        await _scenarios.EnableAsync(AlgorithmicDegradationScenario.Name);
        await SearchesAsync(Narrow, telemetry); // warm the quadratic path (JIT)
        var onNarrow = await SearchesAsync(Narrow, telemetry);
        var onBroad = await SearchesAsync(Broad, telemetry);

        await _scenarios.ResetAsync();
        var afterBroad = await SearchesAsync(Broad, telemetry);

        var nNarrow = offNarrow.Page.Total;
        var nBroad = offBroad.Page.Total;
        var cNarrow = onNarrow.Comparisons.Distinct().Single();
        var cBroad = onBroad.Comparisons.Distinct().Single();
        output.WriteLine($"matches: narrow {nNarrow}, broad {nBroad} (x{(double)nBroad / nNarrow:0.0})");
        output.WriteLine($"off: narrow {Ms(offNarrow.MedianMs)} ms, broad {Ms(offBroad.MedianMs)} ms (x{offBroad.MedianMs / offNarrow.MedianMs:0.0})");
        output.WriteLine($"on:  narrow {Ms(onNarrow.MedianMs)} ms, broad {Ms(onBroad.MedianMs)} ms (x{onBroad.MedianMs / onNarrow.MedianMs:0.0})");
        output.WriteLine($"comparisons: narrow {cNarrow}, broad {cBroad} (x{(double)cBroad / cNarrow:0.0}); after disable broad {Ms(afterBroad.MedianMs)} ms");

        var sizeRatio = (double)nBroad / nNarrow;
        Assert.True(sizeRatio >= 8, $"the two searches differ only x{sizeRatio:0.0} in matches");

        // Same answers: the quadratic path is slow, not wrong.
        Assert.Equal(offNarrow.Page, onNarrow.Page, PageComparer.Instance);
        Assert.Equal(offBroad.Page, onBroad.Page, PageComparer.Instance);

        // On: every search ranks its matches itself, and the work (counted comparisons) grows with the square of their number.
        // (Latency follows the work; how much depends on the machine, so it is reported above and measured by the experiment.)
        Assert.Equal(Samples, onNarrow.Comparisons.Count);
        Assert.Equal(Samples, onBroad.Comparisons.Count);
        Assert.Equal([nNarrow], onNarrow.Candidates.Distinct());
        Assert.True(cBroad >= cNarrow * sizeRatio * sizeRatio * 0.5, "comparisons do not grow quadratically");

        // Off (before and after): the database ranks and pages; nothing is ranked in the grain.
        Assert.Empty(offNarrow.Comparisons);
        Assert.Empty(offBroad.Comparisons);
        Assert.Empty(afterBroad.Comparisons);
    }

    /// <summary><see cref="Samples"/> searches, each in its own trace: the median latency, the page, and the grain's ranking work.</summary>
    private async Task<Searches> SearchesAsync(CatalogQuery query, TelemetryCapture telemetry)
    {
        var catalog = fixture.Shop.Client.GetGrain<ICatalogGrain>(0);
        var times = new List<double>();
        var ranks = new List<Activity>();
        CatalogPage page = null!;
        for (var i = 0; i < Samples; i++)
        {
            using var trace = TelemetryCapture.Trace("catalog search");
            var clock = Stopwatch.StartNew();
            page = await catalog.SearchAsync(query);
            times.Add(clock.Elapsed.TotalMilliseconds);
            ranks.AddRange(telemetry.InTrace(trace.TraceId).Where(s => s.OperationName == "catalog.rank"));
        }

        times.Sort();
        return new Searches(times[Samples / 2], page,
            [.. ranks.Select(s => (long)s.GetTagItem("lab.catalog.comparisons")!)], [.. ranks.Select(s => (int)s.GetTagItem("lab.catalog.candidates")!)]);
    }

    private sealed record Searches(double MedianMs, CatalogPage Page, IReadOnlyList<long> Comparisons, IReadOnlyList<int> Candidates);

    private static string Ms(double ms) => ms.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);

    private sealed class PageComparer : IEqualityComparer<CatalogPage>
    {
        public static readonly PageComparer Instance = new();

        public bool Equals(CatalogPage? x, CatalogPage? y) =>
            x is not null && y is not null && x.Total == y.Total && x.Page == y.Page && x.Items.SequenceEqual(y.Items);

        public int GetHashCode(CatalogPage obj) => obj.Total;
    }
}
