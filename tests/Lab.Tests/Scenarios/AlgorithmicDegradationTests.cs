using System.Diagnostics;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

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
    public async Task Search_cost_grows_with_the_square_of_the_match_count_when_on_and_stays_flat_when_off()
    {
        using var telemetry = new TelemetryCapture();
        await MedianAsync(Narrow);
        await MedianAsync(Broad);
        var (offNarrow, offNarrowPage) = await MedianAsync(Narrow);
        var (offBroad, offBroadPage) = await MedianAsync(Broad);

        await _scenarios.EnableAsync(AlgorithmicDegradationScenario.Name);
        await MedianAsync(Narrow); // warm the quadratic path (JIT)
        telemetry.Clear();
        var (onNarrow, onNarrowPage) = await MedianAsync(Narrow);
        var (onBroad, onBroadPage) = await MedianAsync(Broad);
        var ranks = telemetry.Spans.Where(s => s.OperationName == "catalog.rank").ToList();

        await _scenarios.ResetAsync();
        var (afterBroad, _) = await MedianAsync(Broad);

        var nNarrow = offNarrowPage.Total;
        var nBroad = offBroadPage.Total;
        var comparisons = ranks.ToLookup(s => (int)s.GetTagItem("lab.catalog.candidates")!, s => (long)s.GetTagItem("lab.catalog.comparisons")!);
        var cNarrow = comparisons[nNarrow].First();
        var cBroad = comparisons[nBroad].First();
        output.WriteLine($"matches: narrow {nNarrow}, broad {nBroad} (x{(double)nBroad / nNarrow:0.0})");
        output.WriteLine($"off: narrow {Ms(offNarrow)} ms, broad {Ms(offBroad)} ms (x{offBroad / offNarrow:0.0})");
        output.WriteLine($"on:  narrow {Ms(onNarrow)} ms, broad {Ms(onBroad)} ms (x{onBroad / onNarrow:0.0})");
        output.WriteLine($"comparisons: narrow {cNarrow}, broad {cBroad} (x{(double)cBroad / cNarrow:0.0}); after disable broad {Ms(afterBroad)} ms");

        var sizeRatio = (double)nBroad / nNarrow;
        Assert.True(sizeRatio >= 8, $"the two searches differ only x{sizeRatio:0.0} in matches");

        // Same answers: the quadratic path is slow, not wrong.
        Assert.Equal(offNarrowPage, onNarrowPage, PageComparer.Instance);
        Assert.Equal(offBroadPage, onBroadPage, PageComparer.Instance);

        // On: work grows with the square of the match count, and latency super-linearly.
        Assert.True(cBroad >= cNarrow * sizeRatio * sizeRatio * 0.5, "comparisons do not grow quadratically");
        Assert.True(onBroad / onNarrow >= sizeRatio * 1.5, $"latency ratio x{onBroad / onNarrow:0.0} is not super-linear in x{sizeRatio:0.0} matches");
        Assert.Equal(2 * Samples, ranks.Count);

        // Off (before and after): the database ranks and pages; the broad search costs about as much as the narrow one.
        Assert.True(offBroad / offNarrow < sizeRatio / 2, $"off ratio x{offBroad / offNarrow:0.0}");
        Assert.True(afterBroad < onBroad / 3, $"broad search still {Ms(afterBroad)} ms after disable");
    }

    private async Task<(double Ms, CatalogPage Page)> MedianAsync(CatalogQuery query)
    {
        var catalog = fixture.Shop.Client.GetGrain<ICatalogGrain>(0);
        var times = new List<double>();
        CatalogPage page = null!;
        for (var i = 0; i < Samples; i++)
        {
            var clock = Stopwatch.StartNew();
            page = await catalog.SearchAsync(query);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        return (times[Samples / 2], page);
    }

    private static string Ms(double ms) => ms.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);

    private sealed class PageComparer : IEqualityComparer<CatalogPage>
    {
        public static readonly PageComparer Instance = new();

        public bool Equals(CatalogPage? x, CatalogPage? y) =>
            x is not null && y is not null && x.Total == y.Total && x.Page == y.Page && x.Items.SequenceEqual(y.Items);

        public int GetHashCode(CatalogPage obj) => obj.Total;
    }
}
