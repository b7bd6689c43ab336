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
/// localhost clustering) loses a silo to SIGKILL in the middle of a checkout load: on PostgreSQL three times in a row (the
/// killed silo is started again between rounds; its membership row is the one reused), on SQLite once. Each time the survivors declare it dead, its grains come back on them,
/// checkouts succeed again, every order it held mid-saga is resumed, and every order event its stream queues lost is
/// published again from the orders' outbox: `lab verify` finds the books clean and the projection equal to the orders.
/// </summary>
public sealed class SiloFailoverTests(ITestOutputHelper output)
{
    private const int Shoppers = 6;
    private const int ConfirmedBeforeKill = 2 * Shoppers;
    private static readonly TimeSpan WarmUpTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan AfterKill = TimeSpan.FromSeconds(12);
    private static readonly TimeSpan LastWindow = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan StuckAfter = TimeSpan.FromSeconds(10);

    // Never silo-1: on SQLite it is the primary silo that localhost clustering cannot do without.
    private static readonly string[] Victims = TestDatabases.IsPostgres ? ["silo-3", "silo-2", "silo-3"] : ["silo-3"];

    [Fact]
    public async Task A_three_silo_lab_survives_a_silo_killed_under_load_with_no_order_or_event_lost()
    {
        using var directory = new TempDirectory("lab-failover");
        await using var databases = new TestLabDatabases();
        var topology = LabProcessesFixture.FreeTopology(directory.Path, telemetryViewer: false, silos: 3, postgres: databases.Shop);
        topology = topology with
        {
            // The test restarts the killed silo itself, between rounds, never during one.
            RestartExited = false,
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

        var confirmed = 0;
        for (var round = 1; round <= Victims.Length; round++)
        {
            var victimName = Victims[round - 1];
            confirmed += await KillUnderLoadAsync(lab, http, victimName, round);

            // No order lost or stuck, no event lost: orders the dead silo held mid-saga are resumed, events its stream
            // queues held are published again from the outbox, and every invariant holds, the projection's included.
            var violations = await Eventually.GetAsync(() => Task.FromResult(Verify(lab)), found => found.Count == 0,
                TimeSpan.FromSeconds(40), $"lab verify clean after kill {round}");
            Assert.Empty(violations);
            output.WriteLine($"round {round}: {victimName} killed, books clean; {OutboxCount(lab)} event(s) left in the outbox");

            if (round < Victims.Length)
            {
                await lab.RestartAsync(victimName);
            }
        }

        using var shop = LabProcessesFixture.OpenDatabase(lab, "shop.db");
        using var count = shop.CreateCommand();
        count.CommandText = $"SELECT COUNT(*) FROM orders WHERE created_at >= {startedAt.ToUnixTimeMilliseconds()}";
        var orders = Convert.ToInt64(await count.ExecuteScalarAsync());
        output.WriteLine($"{orders} orders placed in {Victims.Length} rounds, all final, the projection equal to them");
        Assert.True(orders >= confirmed);
    }

    /// <summary>
    /// Runs the checkout load, kills <paramref name="victimName"/> once it is warm, and asserts the lab recovered:
    /// the others stay up and the last seconds' checkouts all confirm.
    /// </summary>
    /// <returns>The checkouts confirmed in this round.</returns>
    private async Task<int> KillUnderLoadAsync(RunningLab lab, HttpClient http, string victimName, int round)
    {
        var results = new ConcurrentQueue<(TimeSpan At, HttpStatusCode Status)>();
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var shoppers = Enumerable.Range(0, Shoppers).Select(shopper => Task.Run(async () =>
        {
            var customer = 200 + shopper;
            for (var line = 0; !stop.IsCancellationRequested; line++)
            {
                var sku = $"SKU-{20 + (shopper * 7 + round * 13 + line) % 60:00000}";
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
            done => done >= ConfirmedBeforeKill, WarmUpTimeout, $"checkouts confirm before kill {round}");
        var victim = lab.Processes.Single(process => process.Name == victimName);
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
        var lastSeconds = results.Where(r => r.At > until - LastWindow).ToList();
        output.WriteLine($"round {round}: before the kill {Describe(before)}; after {Describe(results.Where(r => r.At >= killedAt))}; " +
                         $"last 4 s {Describe(lastSeconds)}");

        // The lab survived: the other processes are up and checkouts confirm again once the dead silo is declared dead.
        Assert.True(victim.HasExited);
        Assert.Null(lab.Processes.Where(p => p != victim).FirstOrDefault(p => p.HasExited));
        Assert.Contains(before, r => r.Status == HttpStatusCode.Created);
        Assert.NotEmpty(lastSeconds);
        Assert.All(lastSeconds, r => Assert.Equal(HttpStatusCode.Created, r.Status));
        return results.Count(r => r.Status == HttpStatusCode.Created);
    }

    private static long OutboxCount(RunningLab lab)
    {
        using var shop = LabProcessesFixture.OpenDatabase(lab, "shop.db");
        using var count = shop.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM order_outbox";
        return Convert.ToInt64(count.ExecuteScalar());
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
