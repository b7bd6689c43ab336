using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Lab.Cli.Experiment;
using Lab.Cli.Launch;
using Lab.Scenarios;

namespace Lab.Tests.Support;

/// <summary>
/// One embedded lab (real processes: 2 silos, storefront, payments, the Aspire dashboard) shared by the scenario
/// tests, with helpers to drive the control API, wait until a set version reached every process, scrape each
/// process's /metrics and read its CPU time from /proc.
/// </summary>
public class ScenarioLabFixture : IAsyncLifetime
{
    /// <summary>The processes that apply scenarios, as targets name them.</summary>
    public static readonly string[] Services = ["silo-1", "silo-2", "storefront", "payments"];

    /// <summary>How long the shop's own payments breaker stays open (5 s by default), shrunk so a test recovers from it quickly.</summary>
    public static readonly TimeSpan BreakerBreakDuration = TimeSpan.FromSeconds(1);

    private const int ProbeCustomer = 299;
    private const string ProbeSku = "SKU-00159";

    private readonly TempDirectory _directory = new("lab-scn");
    private readonly TestLabDatabases _databases = new();

    public RunningLab Lab { get; private set; } = null!;

    /// <summary>The shop API and the control API's reads (no token).</summary>
    public HttpClient Storefront { get; private set; } = null!;

    /// <summary>The control API with the bearer token.</summary>
    public HttpClient Control { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var topology = LabProcessesFixture.FreeTopology(_directory.Path, telemetryViewer: TelemetryViewer, postgres: _databases.Shop);
        var settings = new Dictionary<string, string>(topology.Settings)
        {
            ["Resilience__BreakerBreakDuration"] = BreakerBreakDuration.ToString("c", CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in ExtraSettings)
        {
            settings[key] = value;
        }

        Lab = await LabLauncher.StartAsync(topology with { Settings = settings });
        Storefront = new HttpClient { BaseAddress = new Uri(Lab.Topology.StorefrontUrl), Timeout = TimeSpan.FromSeconds(15) };
        Control = new HttpClient { BaseAddress = new Uri(Lab.Topology.StorefrontUrl), Timeout = TimeSpan.FromSeconds(10) };
        Control.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Lab.ControlToken);
        Control.DefaultRequestHeaders.Add(LabControlApi.ActorHeader, "scenario-tests");
        Viewer = Lab.TelemetryViewerUrl is { } viewer ? new TelemetryViewer(viewer) : null;
    }

    /// <summary>Whether the lab runs the Aspire dashboard (the tests that read traces need it).</summary>
    protected virtual bool TelemetryViewer => true;

    /// <summary>Settings a derived lab adds to (or overrides in) every process.</summary>
    protected virtual IReadOnlyDictionary<string, string> ExtraSettings { get; } = new Dictionary<string, string>();

    public string UrlOf(string service) => service switch
    {
        "silo-1" => Lab.Topology.SiloUrl(1),
        "silo-2" => Lab.Topology.SiloUrl(2),
        "storefront" => Lab.Topology.StorefrontUrl,
        "payments" => Lab.Topology.PaymentsUrl,
        _ => throw new ArgumentOutOfRangeException(nameof(service), service, "not a lab service"),
    };

    public int ProcessId(string service) => Lab.Processes.Single(p => p.Name == service).Id;

    /// <summary>POST /lab/scenarios/{name}; asserts 200 and returns the enabled activation and the set version.</summary>
    public async Task<(JsonElement Activation, long Version)> EnableAsync(string name, string body)
    {
        using var response = await Control.PostAsync($"/lab/scenarios/{name}", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"enable {name}: {(int)response.StatusCode} {text}");
        using var document = JsonDocument.Parse(text);
        return (document.RootElement.GetProperty("activation").Clone(), document.RootElement.GetProperty("version").GetInt64());
    }

    /// <summary>Enables and waits until every process applies the new set (bounded: 5 s).</summary>
    public async Task<JsonElement> EnableEverywhereAsync(string name, string body)
    {
        var (activation, version) = await EnableAsync(name, body);
        await WaitAppliedEverywhereAsync(version, TimeSpan.FromSeconds(5));
        return activation;
    }

