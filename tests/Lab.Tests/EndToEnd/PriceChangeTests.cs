using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;

namespace Lab.Tests.EndToEnd;

/// <summary>
/// The back office's price change over HTTP on the running lab: the new price and version are read back at once (the
/// shop's own write-through), bad input gets a problem naming the field and changes nothing, and with stale-read on the
/// product page serves the version before the change.
/// </summary>
[Collection(ScenarioLabCollection.Name)]
public sealed class PriceChangeTests(ScenarioLabFixture fixture)
{
    private const string Sku = "SKU-00045";

    [Fact]
    public async Task A_price_change_is_read_back_at_once_with_its_new_version()
    {
        await fixture.ResetEverywhereAsync();
        // The database's version: a page may still be stale from a change made while stale-read was on (until its TTL).
        var before = DatabaseVersion();
        var price = (await PageAsync()).Price + 1.10m;
        var changed = await ChangeAsync(price);
        Assert.Equal(HttpStatusCode.OK, changed.Status);
        Assert.Equal(before + 1, changed.Product!.Version);
        Assert.Equal(price, changed.Product.Price);
        Assert.Equal(changed.Product, await PageAsync());
        Assert.Equal(changed.Product.Version, DatabaseVersion());
    }

    [Fact]
    public async Task With_stale_read_the_page_serves_the_version_before_the_change()
    {
        await fixture.ResetEverywhereAsync();
        var before = await PageAsync();
        await fixture.EnableEverywhereAsync(StaleReadScenario.Name, """{"ttl":"1m"}""");
        try
        {
            var changed = await ChangeAsync(before.Price + 2.20m);
            Assert.Equal(HttpStatusCode.OK, changed.Status);
            var page = await PageAsync();
            // Stale by version: the page is the one cached before the change, the database has the new one.
            Assert.Equal(before.Version, page.Version);
            Assert.Equal(before.Price, page.Price);
            Assert.Equal(changed.Product!.Version, DatabaseVersion());
        }
        finally
        {
            await fixture.DisableEverywhereAsync(StaleReadScenario.Name);
        }
    }

    [Theory]
    [InlineData(Sku, """{"price":0}""", 400, "price")]
    [InlineData(Sku, """{"price":-3}""", 400, "price")]
    [InlineData(Sku, """{"price":1.001}""", 400, "price")]
    [InlineData(Sku, """{"price":100001}""", 400, "price")]
    [InlineData(Sku, """{"price":"ten"}""", 400, "price")]
    [InlineData(Sku, """{}""", 400, "price")]
    [InlineData(Sku, """{"price":1""", 400, "JSON")]
    [InlineData("bad$sku", """{"price":1}""", 400, "sku")]
    [InlineData("SKU-99999", """{"price":1}""", 404, "SKU-99999")]
    public async Task Bad_input_gets_a_problem_naming_the_field_and_changes_nothing(string sku, string body, int status, string names)
    {
        var version = DatabaseVersion();
        using var response = await fixture.Control.PutAsync($"/api/admin/products/{Uri.EscapeDataString(sku)}/price",
            new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(names, text, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(version, DatabaseVersion());
    }

    [Fact]
    public async Task Without_the_control_token_a_change_is_refused()
    {
        var version = DatabaseVersion();
        using var response = await fixture.Storefront.PutAsync($"/api/admin/products/{Sku}/price",
            new StringContent("""{"price":1.00}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(version, DatabaseVersion());
    }

    private async Task<(HttpStatusCode Status, Product? Product)> ChangeAsync(decimal price)
    {
        using var response = await fixture.Control.PutAsJsonAsync($"/api/admin/products/{Sku}/price", new { price });
        return (response.StatusCode, response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<Product>(Json) : null);
    }

    private async Task<Product> PageAsync() =>
        (await fixture.Storefront.GetFromJsonAsync<Product>($"/api/products/{Sku}", Json))!;

    private long DatabaseVersion()
    {
        using var shop = LabProcessesFixture.OpenDatabase(fixture.Lab, "shop.db");
        return shop.ExecuteScalar<long>("SELECT version FROM products WHERE sku = @Sku", new { Sku });
    }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
}
