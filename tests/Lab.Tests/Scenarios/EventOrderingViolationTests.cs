using System.Diagnostics.Metrics;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.ServiceDefaults;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

[Collection(FaultClusterCollection.Name)]
public sealed class EventOrderingViolationTests(FaultClusterFixture faults, ITestOutputHelper output)
{
    private readonly ShopClusterFixture _fixture = faults.Shop;

    private static readonly TimeSpan StreamWait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_late_event_leaves_the_projection_stale_and_the_reorder_buffer_cures_it()
    {
        var scenarios = new ScenarioSwitch(_fixture.Cluster);
        using var outOfOrder = new OutOfOrderCounter();
        try
        {
            await scenarios.EnableAsync(EventOrderingViolationScenario.Name,
                new Dictionary<string, string> { ["kind"] = "PaymentCaptured", ["delay"] = "1500ms" });
            var broken = await PlaceAndWaitForAllEventsAsync("SKU-00006");
            output.WriteLine($"fault: view {broken.Status} #{broken.LastSequence}, out of order {outOfOrder.Count}");
            Assert.True(outOfOrder.Count >= 2, $"out-of-order events counted: {outOfOrder.Count}");
            // Shipped (#5) was applied before the late PaymentCaptured (#3): the view went back in time.
            Assert.Equal(OrderStatus.PaymentCaptured, broken.Status);
            Assert.Equal(3, broken.LastSequence);

            outOfOrder.Reset();
            await scenarios.EnableAsync(EventOrderingViolationScenario.Name,
                new Dictionary<string, string> { ["kind"] = "PaymentCaptured", ["delay"] = "1500ms", ["cure"] = "true" });
            var cured = await PlaceAndWaitForAllEventsAsync("SKU-00007");
            output.WriteLine($"cure: view {cured.Status} #{cured.LastSequence}, out of order {outOfOrder.Count}");
            Assert.True(outOfOrder.Count >= 1, "the late event is still detected with the cure");
            Assert.Equal(OrderStatus.Shipped, cured.Status);
            Assert.Equal(5, cured.LastSequence);
        }
        finally
        {
            await scenarios.ResetAsync();
        }

        outOfOrder.Reset();
        var recovered = await PlaceAndWaitForAllEventsAsync("SKU-00008");
        Assert.Equal(OrderStatus.Shipped, recovered.Status);
        Assert.Equal(0, outOfOrder.Count);
    }

    /// <summary>Places a one-line order, waits until it shipped and the projection applied all five events.</summary>
    private async Task<OrderStatusView> PlaceAndWaitForAllEventsAsync(string sku)
    {
        var orderId = Guid.NewGuid();
        var result = await _fixture.Client.GetGrain<IOrderGrain>(orderId).PlaceAsync(7, [new OrderLine(sku, 1, 10m)]);
        Assert.Equal(OrderStatus.Confirmed, result.Order!.Status);
        await Eventually.GetAsync(() => _fixture.Client.GetGrain<IOrderGrain>(orderId).GetAsync(),
            o => o?.Status == OrderStatus.Shipped, StreamWait, "order shipped");
        return (await Eventually.GetAsync(() => _fixture.Client.GetGrain<IOrderProjectionGrain>(orderId).GetAsync(),
            v => v?.EventsApplied == 5, StreamWait, "projection applied all five events"))!;
    }

    /// <summary>Sums lab.projection.out_of_order in this process (the test cluster's silos run here).</summary>
    private sealed class OutOfOrderCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public OutOfOrderCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == LabTelemetry.MeterName && instrument.Name == "lab.projection.out_of_order")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _count, value));
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Reset() => Interlocked.Exchange(ref _count, 0);

        public void Dispose() => _listener.Dispose();
    }
}
