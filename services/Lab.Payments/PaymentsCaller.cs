using System.Security.Cryptography;
using System.Text;
using Lab.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Lab.Payments;

/// <summary>
/// Who is calling payments: the name its API key belongs to (<see cref="PaymentsOptions.ApiKeys"/>). Set by
/// <see cref="Authenticate"/> before any charges handler runs; handlers read it with <see cref="Of"/>.
/// </summary>
public sealed record PaymentsCaller(string Name)
{
    private const string Scheme = "Bearer ";

    /// <summary>Answers 401 (problem details) to a request without a known key; otherwise records the caller and goes on.</summary>
    public static async ValueTask<object?> Authenticate(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var keys = http.RequestServices.GetRequiredService<IOptions<PaymentsOptions>>().Value.ApiKeys;
        var header = http.Request.Headers.Authorization.FirstOrDefault();
        var presented = header is not null && header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? header[Scheme.Length..].Trim() : null;
        var caller = presented is null ? null : keys.FirstOrDefault(entry => Matches(entry.Value, presented)).Key;
        if (caller is null)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized,
                title: presented is null ? "API key required" : "Unknown API key",
                detail: "Payments serves known callers only: send 'Authorization: Bearer KEY' with a key of Payments:ApiKeys.");
        }

        http.Items[typeof(PaymentsCaller)] = new PaymentsCaller(caller);
        return await next(context);
    }

    /// <summary>The caller <see cref="Authenticate"/> recorded for this request.</summary>
    public static PaymentsCaller Of(HttpContext http) =>
        http.Items[typeof(PaymentsCaller)] as PaymentsCaller ?? throw new InvalidOperationException("The charges API ran without authentication.");

    // Constant time, so the answer's timing tells nothing about how much of a key was right.
    private static bool Matches(string key, string presented) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(presented));
}
