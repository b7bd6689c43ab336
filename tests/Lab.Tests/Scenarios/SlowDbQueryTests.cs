using System.Diagnostics;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

[Collection(ShopClusterCollection.Name)]
public sealed class SlowDbQueryTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(300);
    private const int Samples = 5;

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task The_targeted_statement_and_its_callers_slow_down_by_the_delay_others_do_not_and_recover()
    {
        using var telemetry = new TelemetryCapture();
        await MedianAsync(Search);
        await MedianAsync(History);
        var searchBefore = await MedianAsync(Search);
        var historyBefore = await MedianAsync(History);

        await _scenarios.EnableAsync(SlowDbQueryScenario.Name,
            new Dictionary<string, string> { ["delay"] = "300ms" },
            new Dictionary<string, string> { ["repositoryOperation"] = "catalog.search" });
        telemetry.Clear();
        var searchOn = await MedianAsync(Search);
        var historyOn = await MedianAsync(History);
        var searchSpans = telemetry.DbSpans("catalog.search");
        var historySpans = telemetry.DbSpans("customer.order-history");

        await _scenarios.ResetAsync();
        var searchAfter = await MedianAsync(Search);

        output.WriteLine($"search median: before {Ms(searchBefore)} ms, on {Ms(searchOn)} ms, after {Ms(searchAfter)} ms");
        output.WriteLine($"history median: before {Ms(historyBefore)} ms, on {Ms(historyOn)} ms");
        output.WriteLine($"catalog.search db spans on: {searchSpans.Count}, min {searchSpans.Min(s => s.Duration.TotalMilliseconds):0.0} ms");

        // The grain call above the statement grows by about the delay; an operation the target excludes does not.
        Assert.InRange(searchOn - searchBefore, Delay * 0.9, Delay * 2);
        Assert.True(historyOn - historyBefore < Delay / 3, $"history grew by {Ms(historyOn - historyBefore)} ms");

        // The db span of that statement holds the delay and names the scenario; other db spans do not.
        Assert.Equal(Samples, searchSpans.Count);
        Assert.All(searchSpans, span =>
        {
            Assert.Equal(SlowDbQueryScenario.Name, span.GetTagItem("lab.scenario"));
            Assert.True(span.Duration >= Delay * 0.95, $"span {span.Duration.TotalMilliseconds} ms");
            Assert.Contains("FROM products", (string)span.GetTagItem("db.query.text")!);
        });
        Assert.NotEmpty(historySpans);
        Assert.All(historySpans, span => Assert.Null(span.GetTagItem("lab.scenario")));

        Assert.True(searchAfter - searchBefore < Delay / 3, $"search still {Ms(searchAfter - searchBefore)} ms slower after disable");
    }

    [Fact]
    public async Task A_statement_text_selects_the_statement_without_a_target()
    {
        using var telemetry = new TelemetryCapture();
        await _scenarios.EnableAsync(SlowDbQueryScenario.Name,
            new Dictionary<string, string> { ["delay"] = "200ms", ["statement"] = "ORDER BY popularity_rank" });

        var search = await TimeAsync(Search);
        var history = await TimeAsync(History);

        output.WriteLine($"search {Ms(search)} ms, history {Ms(history)} ms");
        Assert.True(search >= TimeSpan.FromMilliseconds(190), $"search {Ms(search)} ms");
        Assert.True(history < search, $"history {Ms(history)} ms, search {Ms(search)} ms");
        Assert.All(telemetry.DbSpans("catalog.search"), span => Assert.Equal(SlowDbQueryScenario.Name, span.GetTagItem("lab.scenario")));
        // Other statements are not delayed: no history span carries the scenario (their time alone would flake under load).
        Assert.NotEmpty(telemetry.DbSpans("customer.order-history"));
        Assert.All(telemetry.DbSpans("customer.order-history"), span => Assert.Null(span.GetTagItem("lab.scenario")));
    }

    private Task Search() => fixture.Client.GetGrain<ICatalogGrain>(0).SearchAsync(new CatalogQuery("lamp", null, 1, 10));

    private Task History() => fixture.Client.GetGrain<ICustomerGrain>(2).GetOrderHistoryAsync(5);

    private static async Task<TimeSpan> MedianAsync(Func<Task> call)
    {
        var times = new List<TimeSpan>();
        for (var i = 0; i < Samples; i++)
        {
            times.Add(await TimeAsync(call));
        }

        times.Sort();
        return times[Samples / 2];
    }

    private static async Task<TimeSpan> TimeAsync(Func<Task> call)
    {
        var clock = Stopwatch.StartNew();
        await call();
        return clock.Elapsed;
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
}
