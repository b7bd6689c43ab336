using System.Diagnostics;
using Lab.Contracts;
using Lab.Scenarios;
using Lab.Shop;
using Polly;
using Polly.Hedging;

namespace Lab.Storefront;

/// <summary>
/// The storefront's product reads, hedged as the product-read-hedging seam says: a read that has not answered within the
/// hedge delay gets a second, concurrent one (product grains are reentrant, so it does not queue behind the first) and the
/// first answer wins, an error included; the other is cancelled, at the grain too. A read is idempotent, so the loser costs only its own work. The shop's own pipeline is built once; a
/// regressed variant gets its own while it lasts.
/// </summary>
public sealed class ProductReads(IGrainFactory grains, ShopPolicies policies, ServiceIdentity identity)
{
    private const string Operation = "product.get";

    private readonly ResiliencePipeline<Product?> _production = Build(policies.ProductReadHedging);
    private volatile Built? _regressed;

    public async Task<Product?> GetAsync(string sku)
    {
        var policy = ShopSeams.ProductReadHedging.Resolve(identity, policies.ProductReadHedging, sku);
        if (policy.Hedges <= 0)
        {
            return await grains.GetGrain<IProductGrain>(sku).GetAsync();
        }

        var pipeline = ReferenceEquals(policy, policies.ProductReadHedging) ? _production : Regressed(policy);
        // Each attempt passes its token to the grain: Polly cancels the loser and waits for it to end before it answers.
        return await pipeline.ExecuteAsync(static (state, ct) => new ValueTask<Product?>(state.Grains.GetGrain<IProductGrain>(state.Sku).GetAsync(ct)),
            (Grains: grains, Sku: sku));
    }

    private ResiliencePipeline<Product?> Regressed(HedgingPolicy policy)
    {
        if (_regressed is { } current && current.Policy == policy)
        {
            return current.Pipeline;
        }

        var built = Build(policy);
        _regressed = new Built(policy, built);
        return built;
    }

    private sealed record Built(HedgingPolicy Policy, ResiliencePipeline<Product?> Pipeline);

    private static ResiliencePipeline<Product?> Build(HedgingPolicy policy) =>
        policy.Hedges <= 0
            ? ResiliencePipeline<Product?>.Empty
            : new ResiliencePipelineBuilder<Product?>()
                .AddHedging(new HedgingStrategyOptions<Product?>
                {
                    MaxHedgedAttempts = policy.Hedges,
                    Delay = policy.Delay,
                    // Hedging answers slowness only: the first outcome, an error or a missing product (null) included, is the
                    // answer. (Retrying errors is another policy; it would hide a failing grain behind a second call.)
                    ShouldHandle = _ => ValueTask.FromResult(false),
                    OnHedging = args =>
                    {
                        ResilienceTelemetry.Hedged(Operation);
                        Activity.Current?.AddEvent(new ActivityEvent("lab.hedged", tags: new ActivityTagsCollection
                        {
                            ["operation"] = Operation,
                            ["attempt"] = args.AttemptNumber + 1,
                        }));
                        return default;
                    },
                })
                .Build();
}
