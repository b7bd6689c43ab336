using System.Net;
using Lab.Grains;
using Lab.Scenarios;
using Lab.Shop;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Timeout;

using Lab.Tests.Support;

namespace Lab.Tests.Shop;

/// <summary>
/// The payments client's own resilience, with no scenario active: one retrying layer whose budget caps the retries, a
/// breaker that opens on a failing provider and fails fast, no retry of a deadline answer, a timeout per attempt and a
/// bulkhead. Real handlers and real
/// Polly pipelines, against a provider that answers what each test needs.
/// </summary>
[Trait(TestStore.Trait, TestStore.Independent)]
public sealed class PaymentsResilienceTests
{
    private static readonly ServiceIdentity Silo = new("silo-test", ServiceKind.Silo);

    [Fact]
    public async Task The_retry_budget_caps_the_retries_of_a_failing_provider()
    {
        var options = new ResilienceOptions { PaymentsBackoff = TimeSpan.FromMilliseconds(1), BreakerMinimumThroughput = 100_000 };
        var provider = new Provider(HttpStatusCode.ServiceUnavailable);
        using var client = ClientOf(options, provider);
        const int calls = 60;
        for (var i = 0; i < calls; i++)
        {
            using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "http://payments.test/api/charges"), default);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        // Naive retries would send calls × attempts (180); the budget allows the floor or 20% of first attempts per window.
        var allowed = Math.Max(options.RetryBudgetFloor, (int)(options.RetryBudgetRatio * calls));
        Assert.InRange(provider.Calls - calls, 1, allowed);
    }

    [Fact]
    public async Task The_breaker_opens_on_a_failing_provider_and_fails_fast_without_calling_it()
    {
        var options = new ResilienceOptions { PaymentsAttempts = 1, BreakerMinimumThroughput = 5, BreakerBreakDuration = TimeSpan.FromSeconds(30) };
        var provider = new Provider(HttpStatusCode.InternalServerError);
        using var client = ClientOf(options, provider);
        var rejected = 0;
        for (var i = 0; i < 20; i++)
        {
            try
            {
                using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "http://payments.test/api/charges"), default);
            }
            catch (BrokenCircuitException)
            {
                rejected++;
            }
        }

        Assert.True(rejected >= 10, $"{rejected} of 20 calls failed fast");
        Assert.Equal(20 - rejected, provider.Calls);
    }

    [Fact]
    public async Task A_deadline_answer_is_neither_retried_nor_counted_against_the_provider()
    {
        var options = new ResilienceOptions { PaymentsBackoff = TimeSpan.FromMilliseconds(1), BreakerMinimumThroughput = 5 };
        var provider = new Provider(HttpStatusCode.GatewayTimeout);
        using var client = ClientOf(options, provider);
        for (var i = 0; i < 20; i++)
        {
            using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "http://payments.test/api/charges"), default);
            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        }

        Assert.Equal(20, provider.Calls);
    }

    [Fact]
    public async Task A_hung_attempt_gives_up_at_the_attempt_timeout_and_the_bulkhead_refuses_calls_beyond_it_at_once()
    {
        var options = new ResilienceOptions
        {
            PaymentsAttempts = 1, PaymentsAttemptTimeout = TimeSpan.FromMilliseconds(300), PaymentsConcurrency = 2, BreakerMinimumThroughput = 100_000,
        };
        var provider = new Provider(HttpStatusCode.Created, hang: TimeSpan.FromSeconds(30));
        using var client = ClientOf(options, provider);

        // Two calls take the bulkhead's two places and hang at the provider; the third is refused without reaching it.
        var held = Enumerable.Range(0, 2).Select(_ => client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "http://payments.test/api/charges"), default)).ToList();
        await Eventually.GetAsync(() => Task.FromResult(provider.Calls), calls => calls == 2, TimeSpan.FromSeconds(5), "two calls in flight");
        await Assert.ThrowsAsync<RateLimiterRejectedException>(() => client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "http://payments.test/api/charges"), default));
        Assert.Equal(2, provider.Calls);

        // The held calls give up at the attempt timeout (the strategy that rejected them says which), not at the provider's
        // answer after its hang, and free their places.
        foreach (var call in held)
        {
            var rejected = await Assert.ThrowsAsync<TimeoutRejectedException>(() => call);
            Assert.Equal(options.PaymentsAttemptTimeout, rejected.Timeout);
        }

        provider.Hang = TimeSpan.Zero;
        using var after = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "http://payments.test/api/charges"), default);
        Assert.Equal(HttpStatusCode.Created, after.StatusCode);
    }

    private static HttpMessageInvoker ClientOf(ResilienceOptions options, Provider provider)
    {
        var pipelines = new PaymentsResiliencePipelines(new ShopPolicies(Options.Create(options)), Silo, TimeProvider.System);
        return new HttpMessageInvoker(new PaymentsResilienceHandler(pipelines) { InnerHandler = provider });
    }

    /// <summary>A payment provider that answers every call with one status (after <paramref name="hang"/>) and counts the calls.</summary>
    private sealed class Provider(HttpStatusCode status, TimeSpan hang = default) : HttpMessageHandler
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public TimeSpan Hang { get; set; } = hang;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            if (Hang > TimeSpan.Zero)
            {
                await Task.Delay(Hang, cancellationToken);
            }

            return new HttpResponseMessage(status);
        }
    }
}
