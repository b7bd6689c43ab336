using System.Diagnostics;
using System.Net;
using Lab.Tests.Support;
using Lab.Scenarios.Shop;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// async-callback-storm on the real lab: checkouts publish their order events, the order feed fans each out to its
/// subscribers. Counted at both ends: every event reaches every subscriber in each phase; per event, the storm makes one
/// call per subscriber with hundreds in flight, the cure a fraction of a call with at most the shop's bound in flight.
/// </summary>
[ScenarioTest(AsyncCallbackStormScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class AsyncCallbackStormTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const int OwnSubscribers = 8; // Shop:OrderFeedSubscribers
    private const int OwnConcurrency = 4; // Shop:OrderFeedConcurrency
    // Each call of the storm is two spans: 50 subscribers for the 80 events of 16 orders are 4,000 calls, enough to pile them up
    // in flight, and few enough that the telemetry pipeline catches up in seconds rather than minutes.
    private const int StormSubscribers = 50;
    private const int OrdersPerCustomer = 4;

    private static readonly string[] Skus = Enumerable.Range(151, 8).Select(n => $"SKU-{n:00000}").ToArray();

    [Fact]
    public async Task Async_callback_storm_calls_every_subscriber_for_every_event_at_once_and_the_cure_batches_and_bounds_the_calls()
    {
        await fixture.ResetEverywhereAsync();
        await SettledAsync(); // what earlier tests' orders still publish goes out first

        var idle = await PhaseAsync(OwnSubscribers, "batched");
        await fixture.EnableEverywhereAsync("async-callback-storm", $$"""{"parameters":{"subscribers":"{{StormSubscribers}}"},"ttl":"2m"}""");
        var storm = await PhaseAsync(StormSubscribers, "per-event");
        await fixture.EnableEverywhereAsync("async-callback-storm", $$"""{"parameters":{"subscribers":"{{StormSubscribers}}","cure":"true"},"ttl":"2m"}""");
        var cured = await PhaseAsync(StormSubscribers, "batched");
        await fixture.DisableEverywhereAsync("async-callback-storm");
        var recovered = await PhaseAsync(OwnSubscribers, "batched");
        output.WriteLine($"idle ({OwnSubscribers} subscribers): {idle}");
        output.WriteLine($"storm ({StormSubscribers} subscribers, per event): {storm}");
        output.WriteLine($"cure ({StormSubscribers} subscribers, batched): {cured}");
        output.WriteLine($"after disable ({OwnSubscribers} subscribers): {recovered}");

        // The storm's calls are spans too (a client and a server span per call): the next test's traces must not queue behind them.
        output.WriteLine($"telemetry caught up {(await fixture.TelemetryCaughtUpAsync(TimeSpan.FromMinutes(2))).TotalSeconds:0.0} s after the last phase");

        // The fan-out: every event of every phase reached every subscriber, none failed.
        foreach (var (phase, subscribers) in new[] { (idle, OwnSubscribers), (storm, StormSubscribers), (cured, StormSubscribers), (recovered, OwnSubscribers) })
        {
            Assert.True(phase.Counted.Events >= 5 * phase.Checkouts, $"{phase.Counted.Events} events for {phase.Checkouts} orders");
            Assert.Equal(phase.Counted.Events * subscribers, phase.Counted.Deliveries);
            Assert.Equal(0, phase.Counted.Failures);
        }

        // The storm: one call per subscriber per event, all started at once, so calls pile up in flight.
        Assert.Equal(storm.Counted.Events * StormSubscribers, storm.Counted.Calls);
        Assert.True(storm.MeanInFlight > StormSubscribers / 4.0, $"storm: {storm.MeanInFlight:0.0} calls in flight on average");

        // The cure: the same fan-out in batches, never more than the shop's bound in flight in a silo.
        Assert.True(cured.Counted.Calls < 0.6 * cured.Counted.Events * StormSubscribers, $"cure: {cured.Counted.Calls} calls for {cured.Counted.Events} events");
        Assert.Equal(cured.Counted.CallsStarted, cured.Counted.WithinBound);
        Assert.Equal(idle.Counted.CallsStarted, idle.Counted.WithinBound);
        Assert.Equal(recovered.Counted.CallsStarted, recovered.Counted.WithinBound);
    }

    /// <summary>Four customers check out <see cref="OrdersPerCustomer"/> orders each while the feed runs as configured; then waits until every event was delivered.</summary>
    private async Task<FeedPhase> PhaseAsync(int subscribers, string delivery)
    {
        var before = await ReadAsync(delivery);
        var clock = Stopwatch.StartNew();
        var checkouts = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async worker =>
        {
            for (var i = 0; i < OrdersPerCustomer; i++)
            {
                var checkout = await fixture.CheckoutAsync(248 + worker, [Skus[(worker + i) % Skus.Length]]);
                Assert.True(checkout.Status == HttpStatusCode.Created, $"checkout: {(int)checkout.Status} {checkout.Body}");
                Interlocked.Increment(ref checkouts);
            }
        }));
        var checkoutTime = clock.Elapsed;

        // Shipping follows confirmation, so events still come after the last checkout answered: wait until they stop and are all delivered.
        var after = await SettledAsync(before, subscribers, delivery);
        return new FeedPhase(checkouts, checkoutTime, after - before);
    }

    private async Task<FeedCounters> SettledAsync(FeedCounters? before = null, int subscribers = 0, string delivery = "batched")
    {
        var bound = Stopwatch.StartNew();
        var last = await ReadAsync(delivery);
        while (true)
        {
            await Task.Delay(500);
            var now = await ReadAsync(delivery);
            var delivered = before is null
                ? now.Deliveries == last.Deliveries
                : now.Deliveries - before.Deliveries == (now.Events - before.Events) * subscribers;
            if (delivered && now.Events == last.Events)
            {
                return now;
            }

            Assert.True(bound.Elapsed < TimeSpan.FromSeconds(20), $"the order feed did not settle in 20 s: {now}");
            last = now;
        }
    }

    private async Task<FeedCounters> ReadAsync(string delivery)
    {
        var samples = new[] { await fixture.ScrapeAsync("silo-1"), await fixture.ScrapeAsync("silo-2") };
        double Sum(string metric, params (string, string)[] labels) => samples.Sum(s => s.Sum(metric, labels));
        return new FeedCounters(
            Sum("lab_order_feed_events_total"), Sum("lab_order_feed_deliveries_total"),
            Sum("lab_order_feed_calls_total", ("delivery", delivery)), Sum("lab_order_feed_failures_total"),
            Sum("lab_order_feed_in_flight_sum", ("delivery", delivery)), Sum("lab_order_feed_in_flight_count", ("delivery", delivery)),
            Sum("lab_order_feed_in_flight_bucket", ("delivery", delivery), ("le", OwnConcurrency.ToString())),
            Sum("lab_order_feed_lag_seconds_sum"), Sum("lab_order_feed_lag_seconds_count"));
    }

    private sealed record FeedCounters(double Events, double Deliveries, double Calls, double Failures, double InFlightSum, double CallsStarted,
        double WithinBound, double LagSum, double LagCount)
    {
        public static FeedCounters operator -(FeedCounters after, FeedCounters before) =>
            new(after.Events - before.Events, after.Deliveries - before.Deliveries, after.Calls - before.Calls, after.Failures - before.Failures,
                after.InFlightSum - before.InFlightSum, after.CallsStarted - before.CallsStarted, after.WithinBound - before.WithinBound,
                after.LagSum - before.LagSum, after.LagCount - before.LagCount);
    }

    /// <summary>A phase's checkouts and what the feed counted during it.</summary>
    private sealed record FeedPhase(int Checkouts, TimeSpan CheckoutTime, FeedCounters Counted)
    {
        public double MeanInFlight => Counted.CallsStarted > 0 ? Counted.InFlightSum / Counted.CallsStarted : 0;

        public override string ToString()
        {
            var (events, deliveries, calls, failures, _, started, withinBound, lagSum, lagCount) = Counted;
            return $"{Checkouts} checkouts in {CheckoutTime.TotalMilliseconds:0} ms, {events} events, {deliveries} deliveries ({(events > 0 ? deliveries / events : 0):0.#} per event), " +
                   $"{calls} calls ({(events > 0 ? calls / events : 0):0.#} per event), {MeanInFlight:0.0} in flight on average, " +
                   $"{started - withinBound} started above {OwnConcurrency} in flight, lag {(lagCount > 0 ? 1000 * lagSum / lagCount : 0):0} ms mean, {failures} failed";
        }
    }
}
