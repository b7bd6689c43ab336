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

    /// <summary>Holds <paramref name="quantity"/> units for an order until committed, released or expired.</summary>
    [Alias("Reserve")]
    Task<ReservationResult> ReserveAsync(Guid orderId, int quantity);

    [Alias("Commit")]
    Task<CommitOutcome> CommitAsync(Guid orderId);

    /// <summary>Puts sold units of a cancelled order back on the shelf (compensation after a partial commit).</summary>
    [Alias("Return")]
    Task ReturnAsync(Guid orderId, int quantity);

    /// <returns>True when a reservation was released.</returns>
    [Alias("Release")]
    Task<bool> ReleaseAsync(Guid orderId);
}
