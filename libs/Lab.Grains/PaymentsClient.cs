using System.Net;
using System.Net.Http.Json;
using Lab.Scenarios;
using Lab.Shop;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Timeout;

namespace Lab.Grains;

/// <summary>A charge and what it is for: the order's lines, as a provider prints them on the invoice.</summary>
public sealed record ChargeRequest(Guid OrderId, decimal Amount, string Currency, IReadOnlyList<ChargeItem>? Items = null);

public sealed record ChargeItem(string Sku, int Quantity, decimal UnitPrice);

public sealed record Charge(string ChargeId, Guid OrderId, decimal Amount, string Currency, string Status, DateTimeOffset CreatedAt);

/// <summary>The outcome of a call to the payment provider, success or the reason it failed.</summary>
/// <param name="Uncertain">No usable answer came back (timeout, dropped connection): the call may have taken effect.</param>
/// <param name="DeadlinePassed">The caller's deadline stopped the charge: payments answered 504, or the call was cancelled.</param>
public sealed record PaymentResult(Charge? Charge, string? Error, bool Uncertain = false, bool DeadlinePassed = false)
{
    public bool Succeeded => Charge is not null;
}

/// <summary>The shop's client of the payment provider (named HttpClient "payments").</summary>
public sealed class PaymentsClient(HttpClient http, IOptions<PaymentsClientOptions> options, ServiceIdentity identity)
{
    public const string HttpClientName = "payments";

    /// <summary>Charges an order once: the order id is the idempotency key, so a retry never charges twice.</summary>
    /// <param name="deadline">The caller's deadline, sent to payments in the Lab-Deadline header.</param>
    /// <param name="items">The order's lines, for the provider's invoice.</param>
    public async Task<PaymentResult> ChargeAsync(Guid orderId, decimal amount, IReadOnlyList<ChargeItem> items, DateTimeOffset? deadline,
        CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/charges")
        {
            Content = JsonContent.Create(new ChargeRequest(orderId, amount, options.Value.Currency, items)),
        };
        request.Headers.Add("Idempotency-Key", $"order-{orderId}");
        if (deadline is { } d)
        {
            request.Headers.Add(CallDeadline.Header, CallDeadline.Format(d));
        }

        var result = await SendAsync(request, cancellationToken);
        if (result.Succeeded)
        {
            ResilienceTelemetry.FinishedAt(deadline, DateTimeOffset.UtcNow, "payments-client");
        }

        return result;
    }

    public async Task<PaymentResult> RefundAsync(string chargeId, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/charges/{Uri.EscapeDataString(chargeId)}/refund");
        return await SendAsync(request, cancellationToken);
    }

    /// <summary>
    /// Refunds every captured charge payments holds for the order. A charge whose response was lost (the client timed
    /// out, the connection dropped) exists all the same, so compensation asks payments instead of trusting the failure.
    /// </summary>
    /// <returns>Null when nothing is left charged, else why it could not be made sure of.</returns>
    public async Task<string?> RefundAllAsync(Guid orderId, CancellationToken cancellationToken = default)
    {
        string? error = null;
        // Payments may be the reason the charge failed; give it a few seconds to come back.
        foreach (var pause in (TimeSpan[])[TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3)])
        {
            await Task.Delay(pause, cancellationToken);
            if ((error = await TryRefundAllAsync(orderId, cancellationToken)) is null)
            {
                return null;
            }
        }

        return error;
    }

    private async Task<string?> TryRefundAllAsync(Guid orderId, CancellationToken cancellationToken)
    {
        List<Charge>? charges;
        try
        {
            charges = await http.GetFromJsonAsync<List<Charge>>($"api/charges?orderId={orderId}", cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or TimeoutRejectedException or BrokenCircuitException
                                       or RateLimiterRejectedException or System.Text.Json.JsonException)
        {
            return $"charges of the order unknown: {ex.GetType().Name}: {ex.Message}";
        }

        foreach (var charge in (charges ?? []).Where(c => c.Status == "captured"))
        {
            if (await RefundAsync(charge.ChargeId, cancellationToken) is { Succeeded: false } refund)
            {
                return $"refund of {charge.ChargeId} failed: {refund.Error}";
            }
        }

        return null;
    }

    private async Task<PaymentResult> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Client().SendAsync(request, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return new PaymentResult(await response.Content.ReadFromJsonAsync<Charge>(cancellationToken), null);
            }

            // Payments answers 504 when too little of the deadline in the Lab-Deadline header is left.
            return new PaymentResult(null, $"payments answered {(int)response.StatusCode} {Describe(response.StatusCode)}",
                DeadlinePassed: response.StatusCode == HttpStatusCode.GatewayTimeout);
        }
        catch (BrokenCircuitException ex)
        {
            return new PaymentResult(null, $"payments circuit open: failing fast without calling payments ({ex.Message})");
        }
        catch (RateLimiterRejectedException)
        {
            return new PaymentResult(null, "payments bulkhead full: too many payments calls in flight from this silo; refused without calling payments");
        }
        catch (TimeoutRejectedException ex)
        {
            return new PaymentResult(null, $"payments gave no answer within {ex.Timeout.TotalMilliseconds:0} ms per attempt", Uncertain: true);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            return new PaymentResult(null, $"payments unreachable: {ex.GetType().Name}: {ex.Message}", Uncertain: true,
                DeadlinePassed: cancellationToken.IsCancellationRequested);
        }
    }

    /// <summary>
    /// The shared client (the factory's pooled handler, behind the shop's retries and breaker), unless the
    /// payments-connections seam says a new one per call: its own handler and socket, kept open.
    /// </summary>
    private HttpClient Client()
    {
        if (ShopSeams.PaymentsConnections.Resolve(identity, ConnectionReuse.Shared).KeepPerCall is not { } keep)
        {
            return http;
        }

        var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = http.BaseAddress,
            Timeout = http.Timeout,
        };
        client.DefaultRequestHeaders.Authorization = http.DefaultRequestHeaders.Authorization;
        keep(client);
        return client;
    }

    private static string Describe(HttpStatusCode code) => code.ToString();
}
