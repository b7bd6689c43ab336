using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Lab.Scenarios;

/// <summary>
/// Applies scenarios to HTTP requests this service receives. Never applies to the lab's own and the
/// platform's endpoints (/lab, /health, /alive, /metrics), so the control API and probes keep working.
/// Register after routing (WebApplication routes first by default) so the route template is known.
/// </summary>
public sealed class ScenarioHttpServerMiddleware(RequestDelegate next, ServiceIdentity service)
{
    private static readonly PathString[] Excluded = ["/lab", "/health", "/alive", "/metrics"];

    public Task InvokeAsync(HttpContext http)
    {
        if (!ScenarioRuntime.IsActiveAt(HookPoint.HttpServer) || IsExcluded(http.Request.Path))
        {
            return next(http);
        }

        return InvokeWithScenariosAsync(http);
    }

    internal static bool IsExcluded(PathString path)
    {
        foreach (var prefix in Excluded)
        {
            if (path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private async Task InvokeWithScenariosAsync(HttpContext http)
    {
        var ctx = new HookContext(HookPoint.HttpServer, service)
        {
            Route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? http.Request.Path.Value,
            HttpMethod = http.Request.Method,
            Carrier = http,
        };
        await ScenarioRuntime.InvokeAsync(ctx, http.RequestAborted);
        if (ctx.MaxRequestBodyBytes is { } limit && http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            // The server's own limit, lowered for this request: Kestrel refuses a body that declares or reads past it (413).
            size.MaxRequestBodySize = limit;
            if (http.Request.ContentLength > limit)
            {
                ctx.ServerStatus = HttpStatusCode.RequestEntityTooLarge;
                ctx.ServerProblemTitle = "Request body too large";
            }
        }

        if (ctx.ServerStatus is not { } status)
        {
            if (ctx.ResponseBytesPerSecond is { } rate)
            {
                await NextThrottledAsync(http, rate);
            }
            else
            {
                await next(http);
            }

            return;
        }

        foreach (var (name, value) in ctx.ServerHeaders ?? new Dictionary<string, string>())
        {
            http.Response.Headers[name] = value;
        }

        var scenarios = string.Join(",", ctx.AppliedScenarios);
        http.Response.Headers["X-Lab-Scenario"] = scenarios;
        var problem = new ProblemDetails
        {
            Status = (int)status,
            Title = ctx.ServerProblemTitle ?? ReasonPhrase(status),
            Detail = $"Injected by lab scenario {scenarios}.",
            Instance = http.Request.Path,
            Extensions = { ["scenario"] = scenarios },
        };
        await Results.Problem(problem).ExecuteAsync(http);
    }

    /// <summary>Runs the endpoint with the response body behind a link of <paramref name="bytesPerSecond"/>.</summary>
    private async Task NextThrottledAsync(HttpContext http, long bytesPerSecond)
    {
        var original = http.Features.Get<IHttpResponseBodyFeature>()!;
        await using var throttled = new ThrottledStream(original.Stream, bytesPerSecond);
        var feature = new StreamResponseBodyFeature(throttled, original);
        http.Features.Set<IHttpResponseBodyFeature>(feature);
        try
        {
            await next(http);
            await feature.CompleteAsync();
        }
        finally
        {
            http.Features.Set(original);
        }
    }

    private static string ReasonPhrase(HttpStatusCode status) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase((int)status) is { Length: > 0 } phrase ? phrase : status.ToString();
}

/// <summary>
/// Applies scenarios to requests this service sends with HttpClient. A scenario may delay, throw
/// (e.g. HttpRequestException) or answer in place of the server with <see cref="HookContext.ClientResponse"/>.
/// Requests to the lab's control API (/lab) are never perturbed.
/// </summary>
public sealed class ScenarioHttpClientHandler(ServiceIdentity service) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!ScenarioRuntime.IsActiveAt(HookPoint.HttpClient) || IsControlApi(request.RequestUri))
        {
            return base.SendAsync(request, cancellationToken);
        }

        return SendWithScenariosAsync(request, cancellationToken);
    }

    private static bool IsControlApi(Uri? uri) =>
        uri is { IsAbsoluteUri: true } && ScenarioHttpServerMiddleware.IsExcluded(new PathString(uri.AbsolutePath));

    private async Task<HttpResponseMessage> SendWithScenariosAsync(HttpRequestMessage request, CancellationToken ct)
    {
        var uri = request.RequestUri;
        var ctx = new HookContext(HookPoint.HttpClient, service)
        {
            Route = uri?.IsAbsoluteUri == true ? uri.AbsolutePath : uri?.OriginalString,
            HttpMethod = request.Method.Method,
            RemoteHost = uri?.IsAbsoluteUri == true ? uri.Authority : null,
            Carrier = request,
        };
        await ScenarioRuntime.InvokeAsync(ctx, ct);
        if (ctx.ClientResponse is { } response)
        {
            response.RequestMessage ??= request;
            return response;
        }

        return await base.SendAsync(request, ct);
    }
}

/// <summary>
/// A clock that includes the skew of active clock-skew scenarios targeting this service. The shop injects it
/// where wall-clock time matters (reservation expiry, event timestamps). Timestamps and timers are not skewed.
/// </summary>
public sealed class ScenarioTimeProvider(TimeProvider inner, ServiceIdentity service) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() =>
        ScenarioRuntime.IsIdle ? inner.GetUtcNow() : inner.GetUtcNow() + ScenarioRuntime.ClockSkew(service);

    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override long GetTimestamp() => inner.GetTimestamp();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        inner.CreateTimer(callback, state, dueTime, period);
}
