using System.Globalization;
using System.Net;
using Lab.Scenarios.Catalog;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// silo-crash under a checkout load: the silo is killed, calls to its grains fail for a window until it is declared dead,
/// the launcher starts a new silo, checkouts succeed again and lab verify finds nothing lost or stuck.
/// </summary>
[ScenarioTest(SiloCrashScenario.Name)]
[Collection(ActorSystemLabCollection.Name)]
public sealed class SiloCrashTests(ActorSystemLabFixture fixture, ITestOutputHelper output)
{
    internal const string Victim = "silo-2";
    // Voted dead, woken, stopped and started again: each step slows on a loaded machine (60 s was too little once on PostgreSQL).
    internal static readonly TimeSpan RestartBound = TimeSpan.FromSeconds(120);

    /// <summary>How long after the new silo is up the checkouts may take to all confirm again (a joining silo costs a few calls).</summary>
    internal static readonly TimeSpan SettleBound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Silo_crash_kills_the_silo_once_the_launcher_restarts_it_and_nothing_is_lost()
    {
        await fixture.ResetEverywhereAsync();
        await fixture.WaitAllHealthyAsync(TimeSpan.FromSeconds(30));
        var victim = fixture.Lab.Processes.Single(p => p.Name == Victim);

        await using var load = new CheckoutLoad(fixture.Storefront, shoppers: 4, firstCustomer: 260, firstSku: 120, skus: 30);
        await Eventually.GetAsync(() => Task.FromResult(load.Confirmed), confirmed => confirmed >= 8, TimeSpan.FromSeconds(30), "checkouts confirm before the crash");
        var enabledAt = load.Elapsed;
        await fixture.EnableAsync(SiloCrashScenario.Name, """{"parameters":{"after":"0s"},"target":{"service":"silo-2"},"ttl":"2m"}""");

        var restarted = await fixture.Lab.WaitRestartedAsync(Victim, victim.Id, RestartBound);
        var record = fixture.Lab.Restarts.Last(r => r.Name == Victim && r.PreviousId == victim.Id);
        // The new silo lives on while the activation is still there: one crash per activation.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(restarted.HasExited, "the silo the launcher started in place of the crashed one crashed too");
        var last = await load.SettledAsync(TimeSpan.FromSeconds(3), SettleBound);
        await load.StopAsync();
        await fixture.DisableEverywhereAsync(SiloCrashScenario.Name);

        var results = load.Results;
        var during = results.Where(r => r.At >= enabledAt).ToList();
        var failures = during.Where(r => r.Status != HttpStatusCode.Created).ToList();
        output.WriteLine($"before {CheckoutLoad.Describe(results.Where(r => r.At < enabledAt))}; after the crash {CheckoutLoad.Describe(during)}; last 3 s " +
                         $"{CheckoutLoad.Describe(last)}; failure window {(failures.Count > 0 ? $"{(failures[^1].At - enabledAt).TotalSeconds:0.0} s" : "none")}; " +
                         $"{Victim} exited with code {record.ExitCode}, back as process {restarted.Id} after {record.Took?.TotalSeconds:0.0} s");

        foreach (var failure in load.Failures)
        {
            output.WriteLine($"  {failure}");
        }

        Assert.NotEmpty(failures); // calls to the dead silo's grains failed until it was declared dead
        Assert.Equal(137, record.ExitCode); // 128 + SIGKILL: killed outright, no shutdown
        Assert.NotEqual(victim.Id, restarted.Id);
        await ActorSystemAsserts.VerifiedCleanAsync(fixture, output, TimeSpan.FromSeconds(40));
    }

}

/// <summary>
/// membership-split under a checkout load: a live silo is frozen until the others vote it dead, and on waking it stops itself;
/// the launcher starts a new one, checkouts succeed again and lab verify finds nothing lost or stuck.
/// </summary>
[ScenarioTest(MembershipSplitScenario.Name)]
[Collection(ActorSystemLabCollection.Name)]
public sealed class MembershipSplitTests(ActorSystemLabFixture fixture, ITestOutputHelper output)
{
    private const string Victim = SiloCrashTests.Victim;
    private static readonly TimeSpan RestartBound = SiloCrashTests.RestartBound;
    private static readonly TimeSpan SettleBound = SiloCrashTests.SettleBound;

