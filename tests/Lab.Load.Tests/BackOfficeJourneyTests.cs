using System.Text;
using Lab.Load.Journeys;

namespace Lab.Load.Tests;

/// <summary>What the back office's journeys send and how the report journey judges a report.</summary>
public sealed class BackOfficeJourneyTests
{
    [Fact]
    public void A_delivery_is_the_json_the_restock_endpoint_takes()
    {
        var body = Encoding.UTF8.GetString(ShopJson.Delivery([("SKU-00001", 5), ("SKU-00042", 20)]).Span);
        Assert.Equal("""{"lines":[{"sku":"SKU-00001","quantity":5},{"sku":"SKU-00042","quantity":20}]}""", body);
    }

    [Theory]
    [InlineData("""{"orders":7,"byStatus":[{"status":"Confirmed","orders":5},{"status":"Shipped","orders":2}]}""", null)]
    [InlineData("""{"orders":8,"byStatus":[{"status":"Confirmed","orders":5},{"status":"Shipped","orders":2}]}""", "the report counts 8 orders but its statuses 7")]
    [InlineData("""{"orders":0,"byStatus":[]}""", null)]
    [InlineData("""{"total":3}""", "the report has no orders or byStatus")]
    [InlineData("""not json""", "the report is not JSON")]
    public void A_report_agrees_when_its_order_count_is_the_sum_of_its_statuses(string json, string? disagreement) =>
        Assert.Equal(disagreement, ShopJson.SalesReportDisagreement(Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void The_catalog_offers_the_back_office_journeys()
    {
        Assert.Contains("restock", JourneyCatalog.Shop.Names);
        Assert.Contains("report", JourneyCatalog.Shop.Names);
        Assert.Equal(["restock"], JourneyCatalog.Shop.Get("restock").Steps);
    }
}
