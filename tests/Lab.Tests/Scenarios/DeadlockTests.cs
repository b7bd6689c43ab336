using System.Diagnostics;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

[Collection(FaultClusterCollection.Name)]
public sealed class DeadlockTests(ShopClusterFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task A_grain_call_cycle_times_out_and_call_chain_reentrancy_cures_it()
    {
        var scenarios = new ScenarioSwitch(fixture.Cluster);
        // Warm the path (activations, payments client, JIT) so the timings measure the cycle; the first may be slow.
        try
        {
            await PlaceAsync("SKU-00011");
        }
        catch (TimeoutException)
        {
        }

        var warm = await PlaceAsync("SKU-00011");
        Assert.True(warm.Order!.Status == OrderStatus.Confirmed, $"{warm.Failure}: {warm.Detail}");
        try
        {
            await scenarios.EnableAsync(DeadlockScenario.Name);
            var clock = Stopwatch.StartNew();
            await Assert.ThrowsAsync<TimeoutException>(() => PlaceAsync("SKU-00011"));
            var stalled = clock.Elapsed;
            output.WriteLine($"deadlocked checkout failed with TimeoutException after {stalled.TotalMilliseconds:0} ms");
            // The fixture's response timeout is 5 s: the cycle waits for all of it.
            Assert.InRange(stalled.TotalSeconds, 4.5, 8);

            // The inventory grain was stuck in the cycle too: let it finish before timing the cure.
            await fixture.Client.GetGrain<IInventoryGrain>("SKU-00011").GetStockAsync();
            await scenarios.EnableAsync(DeadlockScenario.Name, new Dictionary<string, string> { ["cure"] = "true" });
            clock.Restart();
            var cured = await PlaceAsync("SKU-00011");
            output.WriteLine($"with call-chain reentrancy: {cured.Order!.Status} after {clock.Elapsed.TotalMilliseconds:0} ms");
            Assert.Equal(OrderStatus.Confirmed, cured.Order.Status);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2.5), $"cured checkout took {clock.Elapsed}");
        }
        finally
        {
            await scenarios.ResetAsync();
        }

        var clockAfter = Stopwatch.StartNew();
        Assert.Equal(OrderStatus.Confirmed, (await PlaceAsync("SKU-00011")).Order!.Status);
        Assert.True(clockAfter.Elapsed < TimeSpan.FromSeconds(2.5), $"checkout after disable took {clockAfter.Elapsed}");
    }

    private Task<CheckoutResult> PlaceAsync(string sku) =>
        fixture.Client.GetGrain<IOrderGrain>(Guid.NewGuid()).PlaceAsync(8, [new OrderLine(sku, 1, 10m)]);
}
