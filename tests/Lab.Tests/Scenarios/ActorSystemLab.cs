using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Lab.Cli.Verify;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// A lab of its own for the scenarios that kill, freeze or restart silos: the launcher restarts what exits, membership
/// declares a silent silo dead in seconds (Orleans:Membership shrunk as an operator would for a small cluster), and the
/// recovery sweep resumes orders within seconds, so a test sees the whole failure and the recovery.
/// </summary>
public sealed class ActorSystemLabFixture : ScenarioLabFixture
{
    /// <summary>How long an order may sit mid-saga before the sweep resumes it (Shop:OrderRecoveryAfter), shrunk.</summary>
    public static readonly TimeSpan RecoveryAfter = TimeSpan.FromSeconds(5);

    protected override bool TelemetryViewer => false;

    protected override IReadOnlyDictionary<string, string> ExtraSettings { get; } = new Dictionary<string, string>
    {
        ["Orleans__ResponseTimeout"] = "00:00:05",
        ["Orleans__Membership__ProbeTimeout"] = "00:00:01",
        ["Orleans__Membership__NumMissedProbesLimit"] = "2",
        ["Orleans__Membership__NumVotesForDeathDeclaration"] = "1",
        ["Shop__OrderRecoveryAfter"] = "00:00:05",
        ["Shop__OrderRecoveryInterval"] = "00:00:01",
        ["Payments__Timeout"] = "00:00:03",
        // Loads run for a minute at a time: checkouts never run out of stock.
        ["Seed__MinStock"] = "100000",
        ["Seed__MaxStock"] = "100000",
    };

    /// <summary>Every process of the lab answers /health (after a restart, the new one is up and warm).</summary>
    public async Task WaitAllHealthyAsync(TimeSpan bound)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        foreach (var service in Services)
        {
            await Eventually.GetAsync(async () =>
            {
                try
                {
                    using var response = await http.GetAsync($"{UrlOf(service)}/health");
                    return response.StatusCode;
                }
                catch (HttpRequestException)
                {
                    return HttpStatusCode.ServiceUnavailable;
                }
                catch (TaskCanceledException)
                {
                    return HttpStatusCode.RequestTimeout;
                }
            }, status => status == HttpStatusCode.OK, bound, $"{service} is healthy");
        }
    }

    /// <summary>lab verify on the lab's databases, orders untouched for <see cref="RecoveryAfter"/> twice counting as stuck.</summary>
    public IReadOnlyList<Violation> Verify()
    {
        using var shop = LabProcessesFixture.OpenDatabase(Lab, "shop.db");
        using var payments = LabProcessesFixture.OpenDatabase(Lab, "payments.db");
        return ShopVerifier.Verify(shop, payments, 2 * RecoveryAfter, DateTimeOffset.UtcNow);
    }
}

[CollectionDefinition(Name)]
public sealed class ActorSystemLabCollection : ICollectionFixture<ActorSystemLabFixture>
{
    public const string Name = "actor-system lab";
}

/// <summary>
/// Shoppers checking out one item at a time in a loop, each outcome recorded with its time, until stopped: the load under
/// which a silo fails. Each shopper is its own customer, and SKUs rotate over a range no other test uses.
/// </summary>
public sealed class CheckoutLoad : IAsyncDisposable
{
    private readonly ConcurrentQueue<(TimeSpan At, HttpStatusCode Status)> _results = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task[] _shoppers;

    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(50);

