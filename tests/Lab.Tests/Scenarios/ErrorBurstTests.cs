using System.Net;
using Lab.Scenarios.Catalog;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>error-burst on the real lab: product grains fail at the configured rate inside the window, then never.</summary>
[ScenarioTest(ErrorBurstScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class ErrorBurstTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan After = TimeSpan.FromSeconds(1.5);
    private const double Rate = 0.5;

    [Fact]
    public async Task Errors_fall_inside_the_window_at_about_the_rate_then_the_shop_is_clean()
    {
        await fixture.ResetEverywhereAsync();
        var injectedBefore = await InjectionsAsync();
        var hedgesBefore = await HedgesAsync();
        var (activation, _) = await fixture.EnableAsync("error-burst",
            $$"""{"parameters":{"rate":"{{Rate * 100}}%","window":"{{Window.TotalSeconds}}s","hook":"grain"},"target":{"grainInterface":"IProductGrain"},"ttl":"1m","seed":7}""");
        var windowEnd = activation.GetProperty("activatedAt").GetDateTimeOffset() + Window;

        // Steady requests from the activation until a while after the window closed. The count only bounds the loop: on a
        // quiet machine 3,000 requests were all sent inside a 6 s window, leaving none after it.
        var results = new List<(DateTimeOffset SentAt, HttpStatusCode Status, string Body)>();
        var appliedAt = DateTimeOffset.MaxValue;
        for (var i = 0; DateTimeOffset.UtcNow < windowEnd + After && i < 30_000; i++)
        {
            if (appliedAt == DateTimeOffset.MaxValue && i % 10 == 0 && await AppliedBySilosAsync())
            {
                appliedAt = DateTimeOffset.UtcNow;
            }

            var sentAt = DateTimeOffset.UtcNow;
            using var response = await fixture.Storefront.GetAsync($"/api/products/SKU-{i % 60 + 1:00000}");
            results.Add((sentAt, response.StatusCode, await response.Content.ReadAsStringAsync()));
        }

        // The rate is measured where both silos apply the set (polled above) and the window is open.
        var inWindow = results.Where(r => r.SentAt > appliedAt && r.SentAt < windowEnd).ToList();
        var afterWindow = results.Where(r => r.SentAt > windowEnd).ToList();
        var errors = results.Where(r => r.Status != HttpStatusCode.OK).ToList();
        output.WriteLine($"{inWindow.Count} requests in the window ({errors.Count} failed), {afterWindow.Count} after it");

        // Every failure is the injected one, and was sent before the window closed (same machine, same clock).
        Assert.All(errors, e =>
        {
            Assert.Equal(HttpStatusCode.InternalServerError, e.Status);
            Assert.Contains("error-burst", e.Body);
            Assert.True(e.SentAt <= windowEnd, $"an error at {e.SentAt:O}, after the window closed at {windowEnd:O}");
        });
        Assert.True(inWindow.Count >= 10, $"only {inWindow.Count} requests inside the window once applied");
        // The rate, within four standard errors of the share drawn from this many requests (a false alarm once in 15,000 runs).
        var share = inWindow.Count(r => r.Status != HttpStatusCode.OK) / (double)inWindow.Count;
        var margin = 4 * Math.Sqrt(Rate * (1 - Rate) / inWindow.Count);
        Assert.InRange(share, Rate - margin, Rate + margin);
        Assert.True(afterWindow.Count >= 10, $"only {afterWindow.Count} requests after the window");
        Assert.All(afterWindow, r => Assert.Equal(HttpStatusCode.OK, r.Status));

        // The silos counted the failures the storefront saw, and at most one more for each read the storefront hedged (a read
        // slower than the hedge delay on a busy machine gets a second attempt, which may fail too while its first answers).
        var injected = await InjectionsAsync() - injectedBefore;
        var hedged = await HedgesAsync() - hedgesBefore;
        Assert.InRange(injected, errors.Count, errors.Count + hedged);

        await fixture.DisableEverywhereAsync("error-burst");
        for (var i = 0; i < 20; i++)
        {
            using var response = await fixture.Storefront.GetAsync($"/api/products/SKU-{i + 1:00000}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    private async Task<double> HedgesAsync() =>
        (await fixture.ScrapeAsync("storefront")).Sum("lab_hedges_total", ("operation", "product.get"));

    private async Task<bool> AppliedBySilosAsync()
    {
        var active = await ScenarioLabFixture.GetJsonAsync(fixture.Storefront, "/lab/scenarios/active");
        var version = active.GetProperty("version").GetInt64();
        return await fixture.AppliedVersionAsync("silo-1") >= version && await fixture.AppliedVersionAsync("silo-2") >= version;
    }

    private async Task<double> InjectionsAsync()
    {
        var total = 0.0;
        foreach (var silo in new[] { "silo-1", "silo-2" })
        {
            total += (await fixture.ScrapeAsync(silo)).Sum("lab_scenario_injections_total", ("scenario", "error-burst"));
        }

        return total;
    }
}
