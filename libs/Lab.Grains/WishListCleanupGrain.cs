using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Lab.Shop;
using Orleans.Concurrency;

namespace Lab.Grains;

/// <summary>
/// The back office's wish-list clean-up: takes the products that are out of stock off the customers' lists. The shop's
/// own asks each customer's grain (the list's single writer); the wish-list-writes seam's naive variant reads the stored
/// list and writes it back itself, a second writer beside the grain, careful only about its own write.
/// </summary>
[StatelessWorker]
public sealed class WishListCleanupGrain(GrainStateRepository states, InventoryRepository inventory, ServiceIdentity identity, TimeProvider time)
    : Grain, IWishListCleanupGrain
{
    public async Task<int> CleanAsync(IReadOnlyList<int> customerIds)
    {
        var changed = 0;
        foreach (var customerId in customerIds)
        {
            var customer = GrainFactory.GetGrain<ICustomerGrain>(customerId);
            if (ShopSeams.WishListWrites.Resolve(identity, StateWriter.ThroughGrain) == StateWriter.ThroughGrain)
            {
                var list = await customer.GetWishListAsync();
                if (list is not null && await UnavailableAsync(list.Skus) is { Count: > 0 } gone)
                {
                    await customer.RemoveWishesAsync(gone);
                    changed++;
                }
            }
            else if (await CleanDirectlyAsync(customer.GetGrainId().ToString()))
            {
                changed++;
            }
        }

        return changed;
    }

    /// <summary>The naive clean-up: read the stored list, remove, write it back over the ETag it read (retrying its own conflicts).</summary>
    private async Task<bool> CleanDirectlyAsync(string grainId)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            if (await states.ReadAsync(WishListState.StateName, grainId) is not { } stored)
            {
                return false;
            }

            var state = ShopGrainStorage.Deserialize<WishListState>(stored.State);
            // Nothing to take off is still a review of the list: the job stamps it as reviewed, as such jobs do.
            state.Remove(await UnavailableAsync(state.Skus));
            state.Version++;
            if (await states.WriteAsync(WishListState.StateName, grainId, ShopGrainStorage.Serialize(state), stored.ETag, Guid.NewGuid().ToString("N"), time.GetUtcNow()))
            {
                return true;
            }
        }

        return false;
    }

    private async Task<List<string>> UnavailableAsync(IReadOnlyList<string> skus)
    {
        var gone = new List<string>();
        foreach (var sku in skus)
        {
            if (await inventory.LoadAsync(sku) is { Stock.Available: <= 0 })
            {
                gone.Add(sku);
            }
        }

        return gone;
    }
}
