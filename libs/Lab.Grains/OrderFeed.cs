using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Lab.Contracts;
using Lab.Scenarios;
using Lab.ServiceDefaults;
using Lab.Shop;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace Lab.Grains;

/// <summary>
/// The order feed: every order event goes to every subscriber (partner systems numbered 1..n). The shop's own delivery
/// gathers the events of a silo for a short window and sends each subscriber one batch, a few deliveries at a time; the
/// naive one (the order-feed-delivery seam's <see cref="FeedDelivery.PerEvent"/>) calls every subscriber for every event
/// at once, so the calls multiply with subscribers × events and queue at the subscribers.
/// </summary>
public sealed class OrderFeed(IGrainFactory grains, IOptions<ShopOptions> options, ServiceIdentity identity, ILogger<OrderFeed> logger)
    : BackgroundService
{
    /// <summary>Events one batch holds at most; a longer queue goes out in several.</summary>
    private const int MaxBatch = 500;

    // Bounded: when the subscribers cannot keep up, the feed grains wait here (and the stream behind them), memory does not grow.
    private readonly Channel<OrderEvent> _pending = Channel.CreateBounded<OrderEvent>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });

    private int _inFlight;

    /// <summary>The shop's own delivery, built once from <see cref="ShopOptions"/>.</summary>
    public FeedDelivery Own { get; } = new(true, options.Value.OrderFeedWindow, options.Value.OrderFeedConcurrency);

    public FeedDelivery Delivery => ShopSeams.OrderFeedDelivery.Resolve(identity, Own);

    public int Subscribers => ShopSeams.OrderFeedSubscribers.Resolve(identity, options.Value.OrderFeedSubscribers);

    /// <summary>Hands one event to the feed, the way the delivery in force says.</summary>
    public Task PublishAsync(OrderEvent orderEvent, CancellationToken cancellationToken)
    {
        OrderFeedTelemetry.Events.Add(1);
        return Delivery.Batched
            ? _pending.Writer.WriteAsync(orderEvent, cancellationToken).AsTask()
            : Task.WhenAll(Enumerable.Range(1, Subscribers).Select(subscriber => SendAsync(subscriber, [orderEvent], OrderFeedTelemetry.PerEvent)));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _pending.Reader.WaitToReadAsync(stoppingToken))
            {
                var delivery = Delivery;
                // A queue left behind when the delivery turned per-event still drains, in the shop's own batches.
                var own = delivery.Batched ? delivery : Own;
                await Task.Delay(own.Window, stoppingToken);
                var batch = new List<OrderEvent>();
                while (batch.Count < MaxBatch && _pending.Reader.TryRead(out var next))
                {
                    batch.Add(next);
                }

                var subscribers = Subscribers;
                using var activity = LabTelemetry.Source.StartActivity("order feed delivery");
                activity?.SetTag("lab.order_feed.events", batch.Count);
                activity?.SetTag("lab.order_feed.subscribers", subscribers);
                await Parallel.ForEachAsync(Enumerable.Range(1, subscribers),
                    new ParallelOptions { MaxDegreeOfParallelism = own.MaxInFlight ?? 1, CancellationToken = stoppingToken },
                    async (subscriber, _) => await SendAsync(subscriber, batch, OrderFeedTelemetry.Batched));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SendAsync(int subscriber, IReadOnlyList<OrderEvent> events, string delivery)
    {
        var tag = new KeyValuePair<string, object?>("delivery", delivery);
        OrderFeedTelemetry.InFlight.Record(Interlocked.Increment(ref _inFlight), tag);
        OrderFeedTelemetry.Calls.Add(1, tag);
        try
        {
            await grains.GetGrain<IOrderSubscriberGrain>(subscriber).DeliverAsync(events);
        }
        catch (Exception ex)
        {
            // A subscriber that failed misses these events; the feed does not hold the others back for it.
            OrderFeedTelemetry.Failures.Add(1, tag);
            logger.LogWarning("Order feed: subscriber {Subscriber} missed {Count} event(s): {Error}", subscriber, events.Count, ex.Message);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}

/// <summary>Takes one order's events from its stream and publishes them on the order feed.</summary>
[ImplicitStreamSubscription(OrderStreams.EventsNamespace)]
public sealed class OrderFeedGrain(OrderFeed feed) : Grain, IOrderFeedGrain, IStreamSubscriptionObserver, IAsyncObserver<OrderEvent>
{
    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        handleFactory.Create<OrderEvent>().ResumeAsync(this);

    public Task OnNextAsync(OrderEvent item, StreamSequenceToken? token = null) => feed.PublishAsync(item, CancellationToken.None);

    public Task OnCompletedAsync() => Task.CompletedTask;

    public Task OnErrorAsync(Exception ex) => Task.CompletedTask;
}

/// <summary>A partner system at the end of the order feed: it takes each batch and records how late its events came.</summary>
public sealed class OrderSubscriberGrain(TimeProvider time) : Grain, IOrderSubscriberGrain
{
    public Task DeliverAsync(IReadOnlyList<OrderEvent> events)
    {
        var now = time.GetUtcNow();
        foreach (var orderEvent in events)
        {
            OrderFeedTelemetry.Lag.Record(Math.Max(0, (now - orderEvent.Timestamp).TotalSeconds));
        }

        OrderFeedTelemetry.Deliveries.Add(events.Count);
        return Task.CompletedTask;
    }
}

/// <summary>The order feed's instruments: fan-out (deliveries per event), calls, calls in flight and lag.</summary>
public static class OrderFeedTelemetry
{
    public const string Batched = "batched";
    public const string PerEvent = "per-event";

    internal static readonly Counter<long> Events = LabTelemetry.Meter.CreateCounter<long>(
        "lab.order_feed.events", "{event}", "Order events the order feed took from the order streams.");

    internal static readonly Counter<long> Deliveries = LabTelemetry.Meter.CreateCounter<long>(
        "lab.order_feed.deliveries", "{event}", "Order events received by the feed's subscribers (one event to one subscriber counts once).");

    internal static readonly Counter<long> Calls = LabTelemetry.Meter.CreateCounter<long>(
        "lab.order_feed.calls", "{call}", "Calls from the order feed to its subscribers, by delivery (batched, per-event).");

    internal static readonly Counter<long> Failures = LabTelemetry.Meter.CreateCounter<long>(
        "lab.order_feed.failures", "{call}", "Calls to subscribers that failed (their events are missed by that subscriber).");

    internal static readonly Histogram<int> InFlight = LabTelemetry.Meter.CreateHistogram(
        "lab.order_feed.in_flight", "{call}", "Calls to subscribers in flight in the silo when one more starts: the feed's queue.",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096] });

    internal static readonly Histogram<double> Lag = LabTelemetry.Meter.CreateHistogram(
        "lab.order_feed.lag", "s", "Time from an order event to its arrival at a subscriber.",
        advice: LabTelemetry.SecondsAdvice);
}
