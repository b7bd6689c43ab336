using System.Net;
using Lab.Scenarios.Catalog;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>clock-skew on the real lab: orders whose grain runs on the skewed silo are stamped in the past; the other silo's are not.</summary>
[ScenarioTest(ClockSkewScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class ClockSkewTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Skew = TimeSpan.FromMinutes(-2);

    // An order is stamped while its checkout runs, some time after the request left: a quarter of the skew tells the two apart
    // however slow the checkout.
    private static readonly TimeSpan Slack = Skew.Duration() / 4;

    [Fact]
    public async Task Orders_stamped_by_the_skewed_silo_go_back_by_the_skew_while_the_other_silo_stays_on_time()
    {
        await fixture.ResetEverywhereAsync();
        await fixture.EnableEverywhereAsync("clock-skew", """{"parameters":{"skew":"-2m"},"target":{"service":"silo-1"},"ttl":"2m"}""");

        // Order grains land on either silo; place orders until both kinds were seen (bounded).
        var offsets = new List<TimeSpan>();
        var customer = 21;
        while (customer < 61 && !(offsets.Any(IsSkewed) && offsets.Any(IsOnTime)))
        {
            offsets.Add(await OffsetOfNewOrderAsync(customer, $"SKU-{customer + 90:00000}"));
            customer++;
        }

        output.WriteLine($"createdAt - request time of {offsets.Count} orders: {string.Join(", ", offsets.Select(o => $"{o.TotalSeconds:0.0}s"))}");
        Assert.All(offsets, offset => Assert.True(IsSkewed(offset) || IsOnTime(offset), $"offset {offset.TotalSeconds:0.0} s is neither on time nor skewed by {Skew.TotalSeconds} s"));
        Assert.Contains(offsets, IsSkewed);  // silo-1's clock runs 2 minutes behind...
        Assert.Contains(offsets, IsOnTime);  // ...while silo-2's is untouched

        await fixture.DisableEverywhereAsync("clock-skew");
        var after = new List<TimeSpan>();
        for (var c = 61; c < 67; c++)
        {
            after.Add(await OffsetOfNewOrderAsync(c, $"SKU-{c + 90:00000}"));
        }

        Assert.All(after, offset => Assert.True(IsOnTime(offset), $"after disabling, an order is {offset.TotalSeconds:0.0} s off"));
    }

    private static bool IsSkewed(TimeSpan offset) => offset > Skew - Slack && offset < Skew + Slack;

    private static bool IsOnTime(TimeSpan offset) => offset > -Slack && offset < Slack;

    private async Task<TimeSpan> OffsetOfNewOrderAsync(int customer, string sku)
    {
        var checkout = await fixture.CheckoutAsync(customer, [sku]);
        Assert.True(checkout.Status == HttpStatusCode.Created, $"checkout {customer}: {(int)checkout.Status} {checkout.Body}");
        return checkout.CreatedAt - checkout.SentAt;
    }
}
