using Lab.Tests.Support;

namespace Lab.Tests.Scenarios;

/// <summary>
/// A shop cluster of its own for scenarios that leave lasting damage on purpose (a wrong projection, an order
/// stuck after a deadlock), so the shared cluster's databases stay clean for <c>lab verify</c>.
/// </summary>
[CollectionDefinition(Name)]
public sealed class FaultClusterCollection : ICollectionFixture<ShopClusterFixture>
{
    public const string Name = "shop cluster for lasting faults";
}
