using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Lab.Load.Engine;

/// <summary>The client's own spans: one per journey (the trace root) and one per request.</summary>
public static class LoadTelemetry
{
    public const string SourceName = "Lab.Load";

    public static readonly ActivitySource Source = new(SourceName, "1.0.0");

    /// <summary>
    /// Exports the client's spans over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the exporter reads the
    /// standard OTEL_* variables itself); otherwise returns null and no span objects are created at all.
    /// </summary>
    public static IDisposable? StartExportIfConfigured(string serviceName = "lab-load")
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT")))
        {
            return null;
        }

        return Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateDefault().AddService(serviceName))
            .AddSource(SourceName)
            .SetSampler(new AlwaysOnSampler())
            .AddOtlpExporter()
            .Build();
    }
}
