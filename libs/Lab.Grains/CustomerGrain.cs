using System.Diagnostics.Metrics;
using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Lab.ServiceDefaults;
using Lab.Shop;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace Lab.Grains;

/// <summary>
/// A customer: order history (from the orders), and a wish list kept as the grain's own persistent state (Orleans
/// storage in the shop's database, <see cref="ShopGrainStorage"/>): the grain is its single writer.
/// </summary>
public sealed class CustomerGrain(
    CustomerRepository customers,
    OrderRepository orders,
    ServiceIdentity identity,
    [PersistentState(WishListState.StateName, ShopGrainStorage.Name)] IPersistentState<WishListState> wishes,
    ILogger<CustomerGrain> logger) : Grain, ICustomerGrain
{
    private const int MaxWishes = 100;

    /// <summary>Tries of a write whose stored state changed meanwhile, with the shop's own conflict handling.</summary>
    /// <summary>Writes of one change, the first and its retries after conflicts, before the change is given up.</summary>
    public const int MaxWriteAttempts = 3;

    private bool? _exists;

    private int CustomerId => (int)this.GetPrimaryKeyLong();

    public async Task<bool> ExistsAsync() => _exists ??= await customers.ExistsAsync(CustomerId);

    public async Task<IReadOnlyList<Order>?> GetOrderHistoryAsync(int limit)
    {
        if (!await ExistsAsync())
        {
            return null;
        }

        return ShopSeams.HistoryLoading.Resolve(identity, HistoryLoading.Batched) == HistoryLoading.OneByOne
            ? await orders.GetHistoryOneByOneAsync(CustomerId, limit)
            : await orders.GetHistoryAsync(CustomerId, limit);
    }

    public async Task<WishList?> GetWishListAsync() => await ExistsAsync() ? WishList() : null;

    public async Task<WishList?> WishAsync(string sku) =>
        await ExistsAsync() ? await ChangeAsync(state => state.Add(sku, MaxWishes)) : null;

    public async Task<WishList?> RemoveWishesAsync(IReadOnlyList<string> skus) =>
        await ExistsAsync() ? await ChangeAsync(state => state.Remove(skus)) : null;

    /// <summary>
    /// Applies a change to the wish list and writes it. When the stored list changed since this activation read it (a
    /// second writer: Orleans' InconsistentStateException), the shop's own reads it again, applies the change to what is
    /// stored and writes again; the state-conflicts seam's naive variant lets the write fail (Orleans then deactivates
    /// this activation, and the change is lost).
    /// </summary>
    private async Task<WishList> ChangeAsync(Func<WishListState, bool> change)
    {
        if (!change(wishes.State))
        {
            return WishList();
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await wishes.WriteStateAsync();
                return WishList();
            }
            catch (InconsistentStateException conflict)
            {
                var policy = ShopSeams.StateConflicts.Resolve(identity, StateConflicts.ReloadAndRetry);
                if (policy == StateConflicts.Fail || attempt >= MaxWriteAttempts)
                {
                    Conflicts.Add(1, new KeyValuePair<string, object?>("state", WishListState.StateName), new KeyValuePair<string, object?>("outcome", "failed"));
                    logger.LogWarning("Customer {CustomerId}: wish list changed by someone else meanwhile; this change is lost ({Message})", CustomerId, conflict.Message);
                    throw;
                }

                Conflicts.Add(1, new KeyValuePair<string, object?>("state", WishListState.StateName), new KeyValuePair<string, object?>("outcome", "retried"));
                await wishes.ReadStateAsync();
                if (!change(wishes.State))
                {
                    return WishList();
                }
            }
        }
    }

    private WishList WishList() => new(CustomerId, [.. wishes.State.Skus], wishes.State.Version);

    private static readonly Counter<long> Conflicts = LabTelemetry.Meter.CreateCounter<long>("lab.grain_state.conflicts", "{write}",
        "Grain state writes that found the stored state changed since it was read (Orleans' InconsistentStateException), by state and outcome (retried or failed).");
}

/// <summary>A customer's wish list as stored (JSON in grain_state): products newest first, and a version counting its changes.</summary>
public sealed class WishListState
{
    public const string StateName = "wishlist";

    public List<string> Skus { get; set; } = [];

    public int Version { get; set; }

    /// <returns>False when the product was on the list already.</returns>
    public bool Add(string sku, int max)
    {
        if (Skus.Contains(sku, StringComparer.Ordinal))
        {
            return false;
        }

        Skus.Insert(0, sku);
        if (Skus.Count > max)
        {
            Skus.RemoveRange(max, Skus.Count - max);
        }

        Version++;
        return true;
    }

    /// <returns>False when none of them was on the list.</returns>
    public bool Remove(IReadOnlyList<string> skus)
    {
        if (Skus.RemoveAll(sku => skus.Contains(sku, StringComparer.Ordinal)) == 0)
        {
            return false;
        }

        Version++;
        return true;
    }
}
