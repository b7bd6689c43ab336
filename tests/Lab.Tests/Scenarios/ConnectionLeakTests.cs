using System.Diagnostics;
using System.Globalization;
using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios.Shop;
using Lab.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// connection-leak on a cluster whose repository pools are small: each order-history read keeps its connection until a
/// silo's pool is empty, then that silo's calls time out waiting for one; the cure (and reset) close the kept connections.
/// </summary>
[ScenarioTest(ConnectionLeakScenario.Name)]
[Collection(SmallPoolClusterCollection.Name)]
public sealed class ConnectionLeakTests(SmallPoolClusterFixture cluster, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Customers = 30;
    private const int MaxCalls = 60;
    // Each failed read waits the pool's whole wait timeout: a few in a row show the pool stays empty.
    private const int FailuresInARow = 3;

    private readonly ScenarioSwitch _scenarios = new(cluster.Shop.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task Reads_keep_connections_until_the_pool_is_empty_then_time_out_and_the_cure_gives_them_back()
    {
        using var telemetry = new TelemetryCapture();
        // Every read of the test in its trace: the connections kept are those its own reads kept.
        using var reads = TelemetryCapture.Trace("connection-leak reads");
        Assert.Equal(Customers, await ReadHistoriesAsync(Customers)); // healthy, and every customer grain active (its state loaded)
        Assert.Equal(0, Leaked(telemetry));

        await _scenarios.EnableAsync(ConnectionLeakScenario.Name);
        telemetry.Clear();
        var outcomes = new List<Exception?>();
        while (outcomes.Count < MaxCalls && !(outcomes.Count >= FailuresInARow && outcomes.TakeLast(FailuresInARow).All(o => o is not null)))
        {
            outcomes.Add(await TryReadHistoryAsync(outcomes.Count));
        }

        var leaked = Leaked(telemetry);
        var failures = outcomes.OfType<Exception>().ToList();
        output.WriteLine($"with the leak: {outcomes.Count(o => o is null)} reads answered, then {failures.Count} failed; {leaked} connections kept " +
                         $"(pool of {SmallPoolClusterFixture.MaxConnections} per silo); first failure: {failures.FirstOrDefault()?.GetType().Name}: {failures.FirstOrDefault()?.Message}");

        // Each silo's pool ran dry one kept connection at a time; then its reads waited for a slot and gave up.
        Assert.InRange(leaked, SmallPoolClusterFixture.MaxConnections, 2 * SmallPoolClusterFixture.MaxConnections);
        Assert.True(outcomes.TakeLast(FailuresInARow).All(o => o is not null), $"reads still answered after {outcomes.Count} calls");
        // A DbPoolTimeoutException, as the grain threw it (or inside Orleans' storage error, if a grain had to load its state).
        Assert.All(failures, ex => Assert.Contains("No database connection became free", ex.ToString()));

        // The cure gives back what was kept and keeps nothing more.
        await _scenarios.EnableAsync(ConnectionLeakScenario.Name, new Dictionary<string, string> { ["cure"] = "true" });
        telemetry.Clear();
        Assert.Equal(Customers, await ReadHistoriesAsync(Customers));
        Assert.Equal(0, Leaked(telemetry));

        // Off: the shop's own gives every connection back.
        await _scenarios.EnableAsync(ConnectionLeakScenario.Name);
        Assert.NotEmpty(await ReadUntilFailureAsync());
        await _scenarios.ResetAsync();
        telemetry.Clear();
        Assert.Equal(Customers, await ReadHistoriesAsync(Customers));
        Assert.Equal(0, Leaked(telemetry));
    }

    [Fact]
    public async Task An_operation_the_shop_does_not_have_is_refused()
    {
        var result = await _scenarios.TryEnableAsync(ConnectionLeakScenario.Name,
            parameters: new Dictionary<string, string> { ["operation"] = "orders.nope" });
        Assert.False(result.Succeeded);
        Assert.Contains("operation", result.Errors!.Keys);
    }

    private async Task<List<Exception?>> ReadUntilFailureAsync()
    {
        var outcomes = new List<Exception?>();
        while (outcomes.Count < MaxCalls && outcomes.LastOrDefault() is null)
        {
            outcomes.Add(await TryReadHistoryAsync(outcomes.Count));
        }

        Assert.NotNull(outcomes.Last());
        return outcomes;
    }

    private static int Leaked(TelemetryCapture telemetry) =>
        telemetry.InTrace(Activity.Current!.TraceId).Count(span =>
            (span.GetTagItem("lab.db.operation") as string) == ShopOperations.CustomerOrderHistory && span.GetTagItem(ConnectionLeakScenario.LeakedTag) is true);

    private async Task<int> ReadHistoriesAsync(int count)
    {
        var answered = 0;
        for (var i = 0; i < count; i++)
        {
            answered += await TryReadHistoryAsync(i) is null ? 1 : 0;
        }

        return answered;
    }

    private async Task<Exception?> TryReadHistoryAsync(int call)
    {
        try
        {
            await cluster.Shop.Client.GetGrain<ICustomerGrain>((call % Customers) + 1).GetOrderHistoryAsync(3);
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SmallPoolClusterCollection : ICollectionFixture<SmallPoolClusterFixture>
{
    public const string Name = "shop cluster with small repository pools";
}

/// <summary>The shop cluster with a few repository connections per silo and a short wait for one, so a pool runs dry in a few calls.</summary>
public sealed class SmallPoolClusterFixture : IAsyncLifetime
{
    public const int MaxConnections = 6;

    public ShopClusterFixture Shop { get; } = new(products: 40, new Dictionary<string, string?>
    {
        ["Database:MaxConnections"] = MaxConnections.ToString(CultureInfo.InvariantCulture),
        ["Database:ConnectionWaitTimeout"] = "00:00:00.500",
    });

    public Task InitializeAsync() => Shop.InitializeAsync();

    public Task DisposeAsync() => Shop.DisposeAsync();
}
