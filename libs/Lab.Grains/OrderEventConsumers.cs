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

    private static readonly Counter<long> ConsumeFailures = LabTelemetry.Meter.CreateCounter<long>(
        "lab.order_events.consume_failures", "{attempt}", "Tries of an order event that failed in the projection, by event kind.");

    private static readonly Counter<long> DeadLettered = LabTelemetry.Meter.CreateCounter<long>(
        "lab.order_events.dead_lettered", "{event}", "Order events the projection parked as dead letters after failing Shop:MaxEventAttempts times, by kind.");

    private OrderStatusView? _view;
    private SortedDictionary<long, OrderEvent>? _pending;
    private HashSet<long>? _deadLettered;
    private IGrainTimer? _gapTimer;
    private bool _loaded;

    public async Task<OrderStatusView?> GetAsync()
    {
        await LoadAsync();
        return _view;
    }

    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        handleFactory.Create<OrderEvent>().ResumeAsync(this);

    /// <summary>
    /// Consumes an event, trying it again when it fails: the shop's own policy parks it as a dead letter after
    /// Shop:MaxEventAttempts tries and goes on with the order's later events; the poison-events seam's naive variant
    /// rethrows, and the stream delivers the same event again (for as long as it fails), holding back the order's others.
    /// </summary>
    public async Task OnNextAsync(OrderEvent item, StreamSequenceToken? token = null)
    {
        var policy = ShopSeams.PoisonEvents.Resolve(identity, new PoisonPolicy(options.Value.MaxEventAttempts, options.Value.EventRetryDelay));
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ConsumeAsync(item);
                return;
            }
            catch (Exception ex)
            {
                ConsumeFailures.Add(1, new KeyValuePair<string, object?>("kind", item.Kind.ToString()));
                if (policy.DeadLetterAfter is not { } max)
                {
                    throw;
                }

                if (attempt >= max)
                {
                    await DeadLetterAsync(item, attempt, ex);
                    return;
                }

                logger.LogWarning("Order {OrderId}: event {Kind} #{Sequence} failed (try {Attempt} of {Max}): {Error}",
                    item.OrderId, item.Kind, item.Sequence, attempt, max, ex.Message);
                await Task.Delay(policy.RetryDelay);
            }
        }
    }

    /// <summary>Parks the event, remembers its sequence as passed, and applies the later events that waited for it.</summary>
    private async Task DeadLetterAsync(OrderEvent item, int attempts, Exception error)
    {
        if (await projections.DeadLetterAsync(item, attempts, $"{error.GetType().Name}: {error.Message}", DateTimeOffset.UtcNow))
        {
            DeadLettered.Add(1, new KeyValuePair<string, object?>("kind", item.Kind.ToString()));
        }

        logger.LogError("Order {OrderId}: event {Kind} #{Sequence} failed {Attempts} times; parked as a dead letter (replay: POST /api/admin/dead-letters/replay): {Error}",
            item.OrderId, item.Kind, item.Sequence, attempts, error.Message);
        (_deadLettered ??= []).Add(item.Sequence);
        _pending?.Remove(item.Sequence);
        await ApplyPendingAsync(Cursor());
    }

    /// <summary>The last sequence applied or parked, with nothing missing before it: what the next event in sequence follows.</summary>
    private long Cursor()
    {
        var last = _view?.LastSequence ?? 0;
        while (_deadLettered?.Contains(last + 1) == true)
        {
            last++;
        }

        return last;
    }

    private async Task ConsumeAsync(OrderEvent item)
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
            await ApplyAsync(item, forwardOnly: false);
            return;
        }

        await ApplyInSequenceAsync(item);
    }

    /// <summary>Holds an event until its predecessor is applied (or parked) and skips replays.</summary>
    private async Task ApplyInSequenceAsync(OrderEvent item)
    {
        // A parked event that comes back (replayed) is applied like any other; its sequence is no longer passed.
        _deadLettered?.Remove(item.Sequence);
        var last = Cursor();
        if (item.Sequence <= last || !(_pending ??= []).TryAdd(item.Sequence, item))
        {
            logger.LogInformation("Order {OrderId}: event {Kind} #{Sequence} already applied, skipped", item.OrderId, item.Kind, item.Sequence);
            if (item.Sequence <= last)
            {
                // A replay (the recovery sweep publishes what it finds unacknowledged): acknowledge it again, or it stays.
                await projections.AcknowledgeAsync(item.OrderId, last);
            }

            return;
        }

        await ApplyPendingAsync(last);
    }

    /// <summary>Applies the waiting events that follow <paramref name="last"/> without a gap; waits (bounded) for a missing one.</summary>
    private async Task ApplyPendingAsync(long last)
    {
        if (_pending is null)
        {
            return;
        }

        while (_pending.Remove(last + 1, out var next))
        {
            await ApplyAsync(next, forwardOnly: true);
            last = Cursor();
        }

        // A reloaded view may be past what waits: that is applied already.
        foreach (var applied in _pending.Keys.Where(sequence => sequence <= last).ToList())
        {
            _pending.Remove(applied);
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
        foreach (var next in _pending.Values.Where(next => next.Sequence > (_view?.LastSequence ?? 0)).ToList())
        {
            await ApplyAsync(next, forwardOnly: true);
        }

        _pending.Clear();
    }

    /// <param name="forwardOnly">The shop's own: the stored view only moves forward. A newer one stored by another
    /// activation (two can live for a moment when a silo is presumed dead) wins, and this one reloads it.</param>
    private async Task ApplyAsync(OrderEvent item, bool forwardOnly)
    {
        if (item.Sequence < (_view?.LastSequence ?? 0))
        {
            StaleApplied.Add(1, new KeyValuePair<string, object?>("kind", item.Kind.ToString()));
        }

        _view = new OrderStatusView(item.OrderId, ToStatus(item.Kind), item.Sequence, (_view?.EventsApplied ?? 0) + 1, item.Timestamp);
        if (!await projections.SaveViewAsync(_view, forwardOnly))
        {
            logger.LogWarning("Order {OrderId}: a newer view than #{Sequence} was stored meanwhile; reloading it", item.OrderId, item.Sequence);
            _view = await projections.GetViewAsync(item.OrderId);
        }
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
