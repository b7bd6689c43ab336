using Lab.Contracts;
using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// A price change no longer reaches the caches: the product grain keeps serving the product it cached before the change
/// (and the storefront's page cache, when it has one, its page) until their TTL runs out, and checkout charges the price a
/// line got when it was added to the cart. Pages, carts and orders carry a superseded price; the stale reads show by
/// version (a page's version below the database's). With cure=true the checkout's price check is back: pages may still be
/// stale for a TTL, but no order is charged a superseded price.
/// </summary>
public sealed class StaleReadScenario : Scenario
{
    public const string Name = "stale-read";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "caching",
        Description: "A price change leaves the cached copies of the product as they are (the product grain's, and the storefront's page when it " +
                     "caches pages): they serve the old price and version until their TTL (Shop:ProductCacheTtl, Cache:ProductTtl) runs out, and " +
                     "checkout charges the price each cart line got when it was added. Every price change while it is on counts as an injection.",
        Targets: [HookPoint.GrainIncoming],
        Parameters:
        [
            ParameterSpec.Bool("cure", false, "Checkout checks each line against the current price and version (the shop's own): pages stay stale for a TTL, orders do not."),
        ],
        Signature: "After PUT /api/admin/products/{sku}/price, GET /api/products/{sku} answers the old price with a version below the database's " +
                   "(products.version) until the cache's TTL; orders placed meanwhile carry the old unit price, and lab.checkout.repriced_lines stays " +
                   "at 0. With cure=true the pages are as stale, but every such line is repriced (lab.checkout.repriced_lines counts them) and " +
                   "orders carry the current price.",
        Cure: "Check versions where it matters (checkout reads the current price and version of each line), write-through or invalidate on " +
              "write, and keep TTLs as short as the staleness a reader may see.",
        Runbook: new Runbook(
            Break: "lab scenario enable stale-read, then change a price: curl -X PUT -H 'Authorization: Bearer TOKEN' -d '{\"price\":1.00}' .../api/admin/products/SKU-00001/price",
            Hint: "Marketing lowered a price; customers still see and pay the old one for a while. Which copy of the product do they read?",
            Verify: "GET /api/products/SKU-00001 shows the old price and a version below SELECT version FROM products WHERE sku = 'SKU-00001'; an " +
                    "order placed meanwhile has the old unit_price_cents in order_lines; lab.checkout.repriced_lines does not move.",
            Restore: "lab scenario change stale-read --set cure=true (orders at the current price, lab.checkout.repriced_lines counts the catches) " +
                     "or disable it (writes go through to the caches again)."))
    {
        Seams =
        [
            new SeamUse(ShopSeams.ProductCacheWrites.Name, "a write leaves the cached copies to their TTL", CureRestores: false),
            new SeamUse(ShopSeams.CheckoutPricing.Name, "checkout charges the cart's price", CureRestores: true),
        ],
    };

    // The price changes whose cached copies are left behind are the injections.
    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.GrainInterface == nameof(IProductGrain)
        && ctx.GrainMethod == nameof(IProductGrain.ChangePriceAsync);

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        seams.Set(ShopSeams.ProductCacheWrites, CacheWrites.TtlOnly);
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.CheckoutPricing, CheckoutPricing.CartPrices);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            // The price-change journey reads the page right after its write: a page older than the write fails it.
            var stalePages = new SignatureFigure("stale pages after a change", "", "price-change journeys whose page was older than their write (load client)",
                m => m.Load.Failed("price-change"));
            var repriced = new SignatureFigure("lines repriced at checkout", "", "lab.checkout.repriced_lines, silos",
                m => m.Delta("silo", "lab_checkout_repriced_lines_total"), LowerIsBetter: false);
            return new ExperimentSpec(Name, [stalePages, repriced, SignatureFigure.InjectionsPerRequest(Name), SignatureFigure.ErrorShare],
                [SteadyStateProbe.Below(stalePages, 0.5), SteadyStateProbe.ErrorsBelow(0.01)])
            {
                Mix = "price-change=10,cart=40,checkout=40,browse=10",
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
