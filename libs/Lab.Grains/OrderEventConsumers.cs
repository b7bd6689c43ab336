using System.Diagnostics.Metrics;
using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Lab.Shop;
using Lab.ServiceDefaults;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace Lab.Grains;

/// <summary>
/// Builds the order-status read model from the order's events, in sequence: an event that arrives before its
/// predecessor waits in a reorder buffer (for at most <see cref="ShopOptions.ProjectionGapTimeout"/>, so a lost event
/// cannot stall the view for ever), and a sequence already applied is skipped. Events that arrive out of sequence are
/// counted, so a reordering on the stream is visible.
/// </summary>
[ImplicitStreamSubscription(OrderStreams.EventsNamespace)]
public sealed class OrderProjectionGrain(ProjectionRepository projections, IOptions<ShopOptions> options, ServiceIdentity identity,
    ILogger<OrderProjectionGrain> logger)
    : Grain, IOrderProjectionGrain, IStreamSubscriptionObserver, IAsyncObserver<OrderEvent>
{
    private static readonly Counter<long> OutOfOrder = LabTelemetry.Meter.CreateCounter<long>(
        "lab.projection.out_of_order", "{event}", "Order events that reached the projection out of sequence.");

    private static readonly Counter<long> StaleApplied = LabTelemetry.Meter.CreateCounter<long>(
        "lab.projection.stale_applied", "{event}", "Order events applied over a newer one: the view went back to an older status.");

    private OrderStatusView? _view;
    private SortedDictionary<long, OrderEvent>? _pending;
    private IGrainTimer? _gapTimer;
    private bool _loaded;

    public async Task<OrderStatusView?> GetAsync()
    {
        await LoadAsync();
        return _view;
    }

    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        handleFactory.Create<OrderEvent>().ResumeAsync(this);

    public async Task OnNextAsync(OrderEvent item, StreamSequenceToken? token = null)
    {
        if (ScenarioRuntime.IsActiveAt(HookPoint.StreamConsume))
        {
            await ScenarioRuntime.InvokeAsync(new HookContext(HookPoint.StreamConsume, identity)
            {
                GrainInterface = nameof(IOrderProjectionGrain),
                GrainKey = item.OrderId.ToString(),
                Carrier = item,
            });
        }

        await LoadAsync();
        var expected = (_view?.LastSequence ?? 0) + 1;
        if (item.Sequence != expected)
        {
            OutOfOrder.Add(1, new KeyValuePair<string, object?>("kind", item.Kind.ToString()));
            logger.LogWarning("Order {OrderId}: event {Kind} #{Sequence} arrived, expected #{Expected}",
                item.OrderId, item.Kind, item.Sequence, expected);
        }

        if (ShopSeams.EventApplying.Resolve(identity, EventApplying.InSequence) == EventApplying.AsArrived)
        {
            await ApplyAsync(item);
            return;
        }

        await ApplyInSequenceAsync(item);
    }

    /// <summary>Holds an event until its predecessor is applied and skips replays.</summary>
    private async Task ApplyInSequenceAsync(OrderEvent item)
    {
        var last = _view?.LastSequence ?? 0;
        if (item.Sequence <= last || !(_pending ??= []).TryAdd(item.Sequence, item))
        {
            logger.LogInformation("Order {OrderId}: event {Kind} #{Sequence} already applied, skipped", item.OrderId, item.Kind, item.Sequence);
            return;
        }

        while (_pending.Remove(last + 1, out var next))
        {
            await ApplyAsync(next);
            last = next.Sequence;
        }

        if (_pending.Count == 0)
        {
            _gapTimer?.Dispose();
            _gapTimer = null;
        }
        else
        {
            // A predecessor is missing: wait for it, but not for ever (it may have been lost with a silo).
            _gapTimer ??= this.RegisterGrainTimer(ApplyPastGapAsync, options.Value.ProjectionGapTimeout, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The missing event did not come in time: apply what waits, in sequence; the late one is skipped if it comes.</summary>
    private async Task ApplyPastGapAsync(CancellationToken cancellationToken)
    {
        _gapTimer?.Dispose();
        _gapTimer = null;
        if (_pending is not { Count: > 0 })
        {
            return;
        }

        logger.LogWarning("Order {OrderId}: gave up waiting for event #{Missing}; applying {Count} later event(s)",
            this.GetPrimaryKey(), (_view?.LastSequence ?? 0) + 1, _pending.Count);
        foreach (var next in _pending.Values.ToList())
        {
            await ApplyAsync(next);
        }

        _pending.Clear();
    }

    private async Task ApplyAsync(OrderEvent item)
    {
        if (item.Sequence < (_view?.LastSequence ?? 0))
        {
            StaleApplied.Add(1, new KeyValuePair<string, object?>("kind", item.Kind.ToString()));
        }

        _view = new OrderStatusView(item.OrderId, ToStatus(item.Kind), item.Sequence, (_view?.EventsApplied ?? 0) + 1, item.Timestamp);
        await projections.SaveViewAsync(_view);
    }

    public Task OnCompletedAsync() => Task.CompletedTask;

    public Task OnErrorAsync(Exception ex)
    {
        logger.LogError(ex, "Order event stream failed for {OrderId}", this.GetPrimaryKey());
        return Task.CompletedTask;
    }

    private async Task LoadAsync()
    {
        if (!_loaded)
        {
            _view = await projections.GetViewAsync(this.GetPrimaryKey());
            _loaded = true;
        }
    }

    private static OrderStatus ToStatus(OrderEventKind kind) => kind switch
    {
        OrderEventKind.Placed => OrderStatus.Placed,
        OrderEventKind.StockReserved => OrderStatus.StockReserved,
        OrderEventKind.PaymentCaptured => OrderStatus.PaymentCaptured,
        OrderEventKind.Confirmed => OrderStatus.Confirmed,
        OrderEventKind.Shipped => OrderStatus.Shipped,
        _ => OrderStatus.Cancelled,
    };
}

/// <summary>Ships an order once it is confirmed: records the shipment, then tells the order.</summary>
[ImplicitStreamSubscription(OrderStreams.EventsNamespace)]
public sealed class ShippingGrain(ProjectionRepository projections, ScenarioTimeProvider time)
    : Grain, IShippingGrain, IStreamSubscriptionObserver, IAsyncObserver<OrderEvent>
{
    public Task<string?> GetShipmentIdAsync() => projections.GetShipmentIdAsync(this.GetPrimaryKey());

    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        handleFactory.Create<OrderEvent>().ResumeAsync(this);

    public async Task OnNextAsync(OrderEvent item, StreamSequenceToken? token = null)
    {
        if (item.Kind != OrderEventKind.Confirmed)
        {
            return;
        }

        var shipmentId = await projections.InsertShipmentAsync(item.OrderId, $"SHP-{item.OrderId:N}"[..16], time.GetUtcNow());
        await GrainFactory.GetGrain<IOrderGrain>(item.OrderId).MarkShippedAsync(shipmentId);
    }

    public Task OnCompletedAsync() => Task.CompletedTask;

    public Task OnErrorAsync(Exception ex) => Task.CompletedTask;
}
