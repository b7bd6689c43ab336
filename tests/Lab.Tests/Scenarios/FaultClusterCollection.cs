using Lab.Tests.Support;

namespace Lab.Tests.Scenarios;

/// <summary>
/// A shop cluster of its own for scenarios that leave lasting damage on purpose (a wrong projection, an order
/// stuck after a deadlock), so the shared cluster's databases stay clean for <c>lab verify</c>.
/// </summary>
[CollectionDefinition(Name)]
public sealed class FaultClusterCollection : ICollectionFixture<FaultClusterFixture>
{
    public const string Name = "shop cluster for lasting faults";
}

/// <summary>
/// The shop cluster with SQLite's busy timeout (2 s) below the grain response timeout (5 s), so a database lock
/// that cannot be had surfaces as the database's own error rather than as the caller's timeout.
/// </summary>
public sealed class FaultClusterFixture : IAsyncLifetime
{
    public const int BusyTimeoutSeconds = 2;

    /// <summary>The cluster's grain response timeout (the shop cluster's, stated here).</summary>
    public static readonly TimeSpan ResponseTimeout = ShopClusterFixture.ResponseTimeout;

    public ShopClusterFixture Shop { get; } = new(products: 40, new Dictionary<string, string?>
    {
        ["Database:BusyTimeoutSeconds"] = BusyTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    public Task InitializeAsync() => Shop.InitializeAsync();

    public Task DisposeAsync() => Shop.DisposeAsync();
}
