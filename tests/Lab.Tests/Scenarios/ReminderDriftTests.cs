using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.ServiceDefaults;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// reminder-drift on a shop cluster whose reservations expire after 2 s (the sweep ticks every 0.5 s): calls that hold one SKU's
/// inventory grain make its sweep tick late. With the sweep alone releasing expired reservations (the fault), every abandoned
/// reservation waits for the late sweep; with the cure (release on every call) the calls release them as they come, though
/// the timer is as late as before. Who released each one is read from the inventory grain's own log.
/// </summary>
[ScenarioTest(ReminderDriftScenario.Name)]
[Collection(ShortReservationsClusterCollection.Name)]
public sealed class ReminderDriftTests(ShortReservationsClusterFixture cluster, ITestOutputHelper output) : IAsyncLifetime
{
    private const string Sku = "SKU-00014";
    private static readonly TimeSpan Hold = TimeSpan.FromMilliseconds(150);
    private const int AbandonedCount = 6;
    private const int Callers = 4;

    private ShopClusterFixture Shop => cluster.Shop;

    private ScenarioSwitch Scenarios => new(Shop.Cluster);

    public Task InitializeAsync() => Scenarios.ResetAsync();

    public Task DisposeAsync() => Scenarios.ResetAsync();

    [Fact]
    public async Task A_busy_grain_makes_its_sweep_late_and_only_release_on_use_keeps_expired_reservations_from_waiting_for_it()
    {
        var naive = await PhaseAsync(cure: false);
        var cured = await PhaseAsync(cure: true);
        output.WriteLine($"sweep only: {naive}");
        output.WriteLine($"release on every call: {cured}");

        // The fault: four callers each holding the grain's turn, so a tick waits behind the calls queued before it.
        Assert.True(naive.DriftMeanMs >= Hold.TotalMilliseconds / 2, $"the sweep was only {naive.DriftMeanMs:0} ms late on average with {Hold.TotalMilliseconds} ms holds");
        // Without the cure only the (late) sweep releases what expired.
        Assert.Equal(AbandonedCount, naive.ReleasedBy.Count);
        Assert.All(naive.ReleasedBy.Values, by => Assert.Equal("sweep", by));

        // The cure keeps the fault (the timer is as late) and releases on use: the calls that keep coming release the abandoned
        // reservations before the late tick gets its turn (a tick that does come first releases what it finds).
        Assert.True(cured.DriftMeanMs >= Hold.TotalMilliseconds / 2, $"the timer was on time with the cure ({cured.DriftMeanMs:0} ms): the fault was not kept");
        Assert.Equal(AbandonedCount, cured.ReleasedBy.Count);
        Assert.Contains("call", cured.ReleasedBy.Values);
    }

    /// <summary>
    /// Reservations abandoned (their orders never commit) on a grain that four callers keep busy until every one was released;
    /// measured: how late the sweep ran, who released each abandoned reservation, and how long past its expiry.
    /// </summary>
    private async Task<Phase> PhaseAsync(bool cure)
    {
        await Scenarios.ResetAsync();
        var inventory = Shop.Client.GetGrain<IInventoryGrain>(Sku);
        var abandoned = new HashSet<Guid>(Enumerable.Range(0, AbandonedCount).Select(_ => Guid.NewGuid()));
        var released = new ConcurrentDictionary<Guid, (string By, double OverstayMs)>();
        using var log = Shop.Logs.Subscribe(typeof(Lab.Grains.InventoryGrain).FullName!, entry =>
        {
            if (entry.TryGetValue("OrderId", out var order) && order is Guid id && abandoned.Contains(id)
                && entry.TryGetValue("ReleasedBy", out var by) && entry.TryGetValue("OverstayMs", out var ms) && ms is double overstay)
            {
                released[id] = ((string)by!, overstay);
            }
        });

        await Scenarios.EnableAsync(ReminderDriftScenario.Name, new Dictionary<string, string>
        {
            ["sku"] = Sku, ["hold"] = $"{Hold.TotalMilliseconds}ms", ["cure"] = cure ? "true" : "false",
        });
        using var drift = new TimerDrift();
        foreach (var order in abandoned)
        {
            Assert.Equal(ReservationOutcome.Reserved, (await inventory.ReserveAsync(order, 1)).Outcome);
        }

        // Callers that keep the grain busy: each reserves one unit for an order of its own and releases it at once.
        using var stop = new CancellationTokenSource();
        var callers = Enumerable.Range(0, Callers).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var order = Guid.NewGuid();
                await inventory.ReserveAsync(order, 1);
                await inventory.ReleaseAsync(order);
            }
        })).ToList();

        // Until every abandoned reservation was released (bounded: many times the reservations' lifetime).
        await Eventually.GetAsync(() => Task.FromResult(released.Count), count => count == AbandonedCount,
            ShortReservationsClusterFixture.ReservationTtl * 10, $"the {AbandonedCount} abandoned reservations are released");
        await stop.CancelAsync();
        await Task.WhenAll(callers);
        await Scenarios.ResetAsync();
        return new Phase(drift.MeanMs, released.ToDictionary(r => r.Key, r => r.Value.By), released.Values.Average(r => r.OverstayMs));
    }

    private sealed record Phase(double DriftMeanMs, IReadOnlyDictionary<Guid, string> ReleasedBy, double OverstayMeanMs)
    {
        public override string ToString() =>
            $"sweep drift mean {DriftMeanMs:0} ms; the abandoned reservations released by {string.Join(", ", ReleasedBy.Values.GroupBy(b => b).Select(g => $"{g.Key} {g.Count()}"))}, " +
            $"{OverstayMeanMs:0} ms past their expiry on average";
    }

    /// <summary>The reservation sweep's drift as it is recorded in this process (the test cluster's silos run here).</summary>
    private sealed class TimerDrift : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<double> _drifts = new();

        public TimerDrift()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == LabTelemetry.MeterName && instrument.Name == "lab.timer.drift")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, value, _, _) => _drifts.Enqueue(value));
            _listener.Start();
        }

        public double MeanMs => _drifts.IsEmpty ? 0 : _drifts.Average() * 1000;

        public void Dispose() => _listener.Dispose();
    }
}

/// <summary>The shop cluster with reservations that expire after 2 s, for tests that wait for expiries.</summary>
public sealed class ShortReservationsClusterFixture : IAsyncLifetime
{
    public static readonly TimeSpan ReservationTtl = TimeSpan.FromSeconds(2);

    public ShopClusterFixture Shop { get; } = new(products: 40, new Dictionary<string, string?>
    {
        ["Shop:ReservationTtl"] = ReservationTtl.ToString(),
    });

    public Task InitializeAsync() => Shop.InitializeAsync();

    public Task DisposeAsync() => Shop.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class ShortReservationsClusterCollection : ICollectionFixture<ShortReservationsClusterFixture>
{
    public const string Name = "shop cluster with short reservations";
}
