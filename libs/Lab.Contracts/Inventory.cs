namespace Lab.Contracts;

[GenerateSerializer, Immutable, Alias("Lab.StockLevel")]
public sealed record StockLevel(
    [property: Id(0)] string Sku,
    [property: Id(1)] int InitialStock,
    [property: Id(2)] int Available,
    [property: Id(3)] int Reserved,
    [property: Id(4)] int Sold);

public enum ReservationOutcome
{
    Reserved,
    AlreadyReserved,
    OutOfStock,
    UnknownSku,
}

[GenerateSerializer, Immutable, Alias("Lab.ReservationResult")]
public sealed record ReservationResult(
    [property: Id(0)] ReservationOutcome Outcome,
    [property: Id(1)] int Available);

public enum CommitOutcome
{
    Committed,
    AlreadyCommitted,
    /// <summary>The reservation is gone (expired and released, or never made).</summary>
    NotReserved,
}

/// <summary>Stock of one SKU (key: SKU): the single writer of its inventory row.</summary>
[Alias("Lab.IInventoryGrain")]
public interface IInventoryGrain : IGrainWithStringKey
{
    [Alias("GetStock")]
    Task<StockLevel?> GetStockAsync();

    /// <summary>Releases the reservations that have expired, now (the recovery sweep wakes a SKU whose grain is not active).</summary>
    [Alias("ReleaseExpired")]
    Task ReleaseExpiredAsync();

    /// <summary>Holds <paramref name="quantity"/> units for an order until committed, released or expired.</summary>
    [Alias("Reserve")]
    Task<ReservationResult> ReserveAsync(Guid orderId, int quantity);

    [Alias("Commit")]
    Task<CommitOutcome> CommitAsync(Guid orderId);

    /// <summary>Puts sold units of a cancelled order back on the shelf (compensation after a partial commit).</summary>
    [Alias("Return")]
    Task ReturnAsync(Guid orderId, int quantity);

    /// <summary>Adds <paramref name="quantity"/> received units to the stock; null for an unknown SKU.</summary>
    [Alias("Restock")]
    Task<StockLevel?> RestockAsync(int quantity);

    /// <returns>True when a reservation was released.</returns>
    [Alias("Release")]
    Task<bool> ReleaseAsync(Guid orderId);
}

[GenerateSerializer, Immutable, Alias("Lab.RestockLine")]
public sealed record RestockLine([property: Id(0)] string Sku, [property: Id(1)] int Quantity);

/// <summary>One line of a restock as written: the level after it (null for an unknown SKU), or why it was not written.</summary>
[GenerateSerializer, Immutable, Alias("Lab.RestockedLine")]
public sealed record RestockedLine([property: Id(0)] string Sku, [property: Id(1)] StockLevel? Level, [property: Id(2)] string? Failure = null);

/// <param name="Writer">Who wrote the lines: the inventory grains, or the job itself (read-modify-write, version-checked).</param>
/// <param name="Conflicts">Version-checked writes that found the row changed since the job read it.</param>
[GenerateSerializer, Immutable, Alias("Lab.RestockReport")]
public sealed record RestockReport(
    [property: Id(0)] IReadOnlyList<RestockedLine> Lines,
    [property: Id(1)] string Writer,
    [property: Id(2)] int Conflicts);

/// <summary>Receives deliveries: adds the units of each line to its SKU's stock (a stateless worker).</summary>
[Alias("Lab.IRestockGrain")]
public interface IRestockGrain : IGrainWithIntegerKey
{
    [Alias("Restock")]
    Task<RestockReport> RestockAsync(IReadOnlyList<RestockLine> lines);
}
