using System.Diagnostics;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// slow-db-query on the shop cluster: the targeted statement's db spans hold the delay and name the scenario, the grain call
/// above them is slower by it, and statements outside the target are not touched. Each call runs in a trace of its own, so
/// the spans counted are the ones it caused.
/// </summary>
[ScenarioTest(SlowDbQueryScenario.Name)]
[Collection(ShopClusterCollection.Name)]
public sealed class SlowDbQueryTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(300);
    private const int Samples = 3;

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task The_targeted_statement_and_its_callers_slow_down_by_the_delay_others_do_not_and_recover()
    {
        using var telemetry = new TelemetryCapture();
        await CallsAsync(Search, telemetry); // warm: grains active, statements prepared
        await CallsAsync(History, telemetry);
        var searchBefore = await CallsAsync(Search, telemetry);

        await _scenarios.EnableAsync(SlowDbQueryScenario.Name,
            new Dictionary<string, string> { ["delay"] = $"{Delay.TotalMilliseconds}ms" },
            new Dictionary<string, string> { ["repositoryOperation"] = "catalog.search" });
        var searchOn = await CallsAsync(Search, telemetry);
        var historyOn = await CallsAsync(History, telemetry);

        await _scenarios.ResetAsync();
        var searchAfter = await CallsAsync(Search, telemetry);

        output.WriteLine($"search median: before {Ms(searchBefore.Median)} ms, on {Ms(searchOn.Median)} ms, after {Ms(searchAfter.Median)} ms; " +
                         $"its db span on: min {Ms(searchOn.Spans("catalog.search").Min(s => s.Duration))} ms");

        // The db span of the targeted statement holds the delay and names the scenario; every one of them.
        var slowSpans = searchOn.Spans("catalog.search");
        Assert.Equal(Samples, slowSpans.Count);
        Assert.All(slowSpans, span =>
        {
            Assert.Equal(SlowDbQueryScenario.Name, span.GetTagItem("lab.scenario"));
            Assert.True(span.Duration >= Delay / 2, $"span {Ms(span.Duration)} ms for a {Ms(Delay)} ms delay");
            Assert.Contains("FROM products", (string)span.GetTagItem("db.query.text")!);
        });

        // Its caller carries the delay: every search that ran the slow statement took at least half the delay.
        Assert.All(searchOn.Items, call => Assert.True(call.Elapsed >= Delay / 2, $"a search answered in {Ms(call.Elapsed)} ms"));

        // Outside the target nothing is delayed or tagged, and after reset the search's statement is not either.
        Assert.All(historyOn.Spans("customer.order-history"), span => Assert.Null(span.GetTagItem("lab.scenario")));
        Assert.NotEmpty(historyOn.Spans("customer.order-history"));
        Assert.All(searchAfter.Spans("catalog.search"), span => Assert.Null(span.GetTagItem("lab.scenario")));
    }

    [Fact]
    public async Task A_statement_text_selects_the_statement_without_a_target()
    {
        using var telemetry = new TelemetryCapture();
        await _scenarios.EnableAsync(SlowDbQueryScenario.Name,
            new Dictionary<string, string> { ["delay"] = $"{Delay.TotalMilliseconds}ms", ["statement"] = "ORDER BY popularity_rank" });

        var search = await CallsAsync(Search, telemetry);
        var history = await CallsAsync(History, telemetry);

        output.WriteLine($"search median {Ms(search.Median)} ms, history median {Ms(history.Median)} ms");
        Assert.All(search.Spans("catalog.search"), span =>
        {
            Assert.Equal(SlowDbQueryScenario.Name, span.GetTagItem("lab.scenario"));
            Assert.True(span.Duration >= Delay / 2, $"search span {Ms(span.Duration)} ms for a {Ms(Delay)} ms delay");
        });
        Assert.Equal(Samples, search.Spans("catalog.search").Count);
        // Other statements are not delayed: no history span carries the scenario.
        Assert.NotEmpty(history.Spans("customer.order-history"));
        Assert.All(history.Spans("customer.order-history"), span => Assert.Null(span.GetTagItem("lab.scenario")));
    }

    private Task Search() => fixture.Client.GetGrain<ICatalogGrain>(0).SearchAsync(new CatalogQuery("lamp", null, 1, 10));

    private Task History() => fixture.Client.GetGrain<ICustomerGrain>(2).GetOrderHistoryAsync(5);

    /// <summary><see cref="Samples"/> calls one after another, each in a trace of its own.</summary>
    private static async Task<Calls> CallsAsync(Func<Task> call, TelemetryCapture telemetry)
    {
        var calls = new List<TracedCall>();
        for (var i = 0; i < Samples; i++)
        {
            using var trace = TelemetryCapture.Trace("slow-db-query test call");
            var clock = Stopwatch.StartNew();
            await call();
            calls.Add(new TracedCall(clock.Elapsed, trace.TraceId, telemetry));
        }

        return new Calls(calls);
    }

    private sealed record TracedCall(TimeSpan Elapsed, ActivityTraceId TraceId, TelemetryCapture Telemetry)
    {
        public IReadOnlyList<Activity> Spans(string operation) =>
            [.. Telemetry.InTrace(TraceId).Where(span => (span.GetTagItem("lab.db.operation") as string) == operation)];
    }

    private sealed record Calls(IReadOnlyList<TracedCall> Items)
    {
        public TimeSpan Median => Items.Select(c => c.Elapsed).Order().ElementAt(Items.Count / 2);

        public IReadOnlyList<Activity> Spans(string operation) => [.. Items.SelectMany(c => c.Spans(operation))];
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
}
