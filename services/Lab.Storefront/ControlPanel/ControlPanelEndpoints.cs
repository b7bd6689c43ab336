using Lab.Scenarios;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Lab.Storefront.ControlPanel;

/// <summary>
/// The lab's web control panel: the page (wwwroot/lab, served at /lab/) and the data it needs besides the control
/// API — the live view of the shop's traffic, the load reports, the trace links. The page drives scenarios through
/// the control API itself (/lab/scenarios, /lab/reset, /lab/history). Everything here needs the control token.
/// </summary>
public static class ControlPanelEndpoints
{
    public static IServiceCollection AddControlPanel(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ControlPanelOptions>().Bind(configuration.GetSection(ControlPanelOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ControlPanelOptions>, ControlPanelOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<LiveTraffic>();
        services.AddSingleton<LoadReports>();
        return services;
    }

    /// <summary>The traffic recorder (first, so it times what clients see) and the panel's static files.</summary>
    public static WebApplication UseControlPanel(this WebApplication app)
    {
        app.UseMiddleware<LiveTrafficMiddleware>();
        app.UseDefaultFiles(); // /lab and /lab/ -> /lab/index.html
        app.UseStaticFiles(new StaticFileOptions
        {
            OnPrepareResponse = context =>
            {
                var headers = context.Context.Response.Headers;
                // Revalidate (ETag) rather than cache, so a rebuilt panel shows at once; no third-party origins at all.
                headers.CacheControl = "no-cache";
                headers.ContentSecurityPolicy =
                    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-src 'self' blob:; object-src 'none'; base-uri 'none'";
                headers.XContentTypeOptions = "nosniff";
            },
        });
        return app;
    }

    public static RouteGroupBuilder MapControlPanelApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/lab").WithTags("Lab control panel");

        group.MapGet("/panel", (IOptions<ControlPanelOptions> options, LiveTraffic traffic, LoadReports reports) =>
                TypedResults.Json(new PanelSettings(
                    TargetFilter.Keys,
                    options.Value.AspireTraceLink,
                    options.Value.JaegerTraceLink,
                    traffic.WindowSeconds,
                    reports.Directory), LabJson.Options))
            .WithName("PanelSettings").WithSummary("What the control panel needs to know: target keys, trace link templates, the live window, the reports directory.")
            .RequireControlToken();

        group.MapGet("/live", (int? seconds, LiveTraffic traffic) => TypedResults.Json(traffic.Snapshot(seconds ?? traffic.WindowSeconds), LabJson.Options))
            .WithName("LiveTraffic").WithSummary("The shop's requests per second, error rate, p50 and p99 for each of the last seconds; recent slow and failed requests with trace ids.")
            .RequireControlToken();

        group.MapGet("/reports", (LoadReports reports) => TypedResults.Json(reports.List(), LabJson.Options))
            .WithName("LoadReports").WithSummary("The load client's recent reports (report.json), newest first.")
            .RequireControlToken();

        group.MapGet("/reports/{id}/html", (string id, LoadReports reports) =>
                reports.HtmlPath(id) is { } path
                    ? Results.File(path, "text/html; charset=utf-8")
                    : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Report not found",
                        detail: $"No report.html in report folder '{id}'. GET /lab/reports lists the reports."))
            .WithName("LoadReportHtml").WithSummary("A load report's HTML form.")
            .RequireControlToken();

        return group;
    }
}

/// <param name="TargetKeys">The target fields the control API accepts.</param>
/// <param name="AspireTraceLink">Link template with "{traceId}" into the Aspire dashboard, or null.</param>
/// <param name="JaegerTraceLink">Link template with "{traceId}" into Jaeger, or null.</param>
/// <param name="LiveWindowSeconds">How many seconds /lab/live can return.</param>
/// <param name="ReportsDirectory">Where load reports are read from, or null.</param>
public sealed record PanelSettings(
    IReadOnlyList<string> TargetKeys,
    string? AspireTraceLink,
    string? JaegerTraceLink,
    int LiveWindowSeconds,
    string? ReportsDirectory);