    [Fact]
    public async Task Membership_split_freezes_a_live_silo_until_the_others_vote_it_dead_and_it_stops_itself()
    {
        await fixture.ResetEverywhereAsync();
        await fixture.WaitAllHealthyAsync(TimeSpan.FromSeconds(30));
        var victim = fixture.Lab.Processes.Single(p => p.Name == Victim);
        var freeze = TimeSpan.FromSeconds(10);

        await using var load = new CheckoutLoad(fixture.Storefront, shoppers: 4, firstCustomer: 270, firstSku: 150, skus: 30);
        await Eventually.GetAsync(() => Task.FromResult(load.Confirmed), confirmed => confirmed >= 8, TimeSpan.FromSeconds(30), "checkouts confirm before the freeze");
        var enabledAt = load.Elapsed;
        await fixture.EnableAsync(MembershipSplitScenario.Name,
            $$"""{"parameters":{"freeze":"{{freeze.TotalSeconds.ToString(CultureInfo.InvariantCulture)}}s"},"target":{"service":"silo-2"},"ttl":"2m"}""");

        // Frozen, not dead: the process exists, stopped, for the length of the freeze.
        var frozen = await Eventually.GetAsync(() => Task.FromResult(ProcessState(victim.Id)), state => state == 'T', TimeSpan.FromSeconds(5), $"{Victim} is stopped (state T)");
        var frozenAt = load.Elapsed;
        await Task.Delay(freeze / 2);
        Assert.Equal('T', ProcessState(victim.Id));

        // Once it wakes it learns it was voted dead and stops itself; the launcher starts a new one.
        var restarted = await fixture.Lab.WaitRestartedAsync(Victim, victim.Id, RestartBound);
        var record = fixture.Lab.Restarts.Last(r => r.Name == Victim && r.PreviousId == victim.Id);
        var log = File.ReadAllText(victim.LogPath);
        var last = await load.SettledAsync(TimeSpan.FromSeconds(3), SettleBound);
        await load.StopAsync();
        await fixture.DisableEverywhereAsync(MembershipSplitScenario.Name);

        var results = load.Results;
        output.WriteLine($"before {CheckoutLoad.Describe(results.Where(r => r.At < enabledAt))}; from the freeze on {CheckoutLoad.Describe(results.Where(r => r.At >= frozenAt))}; " +
                         $"last 3 s {CheckoutLoad.Describe(last)}; {Victim} (state {frozen}) exited with code {record.ExitCode} after waking, " +
                         $"back as process {restarted.Id} after {record.Took?.TotalSeconds:0.0} s; stale duplicate activations it stopped on waking: " +
                         $"{log.Split("another activation advanced it").Length - 1}");

        foreach (var failure in load.Failures)
        {
            output.WriteLine($"  {failure}");
        }

        // Voted out while it could not answer: its own log says so, and it did not come back by itself.
        Assert.Contains("I have been told I am dead", log, StringComparison.Ordinal);
        Assert.NotEqual(0, record.ExitCode);
        Assert.NotEqual(victim.Id, restarted.Id);
        await ActorSystemAsserts.VerifiedCleanAsync(fixture, output, TimeSpan.FromSeconds(40));
    }

    /// <summary>The process's state letter from /proc (R running, S sleeping, T stopped), or '-' once it is gone.</summary>
    private static char ProcessState(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2];
        }
        catch (IOException)
        {
            return '-';
        }
    }
}

/// <summary>
/// file-descriptor-leak on silo-1 of its own lab: every payments call from it opens a socket that stays open, its open
/// files climb to the limit the scenario set, and then things in that process fail with EMFILE; at reset the sockets
/// close and checkouts work again; with the cure (the shared handler) the count stays flat under the same limit.
/// </summary>
[ScenarioTest(Lab.Scenarios.Shop.FileDescriptorLeakScenario.Name)]
[Collection(ActorSystemLabCollection.Name)]
public sealed class FileDescriptorLeakTests(ActorSystemLabFixture fixture, ITestOutputHelper output)
{
    private const int Headroom = 120;

    [Fact]
    public async Task File_descriptor_leak_climbs_to_the_limit_then_fails_and_reset_gives_every_handle_back()
    {
        await fixture.ResetEverywhereAsync();
        await fixture.WaitAllHealthyAsync(TimeSpan.FromSeconds(30));
        var silos = fixture.Lab.Processes.Where(p => p.Name.StartsWith("silo-", StringComparison.Ordinal)).ToList();
        var before = silos.ToDictionary(s => s.Name, s => OpenFiles(s.Id));
        await fixture.EnableEverywhereAsync(Lab.Scenarios.Shop.FileDescriptorLeakScenario.Name,
            $$"""{"parameters":{"headroom":{{Headroom}}},"target":{"service":"silo"},"ttl":"2m"}""");

        // Checkouts until a silo is at its limit and something failed there (bounded). A process at its limit may also die
        // outright (the runtime cannot get a descriptor it needs): the launcher starts it again, and that counts too.
        var (confirmed, failed, round) = (0, 0, 0);
        var peak = before.ToDictionary(p => p.Key, p => p.Value);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(90) && round < 800 && !(AtLimit() && (failed > 0 || Died())))
        {
            var checkout = await fixture.CheckoutAsync(Customer(round), [$"SKU-{180 + round++ % 20:00000}"]);
            (confirmed, failed) = checkout.Status == HttpStatusCode.Created ? (confirmed + 1, failed) : (confirmed, failed + 1);
            foreach (var silo in silos.Where(s => !s.HasExited))
            {
                peak[silo.Name] = Math.Max(peak[silo.Name], OpenFiles(silo.Id));
            }
        }