    public CheckoutLoad(HttpClient storefront, int shoppers, int firstCustomer, int firstSku, int skus)
    {
        _shoppers = Enumerable.Range(0, shoppers).Select(shopper => Task.Run(async () =>
        {
            var customer = firstCustomer + shopper;
            for (var round = 0; !_stop.IsCancellationRequested; round++)
            {
                var sku = $"SKU-{firstSku + (shopper * 7 + round) % skus:00000}";
                try
                {
                    using var added = await storefront.PostAsJsonAsync($"/api/carts/{customer}/items", new { sku, quantity = 1 });
                    if (!added.IsSuccessStatusCode)
                    {
                        await RecordFailureAsync("add", added);
                        continue;
                    }

                    using var response = await storefront.PostAsync($"/api/carts/{customer}/checkout", null);
                    _results.Enqueue((_clock.Elapsed, response.StatusCode));
                    if (response.StatusCode != HttpStatusCode.Created)
                    {
                        await RecordFailureAsync("checkout", response);
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    _results.Enqueue((_clock.Elapsed, HttpStatusCode.GatewayTimeout));
                }

                // A shopper's pace, not a benchmark's: the machine's cores stay shared with the silos under test.
                await Task.Delay(Pause);
            }
        })).ToArray();
    }

    private readonly ConcurrentQueue<string> _failures = new();

    /// <summary>What failed, when, and what the shop said (the first words of the problem's detail).</summary>
    public IReadOnlyList<string> Failures => [.. _failures];

    private async Task RecordFailureAsync(string step, HttpResponseMessage response)
    {
        if (step == "add")
        {
            _results.Enqueue((_clock.Elapsed, response.StatusCode));
        }

        var body = await response.Content.ReadAsStringAsync();
        _failures.Enqueue($"{_clock.Elapsed.TotalSeconds:0.0}s {step} {(int)response.StatusCode}: {body[..Math.Min(body.Length, 160)]}");
    }

    /// <summary>Time since the load started.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    public IReadOnlyList<(TimeSpan At, HttpStatusCode Status)> Results => [.. _results];

    public int Confirmed => _results.Count(r => r.Status == HttpStatusCode.Created);

    /// <summary>
    /// Waits until every checkout of the last <paramref name="window"/> confirmed (at least a few of them), the load's
    /// proof that the cluster serves again; a silo that joins can cost a few calls of its own, so this polls rather
    /// than judging one fixed window. Returns that window's outcomes.
    /// </summary>
    public async Task<IReadOnlyList<(TimeSpan At, HttpStatusCode Status)>> SettledAsync(TimeSpan window, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var now = Elapsed;
            var last = Results.Where(r => r.At > now - window).ToList();
            if (now > window && last.Count >= 5 && last.All(r => r.Status == HttpStatusCode.Created))
            {
                return last;
            }

            if (clock.Elapsed > bound)
            {
                throw new TimeoutException($"Checkouts did not all confirm for {window.TotalSeconds:0} s within {bound.TotalSeconds:0} s; the last {window.TotalSeconds:0} s: {Describe(last)}");
            }

            await Task.Delay(500);
        }
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_shoppers);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    public static string Describe(IEnumerable<(TimeSpan At, HttpStatusCode Status)> results) =>
        string.Join(", ", results.GroupBy(r => (int)r.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()}x{g.Key}"));
}

/// <summary>Helpers the actor-system tests share: waiting for the lab to be whole and clean again, and printing what verify found.</summary>
internal static class ActorSystemAsserts
{
    /// <summary>Waits until lab verify finds nothing (orders resumed, events delivered), printing what it still finds.</summary>
    public static async Task VerifiedCleanAsync(ActorSystemLabFixture fixture, ITestOutputHelper output, TimeSpan bound)
    {
        var violations = await Eventually.GetAsync(() => Task.FromResult(fixture.Verify()), found => found.Count == 0, bound, "lab verify clean")
            .ContinueWith(task => task.IsCompletedSuccessfully ? task.Result : fixture.Verify(), TaskScheduler.Default);
        foreach (var violation in violations)
        {
            output.WriteLine($"  {violation}");
            // What the processes logged about it (its id), so a failure here says where the shop lost track of it.
            foreach (var process in fixture.Lab.Processes)
            {
                foreach (var line in process.Tail(20_000).Split('\n').Where(l => l.Contains(violation.Id, StringComparison.OrdinalIgnoreCase)).TakeLast(20))
                {
                    output.WriteLine($"    {process.Name}: {line.Trim()}");
                }
            }
        }

        Assert.Empty(violations);
    }
}
