using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.ServiceDefaults;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// reminder-drift on the shop cluster (reservations expire after 10 s, the sweep ticks every 0.5 s): calls that hold one SKU's
/// inventory grain make its sweep tick late, and with the sweep alone releasing expired reservations they hold their units
/// as long; with the cure (release on every call) they do not, though the timer is as late as before.
/// </summary>
[Collection(ShopClusterCollection.Name)]
public sealed class ReminderDriftTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const string Sku = "SKU-00014";
    private static readonly TimeSpan Hold = TimeSpan.FromMilliseconds(150);
    private const int AbandonedCount = 8;
    private static readonly TimeSpan AbandonedSpacing = TimeSpan.FromMilliseconds(200);

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task A_busy_grain_makes_its_sweep_late_and_only_inline_expiry_stops_reservations_overstaying()
    {
        var naive = await PhaseAsync(cure: false);
        var cured = await PhaseAsync(cure: true);
        var off = await PhaseAsync(cure: null);
        output.WriteLine($"sweep only: drift mean {naive.DriftMs:0} ms (max {naive.DriftMaxMs:0}), overstay of the abandoned reservations {naive.OverstayMs:0} ms; " +
                         $"release on every call: drift mean {cured.DriftMs:0} ms, overstay {cured.OverstayMs:0} ms; scenario off: drift mean {off.DriftMs:0} ms, " +
                         $"overstay {off.OverstayMs:0} ms");

        // Four callers, each call holding the grain 150 ms: a tick waits for the calls queued before it.
        Assert.True(naive.DriftMs >= Hold.TotalMilliseconds, $"the sweep was only {naive.DriftMs:0} ms late on average");
        Assert.True(naive.OverstayMs >= naive.DriftMs / 2, $"expired reservations were released {naive.OverstayMs:0} ms late only");
        // The cure keeps the fault (the timer is as late) and releases on the next call instead.
        Assert.True(cured.DriftMs >= Hold.TotalMilliseconds, "the timer was on time: the fault was not kept");
        Assert.True(cured.OverstayMs < naive.OverstayMs / 2, $"with the cure expired reservations still overstayed {cured.OverstayMs:0} ms");
        // Off: the same callers no longer hold the grain, and the sweep is about on time again.
        Assert.True(off.DriftMs < naive.DriftMs / 2, $"with the scenario off the sweep was still {off.DriftMs:0} ms late");
    }

    /// <summary>
    /// Reservations abandoned (their orders never commit) on a grain that four callers keep busy; measured: how late the sweep ran,
    /// and how long the abandoned reservations held their units past expiry.
    /// </summary>
    /// <param name="cure">Null: the scenario stays off (the recovery).</param>
    private async Task<Phase> PhaseAsync(bool? cure)
    {
        await _scenarios.ResetAsync();
        var inventory = fixture.Client.GetGrain<IInventoryGrain>(Sku);
        var abandoned = Enumerable.Range(0, AbandonedCount).Select(_ => Guid.NewGuid()).ToList();
        foreach (var order in abandoned)
        {
            // Spread over more than one sweep cycle (its period plus its drift): how long one reservation overstays depends on
            // where in the cycle it expired, so a mean over expiries spread across the cycle is what the sweep costs.
            Assert.Equal(ReservationOutcome.Reserved, (await inventory.ReserveAsync(order, 1)).Outcome);
            await Task.Delay(AbandonedSpacing);
        }

        var expiresAt = Stopwatch.GetTimestamp() + (long)(ShopClusterFixture.ReservationTtl.TotalSeconds * Stopwatch.Frequency);
        if (cure is { } cured)
        {
            await _scenarios.EnableAsync(ReminderDriftScenario.Name, new Dictionary<string, string>
            {
                ["sku"] = Sku, ["hold"] = $"{Hold.TotalMilliseconds}ms", ["cure"] = cured ? "true" : "false",
            });
        }

        using var measured = new TimerMeasurements();
        // How late each abandoned reservation was released, from the inventory grain's log: other tests' orders expire too.
        var overstays = new ConcurrentDictionary<Guid, double>();
        using var released = fixture.Logs.Subscribe(typeof(Lab.Grains.InventoryGrain).FullName!, entry =>
        {
            if (entry.TryGetValue("OrderId", out var order) && order is Guid id && abandoned.Contains(id)
                && entry.TryGetValue("OverstayMs", out var ms) && ms is double overstay)
            {
                overstays[id] = overstay;
            }
        });
        using var stop = new CancellationTokenSource();
        // Callers that keep the grain busy: each reserves one unit for an order of its own and releases it at once.
        var callers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var order = Guid.NewGuid();
                await inventory.ReserveAsync(order, 1);
                await inventory.ReleaseAsync(order);
            }
        })).ToList();

        // Until the abandoned reservations are released (bounded: 10 s past their expiry).
        var bound = expiresAt + 10 * Stopwatch.Frequency;
        while (overstays.Count < abandoned.Count && Stopwatch.GetTimestamp() < bound)
        {
            await Task.Delay(100);
        }

        await stop.CancelAsync();
        await Task.WhenAll(callers);
        await _scenarios.ResetAsync();
        Assert.True(overstays.Count == abandoned.Count, $"only {overstays.Count} of {abandoned.Count} abandoned reservations were released");
        var drifts = measured.Drifts.ToList();
        return new Phase(drifts.Average() * 1000, drifts.Max() * 1000, overstays.Values.Average());
    }

    private sealed record Phase(double DriftMs, double DriftMaxMs, double OverstayMs);

    /// <summary>The reservation sweep's drift as it is recorded in this process (the test cluster's silos run here).</summary>
    private sealed class TimerMeasurements : IDisposable
    {
        private readonly MeterListener _listener = new();

        public TimerMeasurements()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == LabTelemetry.MeterName && instrument.Name == "lab.timer.drift")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, value, _, _) => Drifts.Enqueue(value));
            _listener.Start();
        }

        public ConcurrentQueue<double> Drifts { get; } = new();

        public void Dispose() => _listener.Dispose();
    }
}
