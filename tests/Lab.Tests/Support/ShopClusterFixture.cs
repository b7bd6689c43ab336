using Lab.Contracts;
using Lab.Data;
using Lab.Grains;
using Lab.Scenarios.Catalog;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace Lab.Tests.Support;

/// <summary>
/// A 2-silo in-process Orleans cluster hosting the real grains over a small seeded database (SQLite, or a fresh
/// PostgreSQL database with LAB_TEST_DATABASE=postgres),
/// with the real payments endpoints on loopback. Timeouts are shrunk so failures show in seconds.
/// </summary>
public sealed class ShopClusterFixture : IAsyncLifetime
{
    public const int SeededStock = 50;
    // Long enough that a checkout on a loaded machine never outlives its reservations; the expiry test waits it out.
    public static readonly TimeSpan ReservationTtl = TimeSpan.FromSeconds(10);
    // Longer than any delay a test puts on the order stream (event-ordering-violation holds one back 1.5 s).
    public static readonly TimeSpan ProjectionGapTimeout = TimeSpan.FromSeconds(4);
    // Shrunk from Orleans' 30 s, so a stalled call fails in seconds.
    public static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(5);

    private readonly TempDirectory _directory = new("lab-cluster");
    private readonly int _products;
    private readonly IReadOnlyDictionary<string, string?> _overrides = new Dictionary<string, string?>();

    public ShopClusterFixture()
        : this(products: 40)
    {
    }

    /// <summary>A cluster over a catalog of <paramref name="products"/> products (searches that match thousands of rows).</summary>
    internal ShopClusterFixture(int products) => _products = products;

    /// <summary>A cluster with some settings changed (e.g. a shorter SQLite busy timeout).</summary>
    internal ShopClusterFixture(int products, IReadOnlyDictionary<string, string?> overrides)
        : this(products) => _overrides = overrides;

    public InProcessTestCluster Cluster { get; private set; } = null!;
    public TestPaymentsServer Payments { get; private set; } = null!;
    public IClusterClient Client => Cluster.Client;
    public IConfiguration Configuration { get; private set; } = null!;
    public TestDatabase ShopDatabase { get; private set; } = null!;
    public TestDatabase PaymentsDatabase { get; private set; } = null!;

    /// <summary>The silos' log entries, for a test that needs to know which entity a measurement was about.</summary>
    public LogCapture Logs { get; } = new();

    public async Task InitializeAsync()
    {
        ShopDatabase = await TestDatabase.CreateAsync(_directory, "shop");
        PaymentsDatabase = await TestDatabase.CreateAsync(_directory, "payments");
        Payments = await TestPaymentsServer.StartAsync(PaymentsDatabase);
        Configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>(ShopDatabase.Settings())
        {
            ["Seed:Products"] = _products.ToString(),
            ["Seed:Customers"] = "30",
            ["Seed:HistoricalOrders"] = "300",
            ["Seed:MinStock"] = SeededStock.ToString(),
            ["Seed:MaxStock"] = SeededStock.ToString(),
            ["Shop:ReservationTtl"] = ReservationTtl.ToString(),
            ["Shop:ReservationSweepInterval"] = "00:00:00.500",
            ["Shop:ProductCacheTtl"] = "00:00:05",
            ["Shop:ProjectionGapTimeout"] = ProjectionGapTimeout.ToString(),
            ["Payments:BaseUrl"] = Payments.BaseUrl,
            ["Payments:ApiKey"] = TestPaymentsServer.ShopKey,
            ["Payments:Timeout"] = "00:00:05",
        }).AddInMemoryCollection(_overrides).Build();

        await CreateDatabaseAsync(Configuration);
        var builder = new InProcessTestClusterBuilder(2);
        var configuration = Configuration;
        var logs = Logs;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddLogging(logging => logging.AddProvider(logs));
            silo.AddShop(configuration);
            silo.Services.AddLabScenarioCatalog();
            silo.Configure<SiloMessagingOptions>(options => options.ResponseTimeout = ResponseTimeout);
        });
        builder.ConfigureClient(client =>
        {
            // A test's own calls carry its trace into the silos, so what they cause is told apart from background work.
            client.AddActivityPropagation();
            client.Configure<ClientMessagingOptions>(options => options.ResponseTimeout = ResponseTimeout);
            // Tests publish order events themselves, to deliver them as a broken stream would.
            client.AddMemoryStreams(OrderStreams.Provider);
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    /// <summary>Opens a connection straight to the shop database, to check what the grains wrote.</summary>
    public System.Data.Common.DbConnection OpenShopDatabase() => ShopDatabase.Open();

    private static async Task CreateDatabaseAsync(IConfiguration configuration)
    {
        var services = new ServiceCollection().AddLogging().AddShopData(configuration).BuildServiceProvider();
        await using (services)
        {
            await services.GetRequiredService<ShopDatabase>().InitializeAsync();
        }
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        await Payments.DisposeAsync();
        await ShopDatabase.DisposeAsync();
        await PaymentsDatabase.DisposeAsync();
        _directory.Dispose();
    }
}

/// <summary>The same cluster over a catalog of 3,000 products.</summary>
public sealed class LargeCatalogClusterFixture : IAsyncLifetime
{
    public const int Products = 3_000;

    public ShopClusterFixture Shop { get; } = new(Products);

    public Task InitializeAsync() => Shop.InitializeAsync();

    public Task DisposeAsync() => Shop.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class LargeCatalogCollection : ICollectionFixture<LargeCatalogClusterFixture>
{
    public const string Name = "large catalog cluster";
}

[CollectionDefinition(Name)]
public sealed class ShopClusterCollection : ICollectionFixture<ShopClusterFixture>
{
    public const string Name = "shop cluster";
}
