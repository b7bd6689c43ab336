using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lab.Load.Reporting;

/// <summary>report.json: the versioned, machine-readable form (camelCase, see <see cref="LoadReport"/>).</summary>
public static class JsonReportWriter
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static string Write(LoadReport report) => JsonSerializer.Serialize(report, Options);

    public static Task WriteAsync(LoadReport report, Stream stream, CancellationToken cancellationToken = default) =>
        JsonSerializer.SerializeAsync(stream, report, Options, cancellationToken);
}