    /// <summary>Disables a scenario and waits until every process applied it (within <paramref name="bound"/>, 5 s unless given).</summary>
    public async Task DisableEverywhereAsync(string name, TimeSpan? bound = null)
    {
        using var response = await Control.DeleteAsync($"/lab/scenarios/{name}");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"disable {name}: {(int)response.StatusCode} {text}");
        using var document = JsonDocument.Parse(text);
        await WaitAppliedEverywhereAsync(document.RootElement.GetProperty("version").GetInt64(), bound ?? TimeSpan.FromSeconds(5));
    }

    /// <summary>POST /lab/reset and wait until every process runs the empty set.</summary>
    public async Task ResetEverywhereAsync()
    {
        using var response = await Control.PostAsync("/lab/reset", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var set = await GetJsonAsync(Storefront, "/lab/scenarios/active");
        Assert.Equal(0, set.GetProperty("activations").GetArrayLength());
        await WaitAppliedEverywhereAsync(set.GetProperty("version").GetInt64(), TimeSpan.FromSeconds(5));
        await AwaitPaymentsBreakersClosedAsync();
    }

    /// <summary>
    /// Waits until the payments breaker of every silo is closed. The shop's own breaker outlives a scenario that made payments
    /// fail (that is how it protects the shop), so a test after one would see its checkouts failed fast; a breaker only
    /// closes on a call after its break, so probe checkouts (one unit of a SKU no test uses, given back by a restock)
    /// close it. Bounded: 20 s.
    /// </summary>
    public async Task AwaitPaymentsBreakersClosedAsync()
    {
        var bound = Stopwatch.StartNew();
        while (!await BreakersClosedAsync())
        {
            Assert.True(bound.Elapsed < TimeSpan.FromSeconds(20), "the silos' payments breakers stayed open 20 s after the scenarios ended");
            await Task.Delay(BreakerBreakDuration);
            using var restocked = await Control.PostAsJsonAsync("/api/admin/restock", new { lines = new[] { new { sku = ProbeSku, quantity = 1 } } });
            Assert.True(restocked.IsSuccessStatusCode, $"restock {ProbeSku}: {(int)restocked.StatusCode}");
            await CheckoutAsync(ProbeCustomer, [ProbeSku]);
            await Task.Delay(400); // past the scrape cache
        }
    }

    /// <summary>No silo reports its breaker open or half-open (a silo that has called payments through no breaker reports none).</summary>
    private async Task<bool> BreakersClosedAsync()
    {
        foreach (var silo in (string[])["silo-1", "silo-2"])
        {
            if ((await ScrapeAsync(silo)).Sum("lab_payments_breaker_state") != 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Waits until GET /lab/runtime of every service reports <paramref name="version"/> or later.</summary>
    public async Task WaitAppliedEverywhereAsync(long version, TimeSpan bound)
    {
        foreach (var service in Services)
        {
            await Eventually.GetAsync(() => AppliedVersionAsync(service), applied => applied >= version, bound,
                $"{service} applies set version {version}");
        }
    }

    public async Task<long> AppliedVersionAsync(string service)
    {
        using var http = new HttpClient { BaseAddress = new Uri(UrlOf(service)), Timeout = TimeSpan.FromSeconds(5) };
        return (await GetJsonAsync(http, RuntimeStatus.Path)).GetProperty("version").GetInt64();
    }

    /// <summary>The Prometheus text of one service's /metrics.</summary>
    public async Task<PrometheusSamples> ScrapeAsync(string service)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return PrometheusSamples.Parse(await http.GetStringAsync($"{UrlOf(service)}/metrics"));
    }

    /// <summary>A metric summed over both silos' /metrics (samples whose labels include every given pair).</summary>
    public async Task<double> SiloSumAsync(string metric, params (string Key, string Value)[] labels) =>
        (await ScrapeAsync("silo-1")).Sum(metric, labels) + (await ScrapeAsync("silo-2")).Sum(metric, labels);

    /// <summary>User + system CPU time of a service's process, from /proc/PID/stat (clock ticks of 10 ms).</summary>
    public TimeSpan CpuTime(string service)
    {
        var stat = File.ReadAllText($"/proc/{ProcessId(service)}/stat");
        // Fields after the command name (which is in parentheses and may contain spaces): state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromMilliseconds(ticks * 10);
    }

    /// <summary>Resident memory of a service's process, from /proc/PID/status.</summary>
    public long ResidentBytes(string service)
    {
        var line = File.ReadLines($"/proc/{ProcessId(service)}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>
    /// Makes a customer's cart hold one unit of each SKU and checks out (the checkout in <paramref name="trace"/>, when given);
    /// returns the status, the order and the latency.
    /// </summary>
    public async Task<Checkout> CheckoutAsync(int customerId, IReadOnlyList<string> skus, TestTrace? trace = null)
    {
        // Exactly these lines: whatever an earlier test left in this customer's cart goes first.
        var cart = await GetJsonAsync(Storefront, $"/api/carts/{customerId}");
        foreach (var line in cart.GetProperty("lines").EnumerateArray())
        {
            using var removed = await Storefront.DeleteAsync($"/api/carts/{customerId}/items/{line.GetProperty("sku").GetString()}");
            Assert.True(removed.IsSuccessStatusCode, $"empty cart {customerId}: {(int)removed.StatusCode}");
        }

        foreach (var sku in skus)
        {
            using var added = await Storefront.PostAsJsonAsync($"/api/carts/{customerId}/items", new { sku, quantity = 1 });
            Assert.True(added.StatusCode == HttpStatusCode.OK, $"add {sku} to cart {customerId}: {(int)added.StatusCode} {await added.Content.ReadAsStringAsync()}");
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/carts/{customerId}/checkout");
        trace?.On(request);

        var sentAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        using var response = await Storefront.SendAsync(request);
        var elapsed = clock.Elapsed;
        var text = await response.Content.ReadAsStringAsync();
        return new Checkout(response.StatusCode, sentAt, elapsed, text);
    }

    /// <summary>GET <paramref name="path"/> at the storefront in <paramref name="trace"/>: the status, the body and the latency.</summary>
    public async Task<(HttpStatusCode Status, string Body, TimeSpan Latency)> GetAsync(string path, TestTrace trace)
    {
        using var request = trace.On(new HttpRequestMessage(HttpMethod.Get, path));
        var clock = Stopwatch.StartNew();
        using var response = await Storefront.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, body, clock.Elapsed);
    }

    /// <summary>The lab's telemetry viewer, where every process's spans arrive (null when the lab runs none).</summary>
    public TelemetryViewer? Viewer { get; private set; }

    /// <summary>The spans of <paramref name="trace"/> once every process has exported its part.</summary>
    public Task<List<ViewerSpan>> SettledTraceAsync(TestTrace trace, Func<List<ViewerSpan>, bool>? complete = null) =>
        (Viewer ?? throw new InvalidOperationException("This lab runs no telemetry viewer.")).SettledTraceAsync(trace.TraceId, complete);

    /// <summary>
    /// Waits until the viewer shows a request made now, down to its grain call in a silo: a test that floods the telemetry
    /// pipeline (thousands of grain-call spans) calls it before it ends, so the next test's traces do not queue behind its
    /// spans in the exporters and the viewer. Returns how long the pipeline took to catch up.
    /// </summary>
    public async Task<TimeSpan> TelemetryCaughtUpAsync(TimeSpan bound)
    {
        var viewer = Viewer ?? throw new InvalidOperationException("This lab runs no telemetry viewer.");
        var clock = Stopwatch.StartNew();
        var trace = new TestTrace();
        var (status, body, _) = await GetAsync("/api/products/SKU-00001", trace);
        if (status != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"The marker read of the telemetry pipeline answered {(int)status}: {body}");
        }

        await viewer.SettledTraceAsync(trace.TraceId, found => found.Any(span => span.Service == "lab-silo"), bound);
        return clock.Elapsed;
    }

    public static async Task<JsonElement> GetJsonAsync(HttpClient http, string path)
    {
        using var document = JsonDocument.Parse(await http.GetStringAsync(path));
        return document.RootElement.Clone();
    }

    public async Task DisposeAsync()
    {
        Storefront.Dispose();
        Control.Dispose();
        Viewer?.Dispose();
        await Lab.DisposeAsync();
        await _databases.DisposeAsync();
        _directory.Dispose();
    }
}

public sealed record Checkout(HttpStatusCode Status, DateTimeOffset SentAt, TimeSpan Latency, string Body)
{
    public DateTimeOffset CreatedAt
    {
        get
        {
            using var document = JsonDocument.Parse(Body);
            return document.RootElement.GetProperty("createdAt").GetDateTimeOffset();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ScenarioLabCollection : ICollectionFixture<ScenarioLabFixture>
{
    public const string Name = "scenario lab";
}
