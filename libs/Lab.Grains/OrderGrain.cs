using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Lab.Shop;
using Lab.ServiceDefaults;
using Microsoft.Extensions.Logging;
using Orleans.Streams;

namespace Lab.Grains;

/// <summary>
/// The order saga: reserve every line, charge the payment provider, commit the stock, confirm.
/// On any failure it compensates (release reservations, return committed stock, refund) and cancels.
/// Each step is written to the order row and published on the order's event stream with the next sequence number.
/// </summary>
public sealed class OrderGrain(
    OrderRepository orders, PaymentsClient payments, ShopPolicies policies, ScenarioTimeProvider time, ServiceIdentity identity,
    ILogger<OrderGrain> logger)
    : Grain, IOrderGrain
{
    private static readonly Counter<long> EventsRedelivered = LabTelemetry.Meter.CreateCounter<long>(
        "lab.order_events.redelivered", "{event}", "Order events published again from the outbox by the recovery sweep: no consumer had acknowledged them.");

    private static readonly Counter<long> StaleActivations = LabTelemetry.Meter.CreateCounter<long>(
        "lab.orders.stale_activations", "{activation}",
        "Order activations that found their order carried on by another activation (a duplicate while their silo was presumed dead) and stopped without writing or compensating.");

    private static readonly Counter<long> PublishFailures = LabTelemetry.Meter.CreateCounter<long>(
        "lab.order_events.publish_failures", "{event}", "Order events the stream refused (its queue was on a silo that died); the outbox keeps them.");

    private Order? _order;
    private long _sequence;
    private IAsyncStream<OrderEvent>? _events;

    private Guid OrderId => this.GetPrimaryKey();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _events = this.GetStreamProvider(OrderStreams.Provider)
            .GetStream<OrderEvent>(StreamId.Create(OrderStreams.EventsNamespace, OrderId));
        var stored = await orders.GetAsync(OrderId, cancellationToken);
        if (stored is not null)
        {
            _order = stored.Order;
            _sequence = stored.LastSequence;
            if (_order.Status is not (OrderStatus.Confirmed or OrderStatus.Shipped or OrderStatus.Cancelled))
            {
                // A new activation of an order mid-saga: the saga's activation died with its silo. Every step is
                // idempotent (reservations by order id, the charge by its idempotency key), so it runs again.
                this.RegisterGrainTimer(ResumeSagaAsync, TimeSpan.Zero, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private async Task ResumeSagaAsync(CancellationToken cancellationToken)
    {
        if (_order is null or { Status: OrderStatus.Confirmed or OrderStatus.Shipped or OrderStatus.Cancelled })
        {
            return;
        }

        logger.LogWarning("Order {OrderId} was left {Status} by a saga that stopped (lost activation or failed step); resuming it",
            OrderId, _order.Status);
        if (_order.Status == OrderStatus.PaymentCaptured)
        {
            await CompleteCommitsAsync();
            return;
        }

        // Nothing committed yet: reservations are idempotent per order and the charge per idempotency key. The caller
        // that set a deadline is long gone: none applies.
        await RunSagaAsync(deadline: null);
    }

    /// <summary>
    /// A paid order whose saga stopped while committing: commits what is still reserved and confirms. A reservation
    /// already gone was committed before the saga stopped (recovery runs well within the reservation TTL).
    /// </summary>
    private async Task CompleteCommitsAsync()
    {
        foreach (var line in _order!.Lines.OrderBy(line => line.Sku, StringComparer.Ordinal))
        {
            await Inventory(line.Sku).CommitAsync(OrderId);
        }

        await AdvanceAsync(OrderStatus.Confirmed, OrderEventKind.Confirmed);
    }

    public Task<Order?> GetAsync() => Task.FromResult(_order);

    public async Task<CheckoutResult> PlaceAsync(int customerId, IReadOnlyList<OrderLine> lines)
    {
        if (_order is not null)
        {
            // Placing the same order again (a retried checkout) returns what happened the first time.
            return Result(_order);
        }

        if (lines.Count == 0)
        {
            return new CheckoutResult(null, CheckoutFailure.EmptyCart, "The order has no lines.");
        }

        var started = Stopwatch.GetTimestamp();
        var now = time.GetUtcNow();
        var total = lines.Sum(line => line.UnitPrice * line.Quantity);
        _order = new Order(OrderId, customerId, OrderStatus.Placed, total, lines, null, null, now, now);
        _sequence = 1;
        var placed = NewEvent(OrderEventKind.Placed, null);
        await orders.InsertAsync(_order, placed);
        await PublishAsync(placed);

        var deadline = CallDeadline.Current();
        CheckoutResult result;
        try
        {
            result = await RunSagaAsync(deadline);
        }
        catch (Exception e)
        {
            // A step threw (a call timed out, a silo died): the customer's checkout failed, and the order is left to the
            // recovery sweep. Counted with the exception's type, so a stall shows among the failures as it happens.
            RecordCheckout(started, "error", e.GetType().Name);
            throw;
        }

        var confirmed = result.Order?.Status == OrderStatus.Confirmed;
        if (confirmed)
        {
            // Confirmed after the edge had told the customer it timed out: work nobody waits for any more.
            ResilienceTelemetry.FinishedAt(deadline, DateTimeOffset.UtcNow, "order-saga");
        }

        RecordCheckout(started, confirmed ? "confirmed" : "cancelled", confirmed ? null : result.Failure.ToString());
        return result;
    }

    /// <param name="failure">Null for a confirmed order, else the reason it counts as failed.</param>
    private static void RecordCheckout(long started, string outcome, string? failure)
    {
        LabTelemetry.CheckoutDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));
        if (failure is null)
        {
            LabTelemetry.OrdersPlaced.Add(1);
        }
        else
        {
            LabTelemetry.OrdersFailed.Add(1, new KeyValuePair<string, object?>("reason", failure));
        }
    }

    private async Task<CheckoutResult> RunSagaAsync(DateTimeOffset? deadline)
    {
        var order = _order!;
        // The caller's deadline bounds every step, and a spent one stops the saga.
        var propagation = ShopSeams.DeadlinePropagation.Resolve(identity, policies.Deadlines);
        var honoured = propagation.Honoured ? deadline : null;
        // The budget shrinks downstream: the charge must be done a margin before the caller's deadline, which leaves the
        // saga time to record it and confirm the order before its caller gives up.
        var chargeBy = propagation.PassDown(honoured);
        // Lines are reserved in SKU order, the one lock order every saga shares.
        var lines = order.Lines.OrderBy(line => line.Sku, StringComparer.Ordinal).ToList();
        var reserved = new List<OrderLine>(lines.Count);
        foreach (var line in lines)
        {
            var reservation = await ReserveAsync(line);
            if (reservation.Outcome is not (ReservationOutcome.Reserved or ReservationOutcome.AlreadyReserved))
            {
                await ReleaseAsync(reserved);
                return await CancelAsync(CheckoutFailure.OutOfStock, $"{line.Sku}: {reservation.Outcome} (available {reservation.Available})");
            }

            reserved.Add(line);
        }

        await AdvanceAsync(OrderStatus.StockReserved, OrderEventKind.StockReserved);
        if (Spent(chargeBy))
        {
            await ReleaseAsync(reserved);
            return await CancelAsync(CheckoutFailure.TimedOut, "too little of the caller's budget was left to charge; nothing charged");
        }

        PaymentResult charge;
        using (var budget = CallDeadline.Until(chargeBy, DateTimeOffset.UtcNow))
        {
            // Payments gets the shrunken deadline; when the saga honours none, the caller's, which only counts orphans there.
            charge = await ChargeAsync(order.Total, chargeBy ?? deadline, budget?.Token ?? CancellationToken.None);
        }

        // A charge stopped by its shrunken budget is a timeout too, though the caller's deadline has not passed yet.
        var timedOut = Spent(honoured) || (honoured is not null && charge.DeadlinePassed);
        if (!charge.Succeeded || timedOut)
        {
            await ReleaseAsync(reserved);
            if (charge.Succeeded || charge.Uncertain)
            {
                RefundInBackground();
            }

            return timedOut
                ? await CancelAsync(CheckoutFailure.TimedOut, "the charge ran out of its share of the caller's deadline; any charge is refunded")
                : await CancelAsync(CheckoutFailure.PaymentFailed, charge.Error);
        }

        _order = _order! with { PaymentId = charge.Charge!.ChargeId };
        await AdvanceAsync(OrderStatus.PaymentCaptured, OrderEventKind.PaymentCaptured);

        var committed = new List<OrderLine>(lines.Count);
        foreach (var line in lines)
        {
            if (await Inventory(line.Sku).CommitAsync(OrderId) is CommitOutcome.NotReserved)
            {
                // The reservation expired while the saga ran: undo everything and refund.
                await EnsureCurrentAsync();
                foreach (var done in committed)
                {
                    await Inventory(done.Sku).ReturnAsync(OrderId, done.Quantity);
                }

                await ReleaseAsync(lines.Except(committed).ToList());
                var refund = await payments.RefundAsync(charge.Charge.ChargeId);
                return await CancelAsync(CheckoutFailure.OutOfStock,
                    $"{line.Sku}: reservation expired before commit; refund {(refund.Succeeded ? "done" : $"failed: {refund.Error}")}", refunded: true);
            }

            committed.Add(line);
        }

        await AdvanceAsync(OrderStatus.Confirmed, OrderEventKind.Confirmed);
        return Result(_order!);
    }

    /// <summary>
    /// Charges the order: once (the payments client is the layer that retries), unless the charge-retry seam says this
    /// layer retries too, which multiplies the load on payments.
    /// </summary>
    private async Task<PaymentResult> ChargeAsync(decimal total, DateTimeOffset? deadline, CancellationToken cancellationToken)
    {
        var attempts = ShopSeams.ChargeRetry.Resolve(identity, RetryPolicy.Once).Attempts;
        var items = _order!.Lines.Select(line => new ChargeItem(line.Sku, line.Quantity, line.UnitPrice)).ToList();
        var charge = await payments.ChargeAsync(OrderId, total, items, deadline, cancellationToken);
        for (var attempt = 2; !charge.Succeeded && attempt <= attempts; attempt++)
        {
            ResilienceTelemetry.Retried("grain");
            charge = await payments.ChargeAsync(OrderId, total, items, deadline, cancellationToken);
        }

        return charge;
    }

    /// <summary>
    /// A charge may exist although its answer never came back (timeout, dropped connection): refund whatever payments
    /// holds for the order. In the background, so a payments outage (the likely reason) does not hold the saga's answer.
    /// </summary>
    private void RefundInBackground()
    {
        var orderId = OrderId;
        _ = Task.Run(async () =>
        {
            if (await payments.RefundAllAsync(orderId) is { } error)
            {
                logger.LogWarning("Order {OrderId}: charges may be left after cancellation: {Error}", orderId, error);
            }
        });
    }

    private static bool Spent(DateTimeOffset? deadline) => CallDeadline.IsSpent(deadline);

    public async Task MarkShippedAsync(string shipmentId)
    {
        if (_order is not { Status: OrderStatus.Confirmed })
        {
            return;
        }

        await AdvanceAsync(OrderStatus.Shipped, OrderEventKind.Shipped, shipmentId);
    }

    /// <summary>
    /// Recovery (see OrderRecoveryService): publishes again, in sequence, the events of the outbox that no consumer has
    /// acknowledged (consumers skip what they already applied), then resumes the saga if it stopped mid-way (its step
    /// threw, e.g. a grain on a dead silo). A call gets here only between turns of this non-reentrant grain, so a
    /// non-final order here has no saga running.
    /// </summary>
    public async Task RecoverAsync()
    {
        if (_order is null)
        {
            return;
        }

        var pending = await orders.GetOutboxAsync(_order);
        foreach (var orderEvent in pending)
        {
            await _events!.OnNextAsync(orderEvent);
        }

        if (pending.Count > 0)
        {
            logger.LogWarning("Order {OrderId}: published {Count} unacknowledged event(s) again, from #{First}", OrderId, pending.Count, pending[0].Sequence);
            EventsRedelivered.Add(pending.Count);
        }

        await ResumeSagaAsync(CancellationToken.None);
    }

    private IInventoryGrain Inventory(string sku) => GrainFactory.GetGrain<IInventoryGrain>(sku);

    private async Task<ReservationResult> ReserveAsync(OrderLine line)
    {
        if (ShopSeams.ReservationCalls.Resolve(identity, ReservationCalls.CallChainReentrant) == ReservationCalls.CallChainReentrant)
        {
            // Should the inventory grain call back into this order while it awaits the reservation, call-chain
            // reentrancy lets that call-back in instead of queueing it behind this request (which would deadlock).
            using (RequestContext.AllowCallChainReentrancy())
            {
                return await Inventory(line.Sku).ReserveAsync(OrderId, line.Quantity);
            }
        }

        return await Inventory(line.Sku).ReserveAsync(OrderId, line.Quantity);
    }

    private async Task ReleaseAsync(IEnumerable<OrderLine> lines)
    {
        await EnsureCurrentAsync();
        foreach (var line in lines)
        {
            await Inventory(line.Sku).ReleaseAsync(OrderId);
        }
    }

    private async Task<CheckoutResult> CancelAsync(CheckoutFailure failure, string? detail, bool refunded = false)
    {
        await EnsureCurrentAsync();
        if (!refunded && _order!.PaymentId is { } paymentId)
        {
            // Only a resumed saga gets here paid: a cancelled order must not keep the customer's money.
            await payments.RefundAsync(paymentId);
        }

        logger.LogWarning("Order {OrderId} cancelled: {Failure} {Detail}", OrderId, failure, detail);
        _order = _order! with { FailureReason = $"{failure}: {detail}" };
        await AdvanceAsync(OrderStatus.Cancelled, OrderEventKind.Cancelled, detail);
        return new CheckoutResult(_order, failure, detail);
    }

    private async Task AdvanceAsync(OrderStatus status, OrderEventKind kind, string? detail = null)
    {
        _order = _order! with { Status = status, UpdatedAt = time.GetUtcNow() };
        _sequence++;
        var advanced = NewEvent(kind, detail);
        try
        {
            await orders.UpdateStatusAsync(_order, advanced);
        }
        catch (OrderFencedException fenced)
        {
            Stale(fenced);
            throw;
        }

        await PublishAsync(advanced);
    }

    /// <summary>
    /// Before undoing anything (releasing stock, refunding): is this activation still the order's? One whose silo was
    /// presumed dead may wake to find that another activation has carried the order on; undoing its work would take
    /// back stock and money a confirmed order holds.
    /// </summary>
    /// <exception cref="OrderFencedException">Another activation has advanced the order.</exception>
    private async Task EnsureCurrentAsync()
    {
        if (await orders.GetLastSequenceAsync(OrderId) is { } stored && stored != _sequence)
        {
            var fenced = new OrderFencedException(OrderId, _sequence);
            Stale(fenced);
            throw fenced;
        }
    }

    /// <summary>This activation is a stale duplicate: counted, and gone once the call ends (the next call loads the order anew).</summary>
    private void Stale(OrderFencedException fenced)
    {
        StaleActivations.Add(1);
        logger.LogWarning("{Message} It stops here and is deactivated.", fenced.Message);
        DeactivateOnIdle();
    }

    private OrderEvent NewEvent(OrderEventKind kind, string? detail) =>
        new(Guid.NewGuid(), OrderId, _sequence, kind, _order!.UpdatedAt, _order.CustomerId, _order.Total, detail);

    /// <summary>
    /// Publishes an event its outbox already holds. A stream that fails (its queue was on a silo that just died) does not
    /// fail the saga: the event is durable, and the recovery sweep publishes it again.
    /// </summary>
    private async Task PublishAsync(OrderEvent orderEvent)
    {
        if (ScenarioRuntime.IsActiveAt(HookPoint.StreamProduce))
        {
            var hook = new HookContext(HookPoint.StreamProduce, identity)
            {
                GrainInterface = nameof(IOrderGrain),
                GrainKey = OrderId.ToString(),
                Carrier = orderEvent,
            };
            await ScenarioRuntime.InvokeAsync(hook);
            if (hook.PublishDelay is { } delay)
            {
                PublishLate(orderEvent, delay);
                return;
            }
        }

        try
        {
            await _events!.OnNextAsync(orderEvent);
        }
        catch (Exception ex) when (ex is not InjectedFaultException)
        {
            logger.LogWarning(ex, "Order {OrderId}: event {Kind} #{Sequence} not published; the outbox keeps it for the recovery sweep",
                OrderId, orderEvent.Kind, orderEvent.Sequence);
            PublishFailures.Add(1);
        }
    }

    /// <summary>Publishes <paramref name="orderEvent"/> after <paramref name="delay"/> (a hook held it back), behind the events that follow it.</summary>
    private void PublishLate(OrderEvent orderEvent, TimeSpan delay)
    {
        IGrainTimer? timer = null;
        timer = this.RegisterGrainTimer(async _ =>
        {
            timer?.Dispose();
            await _events!.OnNextAsync(orderEvent);
        }, delay, Timeout.InfiniteTimeSpan);
    }

    private static CheckoutResult Result(Order order) => order.Status switch
    {
        OrderStatus.Cancelled when order.FailureReason?.StartsWith(nameof(CheckoutFailure.PaymentFailed), StringComparison.Ordinal) == true
            => new CheckoutResult(order, CheckoutFailure.PaymentFailed, order.FailureReason),
        OrderStatus.Cancelled => new CheckoutResult(order, CheckoutFailure.OutOfStock, order.FailureReason),
        _ => new CheckoutResult(order, CheckoutFailure.None, null),
    };
}
