using System.Diagnostics;
using Lab.ServiceDefaults;

namespace Lab.Storefront;

/// <summary>
/// Puts the matched route ("GET /api/customers/{customerId}/orders") into the trace's baggage, so database
/// calls deep in the silos are counted against the request that caused them.
/// </summary>
public static class RouteBaggage
{
    public static IApplicationBuilder UseRouteBaggage(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            if (context.GetEndpoint() is RouteEndpoint endpoint && Activity.Current is { } activity)
            {
                activity.SetBaggage(LabTelemetry.RouteBaggageKey, $"{context.Request.Method} {endpoint.RoutePattern.RawText}");
            }

            await next(context);
        });
}
