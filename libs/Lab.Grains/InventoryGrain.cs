using System.Diagnostics;
using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Lab.Shop;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lab.Grains;

/// <summary>
/// The single writer of one SKU's stock. Reservations hold units for an order and expire after
/// <see cref="ShopOptions.ReservationTtl"/>; every change keeps available + reserved + sold = initial stock.
/// </summary>
public sealed class InventoryGrain(
    InventoryRepository inventory, IOptions<ShopOptions> options, ScenarioTimeProvider time, ServiceIdentity identity,
    ILogger<InventoryGrain> logger)
    : Grain, IInventoryGrain
{
    private readonly Dictionary<Guid, ReservationRecord> _reservations = [];
    private StockLevel? _stock;
    private IGrainTimer? _sweep;
    private long _sweepDue;

    private string Sku => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var record = await inventory.LoadAsync(Sku, cancellationToken);
        if (record is null)
        {
            return;
        }

        _stock = record.Stock;
        foreach (var reservation in record.Reservations)
        {
            _reservations[reservation.OrderId] = reservation;
        }

        var interval = options.Value.ReservationSweepInterval;
        _sweepDue = Stopwatch.GetTimestamp() + (long)(interval.TotalSeconds * Stopwatch.Frequency);
        _sweep = this.RegisterGrainTimer(SweepAsync, interval, interval);
    }

    /// <summary>
    /// The reservation sweep, a grain timer: it runs as a turn of this grain, so it waits behind the calls queued before
    /// it, and how late it ran is measured (lab.timer.drift). The next tick is due a period after this one ends.
    /// </summary>
    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        if (_reservations.Count > 0)
        {
            // Ticks with nothing to do are not counted: their lateness would cost nothing.
            var late = Stopwatch.GetElapsedTime(_sweepDue);
            ShopTimers.Drift.Record(Math.Max(0, late.TotalSeconds), new KeyValuePair<string, object?>("timer", "reservation-sweep"));
        }

        await ReleaseExpiredAsync(ReleasedBy.Sweep, cancellationToken);
        _sweepDue = Stopwatch.GetTimestamp() + (long)(options.Value.ReservationSweepInterval.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>
    /// Before a reservation, a release or a commit: the shop's own releases what has expired there and then, so a late sweep never
    /// holds expired units; the reservation-expiry seam's naive variant leaves that to the sweep alone.
    /// </summary>
    private Task ReleaseExpiredInlineAsync() =>
        ShopSeams.ReservationExpiry.Resolve(identity, ReservationExpiry.InlineAndSweep, Sku) == ReservationExpiry.InlineAndSweep
            ? ReleaseExpiredAsync(ReleasedBy.Call, CancellationToken.None)
            : Task.CompletedTask;

    public Task<StockLevel?> GetStockAsync() => Task.FromResult(_stock);

    /// <summary>
    /// The recovery sweep calls this for a SKU whose stored reservations expired and were not released: this activation's
    /// memory is behind the rows (another activation, since gone, wrote them), so it reloads them first.
    /// </summary>
    public async Task ReleaseExpiredAsync()
    {
        await ReloadAsync();
        await ReleaseExpiredAsync(ReleasedBy.Recovery, CancellationToken.None);
    }

    public async Task<ReservationResult> ReserveAsync(Guid orderId, int quantity)
    {
        if (_stock is null)
        {
            return new ReservationResult(ReservationOutcome.UnknownSku, 0);
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(quantity, 1);
        if (_reservations.ContainsKey(orderId))
        {
            return new ReservationResult(ReservationOutcome.AlreadyReserved, _stock.Available);
        }

        if (ShopSeams.ReservationCheck.Resolve(identity, ReservationCheck.TrustCaller) == ReservationCheck.AskOrder)
        {
            // Read the order that asked for this reservation. It is awaiting this call, so unless it allowed call-chain
            // reentrancy the call-back waits for the response timeout: a deadlock.
            await GrainFactory.GetGrain<IOrderGrain>(orderId).GetAsync();
        }

        await ReleaseExpiredInlineAsync();
        if (_stock.Available < quantity)
        {
            return new ReservationResult(ReservationOutcome.OutOfStock, _stock.Available);
        }

        var reservation = new ReservationRecord(orderId, quantity, time.GetUtcNow() + options.Value.ReservationTtl);
        switch (await inventory.ReserveAsync(Sku, reservation))
        {
            case ReservationWrite.OutOfStock:
                // The row disagrees with memory: reload rather than trust either.
                await ReloadAsync();
                return new ReservationResult(ReservationOutcome.OutOfStock, _stock!.Available);
            case ReservationWrite.AlreadyThere:
                // Another activation of this SKU (its silo presumed dead) stored this order's reservation: memory is behind.
                await ReloadAsync();
                return new ReservationResult(ReservationOutcome.AlreadyReserved, _stock!.Available);
        }

        _reservations[orderId] = reservation;
        _stock = _stock with { Available = _stock.Available - quantity, Reserved = _stock.Reserved + quantity };
        return new ReservationResult(ReservationOutcome.Reserved, _stock.Available);
    }

    public async Task<StockLevel?> RestockAsync(int quantity)
    {
        if (_stock is null)
        {
            return null;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(quantity, 1);
        if (!await inventory.RestockAsync(Sku, quantity))
        {
            await ReloadAsync();
            return _stock;
        }

        _stock = _stock with { InitialStock = _stock.InitialStock + quantity, Available = _stock.Available + quantity };
        return _stock;
    }

    public async Task<CommitOutcome> CommitAsync(Guid orderId)
    {
        await ReleaseExpiredInlineAsync();
        if (_stock is null || !_reservations.Remove(orderId, out var reservation))
        {
            return CommitOutcome.NotReserved;
        }

        if (!await inventory.CommitAsync(Sku, reservation))
        {
            await ReloadAsync();
            return CommitOutcome.NotReserved;
        }

        _stock = _stock with { Reserved = _stock.Reserved - reservation.Quantity, Sold = _stock.Sold + reservation.Quantity };
        return CommitOutcome.Committed;
    }

    public async Task ReturnAsync(Guid orderId, int quantity)
    {
        if (_stock is null)
        {
            return;
        }

        logger.LogInformation("Returning {Quantity} x {Sku} of cancelled order {OrderId}", quantity, Sku, orderId);
        if (await inventory.ReturnAsync(Sku, quantity))
        {
            _stock = _stock with { Sold = _stock.Sold - quantity, Available = _stock.Available + quantity };
        }
        else
        {
            await ReloadAsync();
        }
    }

    public async Task<bool> ReleaseAsync(Guid orderId)
    {
        await ReleaseExpiredInlineAsync();
        if (_stock is null || !_reservations.Remove(orderId, out var reservation))
        {
            return false;
        }

        await ReleaseReservationAsync(reservation);
        return true;
    }

    /// <summary>Who released an expired reservation: the sweep timer, a call that found it expired, or the recovery sweep.</summary>
    private static class ReleasedBy
    {
        public const string Sweep = "sweep";
        public const string Call = "call";
        public const string Recovery = "recovery";
    }

    private async Task ReleaseExpiredAsync(string releasedBy, CancellationToken cancellationToken)
    {
        if (_reservations.Count == 0)
        {
            return;
        }

        var now = time.GetUtcNow();
        foreach (var expired in _reservations.Values.Where(r => r.ExpiresAt <= now).ToList())
        {
            _reservations.Remove(expired.OrderId);
            var overstay = now - expired.ExpiresAt;
            ShopTimers.ReservationOverstay.Record(overstay.TotalSeconds, new KeyValuePair<string, object?>("released_by", releasedBy));
            logger.LogInformation("Reservation of {Quantity} x {Sku} for order {OrderId} expired; released {OverstayMs:0} ms past its expiry by the {ReleasedBy}",
                expired.Quantity, Sku, expired.OrderId, overstay.TotalMilliseconds, releasedBy);
            await ReleaseReservationAsync(expired);
        }
    }

    private async Task ReleaseReservationAsync(ReservationRecord reservation)
    {
        if (await inventory.ReleaseAsync(Sku, reservation))
        {
            _stock = _stock! with { Reserved = _stock.Reserved - reservation.Quantity, Available = _stock.Available + reservation.Quantity };
        }
        else
        {
            await ReloadAsync();
        }
    }

    private async Task ReloadAsync()
    {
        var record = await inventory.LoadAsync(Sku);
        _stock = record?.Stock;
        _reservations.Clear();
        foreach (var reservation in record?.Reservations ?? [])
        {
            _reservations[reservation.OrderId] = reservation;
        }
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _sweep?.Dispose();
        return Task.CompletedTask;
    }
}
