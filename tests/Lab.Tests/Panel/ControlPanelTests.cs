using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Lab.Load.Cli;
using Lab.Tests.Support;
using Microsoft.Playwright;
using Spectre.Console.Testing;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Lab.Tests.Panel;

/// <summary>
/// The control panel (/lab/) in a real browser against the real lab: everything the page shows comes from the
/// storefront's control API and its own request telemetry while the test drives real shop requests.
/// </summary>
[Trait(TestStore.Trait, TestStore.Independent)]
[Collection(ScenarioLabCollection.Name)]
public sealed partial class ControlPanelTests(ScenarioLabFixture fixture, BrowserFixture browser, ITestOutputHelper output)
    : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan FirstRender = TimeSpan.FromSeconds(30);
    private readonly List<IBrowserContext> _contexts = [];

    public Task InitializeAsync() => Task.CompletedTask;

    // Closing the context stops the page's polling before the next test.
    public async Task DisposeAsync()
    {
        foreach (var context in _contexts)
        {
            await context.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_scenario_enabled_in_the_form_shows_in_the_live_view_then_is_changed_disabled_and_reset()
    {
        await fixture.ResetEverywhereAsync();
        var page = await OpenPanelAsync($"#token={fixture.Lab.ControlToken}");
        await using var traffic = new ShopTraffic(fixture.Storefront);

        // The token left the address bar; the catalog is grouped by category and the search narrows it.
        Assert.DoesNotContain("token", page.Url);
        // The first page of a fresh browser context (sign-in, then the catalog and state requests) on a busy machine: waited
        // for longer than the steps after it, which only wait for the page to react.
        await Expect(page.Locator("#catalog-list .category h3").First).ToBeVisibleAsync(new() { Timeout = (float)FirstRender.TotalMilliseconds });
        await page.GetByLabel("Search").FillAsync("error-burst");
        await Expect(page.Locator("details.scenario:visible")).ToHaveCountAsync(1);
        var scenario = page.Locator("#scenario-error-burst");
        await scenario.Locator("summary").ClickAsync();
        await Expect(scenario).ToContainTextAsync("Runbook");
        await Expect(scenario).ToContainTextAsync("Signature");

        // Baseline: the shop answers cleanly.
        var before = await WaitForLiveAsync(page, now => now.Requests >= 3, "clean traffic in the live view");
        Assert.Equal(0, before.ErrorRate);

        // Out of range: the API's message shows next to the field, nothing is enabled.
        var form = scenario.Locator("form.enable");
        await form.GetByLabel("status", new() { Exact = true }).FillAsync("700");
        await form.GetByLabel("rate", new() { Exact = true }).FillAsync("50%");
        await form.GetByLabel("window", new() { Exact = true }).FillAsync("5m");
        await form.GetByLabel("hook", new() { Exact = true }).SelectOptionAsync("http-server");
        await form.GetByLabel("service", new() { Exact = true }).FillAsync("storefront");
        await form.GetByLabel("route", new() { Exact = true }).FillAsync("/api/products*");
        await form.GetByLabel("time to live", new() { Exact = true }).FillAsync("2m");
        await form.GetByRole(AriaRole.Button, new() { Name = "Enable" }).ClickAsync();
        var statusError = page.Locator("#e-error-burst-status");
        await Expect(statusError).ToContainTextAsync("599");
        await Expect(form.GetByLabel("status", new() { Exact = true })).ToHaveAttributeAsync("aria-invalid", "true");
        output.WriteLine($"validation message: {await statusError.TextContentAsync()}");
        Assert.Equal(0, (await ScenarioLabFixture.GetJsonAsync(fixture.Storefront, "/lab/scenarios/active")).GetProperty("activations").GetArrayLength());

        // In range: enabled, listed as active with its time left.
        await form.GetByLabel("status", new() { Exact = true }).FillAsync("503");
        await form.GetByRole(AriaRole.Button, new() { Name = "Enable" }).ClickAsync();
        await Expect(statusError).ToBeEmptyAsync();
        var row = page.Locator("#active-table tr[data-scenario='error-burst']");
        await Expect(row).ToContainTextAsync("rate=50%");
        await Expect(row.Locator("td.time-left")).ToHaveTextAsync(TimeLeft());
        await Expect(scenario.Locator(".badge")).ToBeVisibleAsync();

        // Its effect on the live view, as the storefront measured its own requests; the client saw the same 503s.
        var burst = await WaitForLiveAsync(page, now => now.ErrorRate >= 0.2 && now.Requests >= 5, "the error rate rising in the live view");
        output.WriteLine($"live view during the burst: {burst}; client saw {traffic.Count(HttpStatusCode.ServiceUnavailable)} x 503 of {traffic.Total}");
        Assert.InRange(burst.ErrorRate, 0.2, 0.8);
        Assert.True(traffic.Count(HttpStatusCode.ServiceUnavailable) > 0, "the client saw no 503");
        await Expect(page.Locator("#markers")).ToContainTextAsync("enabled error-burst");
        await Expect(page.Locator("#failed tbody tr").First).ToContainTextAsync("503");
        await Expect(page.Locator("#failed tbody a").First).ToHaveAttributeAsync("href", AspireTraceLink());
        await SaveScreenshotAsync(page);

        // Change: the form opens with the activation's values; applying it enables the scenario again with new ones.
        await page.GetByRole(AriaRole.Button, new() { Name = "Change error-burst" }).ClickAsync();
        await Expect(form.GetByLabel("route", new() { Exact = true })).ToHaveValueAsync("/api/products*");
        await form.GetByLabel("rate", new() { Exact = true }).FillAsync("100%");
        await form.GetByRole(AriaRole.Button, new() { Name = "Apply change" }).ClickAsync();
        await Expect(row).ToContainTextAsync("rate=100%");

        // Disable: nothing active, and the live view is clean again.
        await page.GetByRole(AriaRole.Button, new() { Name = "Disable error-burst" }).ClickAsync();
        await Expect(page.Locator("#active-empty")).ToBeVisibleAsync();
        var recovered = await WaitForLiveAsync(page, now => now.ErrorRate == 0 && now.Requests >= 3, "a clean live view after disable");
        output.WriteLine($"after disable: {recovered}");

        // A second scenario through the form: latency shows in p50 and p99.
        await page.GetByLabel("Search").FillAsync("fixed-latency");
        var latency = page.Locator("#scenario-fixed-latency");
        await latency.Locator("summary").ClickAsync();
        var latencyForm = latency.Locator("form.enable");
        await latencyForm.GetByLabel("delay", new() { Exact = true }).FillAsync("300ms");
        await latencyForm.GetByLabel("hook", new() { Exact = true }).SelectOptionAsync("http-server");
        await latencyForm.GetByLabel("service", new() { Exact = true }).FillAsync("storefront");
        await latencyForm.GetByRole(AriaRole.Button, new() { Name = "Enable" }).ClickAsync();
        await Expect(page.Locator("#active-table tr[data-scenario='fixed-latency']")).ToBeVisibleAsync();
        var slow = await WaitForLiveAsync(page, now => now.P50 >= 250 && now.Requests >= 3, "p50 and p99 above the injected 300 ms");
        output.WriteLine($"with fixed-latency 300ms: {slow} (without: {recovered})");
        Assert.True(slow.P99 >= slow.P50);
        Assert.True(recovered.P50 < 250, $"p50 without the delay was already {recovered.P50} ms");

        // Reset all, confirmed in the dialog: nothing active in the page or in the API.
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Reset all" }).ClickAsync();
        await Expect(page.Locator("#active-empty")).ToBeVisibleAsync();
        await Expect(page.Locator("#active-message")).ToContainTextAsync("Reset");
        Assert.Equal(0, (await ScenarioLabFixture.GetJsonAsync(fixture.Storefront, "/lab/scenarios/active")).GetProperty("activations").GetArrayLength());
        await Expect(page.Locator("#markers")).ToContainTextAsync("reset");
    }

    [Fact]
    public async Task Without_the_right_token_the_panel_shows_a_clear_message_and_no_data()
    {
        var page = await OpenPanelAsync("#token=not-the-token");
        await Expect(page.Locator("#login-error")).ToContainTextAsync("The token was refused (Wrong token)");
        await Expect(page.Locator("#app")).ToBeHiddenAsync();

        // The panel's data is behind the token at the API too, not only in the page.
        foreach (var path in new[] { "/lab/panel", "/lab/live", "/lab/reports", "/lab/reports/-/html" })
        {
            using var response = await fixture.Storefront.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        await page.GetByLabel("Token", new() { Exact = true }).FillAsync(fixture.Lab.ControlToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Open the panel" }).ClickAsync();
        await Expect(page.Locator("#app")).ToBeVisibleAsync();
        await Expect(page.Locator("#login-error")).ToBeEmptyAsync();
    }

    [Fact]
    public async Task Reports_of_lab_load_are_listed_and_open_in_the_panel()
    {
        // A real (short) run of the load client, written where `lab load` writes by default when the lab is up.
        var id = "panel-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var console = new TestConsole();
        var command = LoadCommandFactory.Create(() => new LoadDefaults { Target = new Uri(fixture.Lab.Topology.StorefrontUrl) }, console);
        var exitCode = await command.Parse(["--rate", "20/s", "--duration", "2s", "--out", Path.Combine(fixture.Lab.ReportsDirectory, id), "--no-progress", "--seed", "3"]).InvokeAsync();
        Assert.True(exitCode == 0, console.Output);

        var page = await OpenPanelAsync($"#token={fixture.Lab.ControlToken}");
        var row = page.Locator($"#reports-table tr[data-report='{id}']");
        await Expect(row).ToBeVisibleAsync(new() { Timeout = 15_000 });
        await Expect(row).ToContainTextAsync("open, 20/s");
        await row.GetByRole(AriaRole.Button).ClickAsync();
        var report = page.FrameLocator("#report-frame");
        await Expect(report.Locator("h1")).ToContainTextAsync("Load report");
        await Expect(report.Locator("svg").First).ToBeVisibleAsync();
    }

    private async Task<IPage> OpenPanelAsync(string fragment)
    {
        SetDefaultExpectTimeout((float)Bound.TotalMilliseconds);
        var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        _contexts.Add(context);
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout((float)Bound.TotalMilliseconds);
        await page.GotoAsync($"{fixture.Lab.Topology.StorefrontUrl}/lab/{fragment}");
        return page;
    }

    /// <summary>Polls the figures the page shows for the last seconds (kept as numbers in data attributes of #live-now).</summary>
    private static async Task<LiveFigures> WaitForLiveAsync(IPage page, Func<LiveFigures, bool> done, string what) =>
        await Eventually.GetAsync(async () => await LiveFigures.ReadAsync(page), done, Bound, what);

    private Regex AspireTraceLink() => new($"^{Regex.Escape(fixture.Lab.TelemetryViewerUrl!)}/traces/detail/[0-9a-f]{{32}}$");

    [GeneratedRegex(@"^\d+:[0-5]\d$")]
    private static partial Regex TimeLeft();

    // The README's screenshot: LAB_PANEL_SCREENSHOT=docs/images/control-panel.png writes it there.
    private async Task SaveScreenshotAsync(IPage page)
    {
        var path = Environment.GetEnvironmentVariable("LAB_PANEL_SCREENSHOT") is { Length: > 0 } target
            ? Path.GetFullPath(target)
            : Path.Combine(Path.GetTempPath(), "lab-control-panel.png");
        await page.EvaluateAsync("window.scrollTo(0, 0)");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path });
        output.WriteLine($"screenshot: {path}");
    }

    private sealed record LiveFigures(long Requests, double ErrorRate, double P50, double P99)
    {
        public static async Task<LiveFigures> ReadAsync(IPage page)
        {
            var now = page.Locator("#live-now");
            async Task<double> Number(string name) =>
                double.TryParse(await now.GetAttributeAsync($"data-{name}"), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : 0;
            return new LiveFigures((long)await Number("requests"), await Number("error-rate"), await Number("p50"), await Number("p99"));
        }
    }

    /// <summary>Real shop requests in the background (two sequential loops), counted by status.</summary>
    private sealed class ShopTraffic : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task[] _loops;
        private readonly Lock _lock = new();
        private readonly Dictionary<HttpStatusCode, int> _statuses = [];

        public ShopTraffic(HttpClient shop) =>
            _loops = Enumerable.Range(0, 2).Select(loop => Task.Run(() => RunAsync(shop, loop))).ToArray();

        public int Total
        {
            get
            {
                lock (_lock)
                {
                    return _statuses.Values.Sum();
                }
            }
        }

        public int Count(HttpStatusCode status)
        {
            lock (_lock)
            {
                return _statuses.GetValueOrDefault(status);
            }
        }

        private async Task RunAsync(HttpClient shop, int loop)
        {
            for (var i = 0; !_stop.IsCancellationRequested; i++)
            {
                try
                {
                    using var response = await shop.GetAsync($"/api/products/SKU-{(i * 2 + loop) % 50 + 1:00000}", _stop.Token);
                    lock (_lock)
                    {
                        _statuses[response.StatusCode] = _statuses.GetValueOrDefault(response.StatusCode) + 1;
                    }

                    await Task.Delay(25, _stop.Token);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_loops);
            _stop.Dispose();
        }
    }
}
