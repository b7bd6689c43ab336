using Lab.Scenarios;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Lab.Cli.Experiment;
using Lab.Cli.Launch;
using Lab.Tests.Support;

namespace Lab.Tests.Scenarios;

/// <summary>
/// A lab of real processes (2 silos, storefront, payments, the Aspire dashboard) for scenario tests that need the storefront,
/// per-silo targeting, per-process metrics or the spans of their own requests (read back from the dashboard by trace id). Ample stock, so checkouts never run out; the payments
/// client timeout and the long-turn threshold are shrunk so effects show within seconds.
/// </summary>
public sealed class ScenarioProcessesFixture : IAsyncLifetime
{
    /// <summary>The payments client's timeout for a whole call, retries included (Payments:Timeout).</summary>
    public static readonly TimeSpan PaymentsTimeout = TimeSpan.FromSeconds(3);

    /// <summary>The payments client's timeout per attempt (the shop's own, Resilience:PaymentsAttemptTimeout), stated here.</summary>
    public static readonly TimeSpan PaymentsAttemptTimeout = TimeSpan.FromSeconds(1);

    /// <summary>How long the shop's own payments breaker stays open (5 s by default), shrunk so recovery shows in a second.</summary>
    public static readonly TimeSpan BreakerBreakDuration = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan LongTurnThreshold = TimeSpan.FromMilliseconds(200);

    private readonly TempDirectory _directory = new("lab-scenarios");
    private readonly TestLabDatabases _databases = new();

    public RunningLab Lab { get; private set; } = null!;
    public HttpClient Storefront { get; private set; } = null!;
    public HttpClient Payments { get; private set; } = null!;
    public IReadOnlyList<HttpClient> Silos { get; private set; } = [];

