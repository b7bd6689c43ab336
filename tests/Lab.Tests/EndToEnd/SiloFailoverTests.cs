using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Lab.Cli.Launch;
using Lab.Cli.Verify;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.EndToEnd;

/// <summary>
/// A 3-silo lab of real processes (on PostgreSQL: ADO.NET clustering through the membership table; on SQLite:
/// localhost clustering) loses one silo to SIGKILL in the middle of a checkout load. The survivors declare it dead,
/// its grains come back on them, checkouts succeed again, and every order it held mid-saga is resumed: `lab verify`
/// finds the books clean, with no order lost or stuck.
/// </summary>
public sealed class SiloFailoverTests(ITestOutputHelper output)
{
    private const int Shoppers = 6;
    private const int ConfirmedBeforeKill = 2 * Shoppers;
    private static readonly TimeSpan WarmUpTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan AfterKill = TimeSpan.FromSeconds(12);
    private static readonly TimeSpan LastWindow = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan StuckAfter = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_three_silo_lab_survives_a_killed_silo_under_load_with_no_order_lost_or_stuck()
    {
        using var directory = new TempDirectory("lab-failover");
        await using var databases = new TestLabDatabases();
        var topology = LabProcessesFixture.FreeTopology(directory.Path, telemetryViewer: false, silos: 3, postgres: databases.Shop);
        topology = topology with
        {
            Settings = new Dictionary<string, string>(topology.Settings)
            {
                ["Orleans__ResponseTimeout"] = "00:00:05",
                // Notice the dead silo in seconds, not the default tens of seconds.
                ["Orleans__Membership__ProbeTimeout"] = "00:00:01",
                ["Orleans__Membership__NumMissedProbesLimit"] = "2",
                ["Orleans__Membership__NumVotesForDeathDeclaration"] = "1",
                ["Shop__OrderRecoveryAfter"] = "00:00:05",
                ["Shop__OrderRecoveryInterval"] = "00:00:01",
                ["Payments__Timeout"] = "00:00:03",
            },
        };
        var startedAt = DateTimeOffset.UtcNow;
        await using var lab = await LabLauncher.StartAsync(topology);
        output.WriteLine($"lab up in {lab.StartupTime.TotalSeconds:0.0} s");
        using var http = new HttpClient { BaseAddress = new Uri(lab.Topology.StorefrontUrl), Timeout = TimeSpan.FromSeconds(15) };

        var results = new ConcurrentQueue<(TimeSpan At, HttpStatusCode Status)>();
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var shoppers = Enumerable.Range(0, Shoppers).Select(shopper => Task.Run(async () =>
        {
            var customer = 200 + shopper;
            for (var round = 0; !stop.IsCancellationRequested; round++)
            {
                var sku = $"SKU-{20 + (shopper * 7 + round) % 60:00000}";
                try
                {
                    using var added = await http.PostAsJsonAsync($"/api/carts/{customer}/items", new { sku, quantity = 1 });
                    using var checkout = await http.PostAsync($"/api/carts/{customer}/checkout", null);
                    results.Enqueue((clock.Elapsed, checkout.StatusCode));
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    results.Enqueue((clock.Elapsed, 0));
                }
            }
        })).ToList();

        // Kill once the load runs warm: every process compiled, grains spread over the three silos.
        await Eventually.GetAsync(() => Task.FromResult(results.Count(r => r.Status == HttpStatusCode.Created)),
            confirmed => confirmed >= ConfirmedBeforeKill, WarmUpTimeout, "checkouts confirm before the kill");
        var victim = lab.Processes.Single(process => process.Name == "silo-3");
        var killedAt = clock.Elapsed;
        using (var process = Process.GetProcessById(victim.Id))
        {
            process.Kill();
        }

        await Task.Delay(AfterKill);
        var until = clock.Elapsed;
        stop.Cancel();
        await Task.WhenAll(shoppers);
        var before = results.Where(r => r.At < killedAt).ToList();
        var lastSecond = results.Where(r => r.At > until - LastWindow).ToList();
        output.WriteLine($"before kill: {Describe(before)}; after: {Describe(results.Where(r => r.At >= killedAt))}; last 4 s: {Describe(lastSecond)}");

        // The lab survived: the other processes are up and checkouts confirm again once the dead silo is declared dead.
        Assert.True(victim.HasExited);
        Assert.Null(lab.Processes.Where(p => p != victim).FirstOrDefault(p => p.HasExited));
        Assert.Contains(before, r => r.Status == HttpStatusCode.Created);
        Assert.NotEmpty(lastSecond);
        Assert.All(lastSecond, r => Assert.Equal(HttpStatusCode.Created, r.Status));

        // No order lost or stuck: orders the dead silo held mid-saga are resumed and every invariant holds.
        var violations = await Eventually.GetAsync(() => Task.FromResult(Verify(lab)), found => found.Count == 0,
            TimeSpan.FromSeconds(40), "lab verify clean");
        Assert.Empty(violations);
        using var shop = LabProcessesFixture.OpenDatabase(lab, "shop.db");
        using var count = shop.CreateCommand();
        count.CommandText = $"SELECT COUNT(*) FROM orders WHERE created_at >= {startedAt.ToUnixTimeMilliseconds()}";
        var orders = Convert.ToInt64(await count.ExecuteScalarAsync());
        output.WriteLine($"{orders} orders placed during the run, all final ({clock.Elapsed.TotalSeconds:0} s of load and recovery)");
        Assert.True(orders >= results.Count(r => r.Status == HttpStatusCode.Created));
    }

    private IReadOnlyList<Violation> Verify(RunningLab lab)
    {
        using var shop = LabProcessesFixture.OpenDatabase(lab, "shop.db");
        using var payments = LabProcessesFixture.OpenDatabase(lab, "payments.db");
        var violations = ShopVerifier.Verify(shop, payments, StuckAfter, DateTimeOffset.UtcNow);
        foreach (var violation in violations)
        {
            output.WriteLine($"  {violation}");
        }

        return violations;
    }

    private static string Describe(IEnumerable<(TimeSpan At, HttpStatusCode Status)> results) =>
        string.Join(", ", results.GroupBy(r => (int)r.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()}x{g.Key}"));
}
