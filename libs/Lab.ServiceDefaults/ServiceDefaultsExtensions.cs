using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Lab.ServiceDefaults;

public static class ServiceDefaultsExtensions
{
    public const string HealthPath = "/health";
    public const string AlivePath = "/alive";
    public const string MetricsPath = "/metrics";

    /// <summary>
    /// OpenTelemetry (traces, metrics, logs; OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; Prometheus always),
    /// health checks, problem details, and the parent-process watch that prevents orphans.
    /// </summary>
    public static TBuilder AddLabDefaults<TBuilder>(this TBuilder builder, string serviceName)
        where TBuilder : IHostApplicationBuilder
    {
        var instanceName = builder.Configuration["Lab:ServiceName"] ?? serviceName;

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource
                .AddService(serviceName, serviceInstanceId: instanceName)
                .AddAttributes([new("lab.instance", instanceName)]))
            .WithTracing(tracing => tracing
                // Application grain calls only: the runtime's own calls (stream queues, membership) would triple the volume.
                .AddSource(LabTelemetry.SourceName, "Lab.*", "Microsoft.Orleans.Application")
                .AddAspNetCoreInstrumentation(options =>
                {
                    // Health probes and scrapes would drown the traces users come to read.
                    options.Filter = context => !IsInfrastructurePath(context.Request.Path);
                })
                .AddHttpClientInstrumentation(options =>
                {
                    options.FilterHttpRequestMessage = request =>
                        request.RequestUri is null || !IsInfrastructurePath(request.RequestUri.AbsolutePath);
                }))
            .WithMetrics(metrics => metrics
                .AddMeter(LabTelemetry.MeterName, "Lab.*", "Microsoft.Orleans")
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.UseOtlpExporter();
        }

        builder.Services.AddProblemDetails();
        // After the default writer: it takes every request that accepts JSON, this one the rest (Accept: application/xml).
        builder.Services.AddSingleton<IProblemDetailsWriter, AnyAcceptProblemDetailsWriter>();
        // Malformed input must reach the exception handler, which says what was wrong, instead of a bare 400.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.ConfigureHttpJsonOptions(options =>
            options.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        builder.Services.AddExceptionHandler<LabExceptionHandler>();
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), ["live"])
            .AddCheck<StartedHealthCheck>("started");
        builder.Services.AddHostedService<ParentProcessWatch>();
        return builder;
    }

    /// <summary>Health (everything ready), liveness, and the Prometheus scrape endpoint.</summary>
    public static IEndpointRouteBuilder MapLabDefaults(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks(HealthPath);
        app.MapHealthChecks(AlivePath, new HealthCheckOptions { Predicate = check => check.Tags.Contains("live") });
        app.MapPrometheusScrapingEndpoint(MetricsPath);
        return app;
    }

    public static bool IsInfrastructurePath(string? path) =>
        path is not null
        && (path.StartsWith(HealthPath, StringComparison.OrdinalIgnoreCase)
            || path.StartsWith(AlivePath, StringComparison.OrdinalIgnoreCase)
            || path.StartsWith(MetricsPath, StringComparison.OrdinalIgnoreCase));
}