        var logs = string.Join("\n", silos.Select(s => s.Tail(3000)));
        var died = silos.Where(s => s.HasExited).Select(s => s.Name).ToList();
        await fixture.ResetEverywhereAsync();
        await fixture.WaitAllHealthyAsync(TimeSpan.FromSeconds(60));
        var now = fixture.Lab.Processes.Where(p => p.Name.StartsWith("silo-", StringComparison.Ordinal)).ToList();
        foreach (var silo in now)
        {
            // A silo that died comes back with its own limit and nothing leaked; the others close what they kept.
            await Eventually.GetAsync(() => Task.FromResult(OpenFiles(silo.Id)), open => open <= before[silo.Name] + 40, TimeSpan.FromSeconds(10),
                $"{silo.Name} holds no more than its baseline");
        }

        var recovered = await RetriedCheckoutAsync(round++);
        output.WriteLine($"open files before / peak: {string.Join(", ", before.Select(b => $"{b.Key} {b.Value} / {peak[b.Key]}"))} (limit: before + {Headroom}); " +
                         $"{confirmed} confirmed and {failed} failed checkouts; died at the limit: {(died.Count > 0 ? string.Join(", ", died) : "none")}; " +
                         $"after reset {string.Join(", ", now.Select(s => $"{s.Name} {OpenFiles(s.Id)}"))}, a checkout {(int)recovered.Status}");

        Assert.True(AtLimit(), "no silo's open files came near its limit");
        Assert.True(failed > 0 || died.Count > 0, "nothing failed at the limit");
        Assert.Contains("Too many open files", logs, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, recovered.Status);

        // The cure: the shared handler under the same limit. Nothing leaks, everything confirms.
        await fixture.EnableEverywhereAsync(Lab.Scenarios.Shop.FileDescriptorLeakScenario.Name,
            $$"""{"parameters":{"headroom":{{Headroom}},"cure":"true"},"target":{"service":"silo"},"ttl":"2m"}""");
        var curedStart = now.Sum(s => OpenFiles(s.Id));
        var curedConfirmed = 0;
        for (var i = 0; i < 40; i++)
        {
            curedConfirmed += (await fixture.CheckoutAsync(Customer(round++), [$"SKU-{180 + i % 20:00000}"])).Status == HttpStatusCode.Created ? 1 : 0;
        }

        var curedEnd = now.Sum(s => OpenFiles(s.Id));
        await fixture.ResetEverywhereAsync();
        output.WriteLine($"with the cure both silos' open files {curedStart} -> {curedEnd} over 40 checkouts ({curedConfirmed} confirmed)");
        Assert.Equal(40, curedConfirmed);
        Assert.True(curedEnd <= curedStart + 20, $"with the cure the silos' open files still rose from {curedStart} to {curedEnd}");
        await ActorSystemAsserts.VerifiedCleanAsync(fixture, output, TimeSpan.FromSeconds(40));

        bool AtLimit() => peak.Any(p => p.Value >= before[p.Key] + Headroom * 0.8);
        bool Died() => silos.Any(s => s.HasExited);
    }

    /// <summary>A checkout right after a silo came back may meet the cluster still settling: a few tries, a second apart.</summary>
    private async Task<Checkout> RetriedCheckoutAsync(int round)
    {
        var checkout = await fixture.CheckoutAsync(Customer(round), ["SKU-00199"]);
        for (var attempt = 1; attempt < 10 && checkout.Status != HttpStatusCode.Created; attempt++)
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            checkout = await fixture.CheckoutAsync(Customer(round), ["SKU-00199"]);
        }

        return checkout;
    }

    /// <summary>Ten customers in turn (a customer's cart is emptied before each checkout).</summary>
    private static int Customer(int round) => 200 + round % 10;

    private static int OpenFiles(int pid) => Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();
}
