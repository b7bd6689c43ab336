using System.Collections.Concurrent;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// event-ordering-violation on a cluster of its own: one kind of order event is delivered late, so the projection applies
/// "shipped" before "paid" and goes back in time; the reorder buffer (the cure) applies them in sequence. The events that
/// arrived out of sequence are counted per order, from the projection's own log.
/// </summary>
[ScenarioTest(EventOrderingViolationScenario.Name)]
[Collection(FaultClusterCollection.Name)]
public sealed class EventOrderingViolationTests(FaultClusterFixture faults, ITestOutputHelper output)
{
    private readonly ShopClusterFixture _fixture = faults.Shop;

    private static readonly TimeSpan StreamWait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_late_event_leaves_the_projection_stale_and_the_reorder_buffer_cures_it()
    {
        var scenarios = new ScenarioSwitch(_fixture.Cluster);
        using var outOfOrder = new OutOfOrderLog(_fixture.Logs);
        try
        {
            await scenarios.EnableAsync(EventOrderingViolationScenario.Name,
                new Dictionary<string, string> { ["kind"] = "PaymentCaptured", ["delay"] = "1500ms" });
            var (brokenId, broken) = await PlaceAndWaitForAllEventsAsync("SKU-00006");
            output.WriteLine($"fault: view {broken.Status} #{broken.LastSequence}, out of order {outOfOrder.Of(brokenId)}");
            // #4 and #5 arrived before #3, and #3 after #5.
            Assert.True(outOfOrder.Of(brokenId) >= 2, $"out-of-order events of the order: {outOfOrder.Of(brokenId)}");
            // Shipped (#5) was applied before the late PaymentCaptured (#3): the view went back in time.
            Assert.Equal(OrderStatus.PaymentCaptured, broken.Status);
            Assert.Equal(3, broken.LastSequence);

            await scenarios.EnableAsync(EventOrderingViolationScenario.Name,
                new Dictionary<string, string> { ["kind"] = "PaymentCaptured", ["delay"] = "1500ms", ["cure"] = "true" });
            var (curedId, cured) = await PlaceAndWaitForAllEventsAsync("SKU-00007");
            output.WriteLine($"cure: view {cured.Status} #{cured.LastSequence}, out of order {outOfOrder.Of(curedId)}");
            Assert.True(outOfOrder.Of(curedId) >= 1, "the late event is still detected with the cure");
            Assert.Equal(OrderStatus.Shipped, cured.Status);
            Assert.Equal(5, cured.LastSequence);
        }
        finally
        {
            await scenarios.ResetAsync();
        }

        var (recoveredId, recovered) = await PlaceAndWaitForAllEventsAsync("SKU-00008");
        Assert.Equal(OrderStatus.Shipped, recovered.Status);
        Assert.Equal(0, outOfOrder.Of(recoveredId));
    }

    /// <summary>Places a one-line order, waits until it shipped and the projection applied all five events.</summary>
    private async Task<(Guid OrderId, OrderStatusView View)> PlaceAndWaitForAllEventsAsync(string sku)
    {
        var orderId = Guid.NewGuid();
        var result = await _fixture.Client.GetGrain<IOrderGrain>(orderId).PlaceAsync(7, [new OrderLine(sku, 1, 10m)]);
        Assert.Equal(OrderStatus.Confirmed, result.Order!.Status);
        await Eventually.GetAsync(() => _fixture.Client.GetGrain<IOrderGrain>(orderId).GetAsync(),
            o => o?.Status == OrderStatus.Shipped, StreamWait, "order shipped");
        return (orderId, (await Eventually.GetAsync(() => _fixture.Client.GetGrain<IOrderProjectionGrain>(orderId).GetAsync(),
            v => v?.EventsApplied == 5, StreamWait, "projection applied all five events"))!);
    }

    /// <summary>The events each order's projection logged as arrived out of sequence (the silos run in this process).</summary>
    private sealed class OutOfOrderLog : IDisposable
    {
        private readonly ConcurrentDictionary<Guid, int> _counts = new();
        private readonly IDisposable _subscription;

        public OutOfOrderLog(LogCapture logs) => _subscription = logs.Subscribe(typeof(Lab.Grains.OrderProjectionGrain).FullName!, entry =>
        {
            if (entry.TryGetValue("Expected", out _) && entry.TryGetValue("OrderId", out var order) && order is Guid id)
            {
                _counts.AddOrUpdate(id, 1, (_, n) => n + 1);
            }
        });

        public int Of(Guid orderId) => _counts.GetValueOrDefault(orderId);

        public void Dispose() => _subscription.Dispose();
    }
}