    public async Task InitializeAsync()
    {
        var topology = LabProcessesFixture.FreeTopology(_directory.Path, telemetryViewer: true, postgres: _databases.Shop);
        var settings = new Dictionary<string, string>(topology.Settings)
        {
            ["Seed__MinStock"] = "100000",
            ["Seed__MaxStock"] = "100000",
            ["Payments__Timeout"] = PaymentsTimeout.ToString("c", CultureInfo.InvariantCulture),
            ["Resilience__PaymentsAttemptTimeout"] = PaymentsAttemptTimeout.ToString("c", CultureInfo.InvariantCulture),
            ["Orleans__ResponseTimeout"] = "00:00:05",
            ["Resilience__BreakerBreakDuration"] = BreakerBreakDuration.ToString("c", CultureInfo.InvariantCulture),
            ["Orleans__Scheduling__TurnWarningLengthThreshold"] = LongTurnThreshold.ToString("c", CultureInfo.InvariantCulture),
        };
        Lab = await LabLauncher.StartAsync(topology with { Settings = settings });
        Storefront = Client(Lab.Topology.StorefrontUrl);
        Storefront.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Lab.ControlToken);
        Payments = Client(Lab.Topology.PaymentsUrl);
        Payments.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Lab.OperatorPaymentsKey);
        Silos = Enumerable.Range(1, Lab.Topology.Silos).Select(silo => Client(Lab.Topology.SiloUrl(silo))).ToList();
        Viewer = new TelemetryViewer(Lab.TelemetryViewerUrl!);

        // Warm the checkout path in every process (JIT, first connections, first writes), so a cold first charge does
        // not run into the shrunk payments timeout in the first test.
        foreach (var customer in WarmUpCustomers)
        {
            await FillCartAsync(customer, $"SKU-{customer - 100:00000}");
            await CheckoutAsync(customer);
        }
    }

    private static readonly int[] WarmUpCustomers = [291, 292, 293, 294];

    private static HttpClient Client(string url) => new() { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(20) };

    public TelemetryViewer Viewer { get; private set; } = null!;

    /// <summary>The spans of <paramref name="trace"/> once every process has exported its part.</summary>
    public Task<List<ViewerSpan>> SettledTraceAsync(TestTrace trace, Func<List<ViewerSpan>, bool>? complete = null) =>
        Viewer.SettledTraceAsync(trace.TraceId, complete);

    /// <summary>The requests payments served on POST /api/charges/ in <paramref name="spans"/>, with what it answered.</summary>
    public static List<ViewerSpan> Charges(IEnumerable<ViewerSpan> spans) =>
        [.. spans.Where(s => s.Service == "lab-payments" && s.Kind == ViewerSpan.ServerKind && s.Attribute("http.request.method") == "POST"
                            && s.Attribute("http.route") == "/api/charges/")];

    /// <summary>Every process that applies scenarios: storefront, payments and the silos.</summary>
    public IEnumerable<HttpClient> Processes => [Storefront, Payments, .. Silos];

    /// <summary>Enables a scenario through the control API and waits until every process has applied it.</summary>
    public async Task EnableAsync(string name, Dictionary<string, string> parameters, Dictionary<string, object>? target = null)
    {
        using var response = await Storefront.PostAsJsonAsync($"/lab/scenarios/{name}", new { parameters, target, ttl = "2m", seed = 42 });
        Assert.True(response.IsSuccessStatusCode, $"enable {name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        await WaitActiveEverywhereAsync(1);
    }

    /// <summary>Disables everything and waits until every process is idle again.</summary>
    public async Task ResetAsync()
    {
        using var response = await Storefront.PostAsync("/lab/reset", null);
        Assert.True(response.IsSuccessStatusCode, $"reset: {(int)response.StatusCode}");
        await WaitActiveEverywhereAsync(0);
    }

    /// <summary>Waits until each process's lab.scenario.active gauge reads <paramref name="count"/>.</summary>
    public async Task WaitActiveEverywhereAsync(int count)
    {
        foreach (var process in Processes)
        {
            await Eventually.GetAsync(() => MetricsAsync(process), m => m.Sum("lab_scenario_active") == count,
                TimeSpan.FromSeconds(10), $"{process.BaseAddress} reports {count} active scenario(s)");
        }
    }

    public static async Task<PrometheusSamples> MetricsAsync(HttpClient process) =>
        PrometheusSamples.Parse(await process.GetStringAsync("/metrics"));

    /// <summary>Requests payments has served on POST /api/charges/ (any status), from its own metrics.</summary>
    public async Task<double> ChargeRequestsAsync() =>
        (await MetricsAsync(Payments)).Sum("http_server_request_duration_seconds_count",
            ("http_route", "/api/charges/"), ("http_request_method", "POST"));

    /// <summary>Waits until payments' charge count stops moving (the exporter and the last requests settle), then returns it.</summary>
    public async Task<double> SettledChargeRequestsAsync()
    {
        var last = await ChargeRequestsAsync();
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(400);
            var now = await ChargeRequestsAsync();
            if (now == last)
            {
                return now;
            }

            last = now;
        }

        return last;
    }

    /// <summary>Makes the cart of <paramref name="customerId"/> hold exactly one line of <paramref name="sku"/>.</summary>
    public async Task FillCartAsync(int customerId, string sku, int quantity = 1)
    {
        var cart = await Storefront.GetFromJsonAsync<JsonElement>($"/api/carts/{customerId}");
        foreach (var line in cart.GetProperty("lines").EnumerateArray())
        {
            var existing = line.GetProperty("sku").GetString()!;
            (await Storefront.DeleteAsync($"/api/carts/{customerId}/items/{existing}")).EnsureSuccessStatusCode();
        }

        (await Storefront.PostAsJsonAsync($"/api/carts/{customerId}/items", new { sku, quantity })).EnsureSuccessStatusCode();
    }

    /// <summary>Checks out the customer's cart (in <paramref name="trace"/>, when given).</summary>
    public async Task<CheckoutOutcome> CheckoutAsync(int customerId, TestTrace? trace = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/carts/{customerId}/checkout");
        trace?.On(request);
        var clock = Stopwatch.StartNew();
        using var response = await Storefront.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        return new CheckoutOutcome(response.StatusCode, body, clock.Elapsed);
    }

    public async Task DisposeAsync()
    {
        Storefront?.Dispose();
        Payments?.Dispose();
        Viewer?.Dispose();
        foreach (var silo in Silos)
        {
            silo.Dispose();
        }

        if (Lab is not null)
        {
            await Lab.DisposeAsync();
        }

        await _databases.DisposeAsync();
        _directory.Dispose();
    }
}

public sealed record CheckoutOutcome(HttpStatusCode Status, string Body, TimeSpan Elapsed)
{
    public string Detail => Body.Length > 0 && JsonDocument.Parse(Body).RootElement.TryGetProperty("detail", out var d) ? d.GetString() ?? "" : "";

    public override string ToString() => $"{(int)Status} in {Elapsed.TotalMilliseconds:0} ms: {Detail}";
}

[CollectionDefinition(Name)]
public sealed class ScenarioProcessesCollection : ICollectionFixture<ScenarioProcessesFixture>
{
    public const string Name = "scenario processes";
}
