using System.Text.Json;

namespace Lab.Tests.Support;

public sealed record AspireSpan(string TraceId, string Service, string Name, int Kind, Dictionary<string, string> Attributes);

/// <summary>Reads traces back from the Aspire dashboard's telemetry API (OTLP JSON shape).</summary>
public static class AspireTraces
{
    public const int ServerKind = 2;


    /// <summary>Reads one trace from the Aspire dashboard's telemetry API (OTLP JSON shape).</summary>
    public static async Task<List<AspireSpan>> ReadAsync(HttpClient viewer, string traceId)
    {
        using var response = await viewer.GetAsync($"/api/telemetry/traces/{traceId}");
        if (!response.IsSuccessStatusCode)
        {
            return [];
        }

        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var spans = new List<AspireSpan>();
        var data = document.RootElement.TryGetProperty("data", out var inner) ? inner : document.RootElement;
        foreach (var resourceSpans in data.GetProperty("resourceSpans").EnumerateArray())
        {
            var service = Attributes(resourceSpans.GetProperty("resource")).GetValueOrDefault("service.name") ?? "";
            foreach (var scope in resourceSpans.GetProperty("scopeSpans").EnumerateArray())
            {
                foreach (var span in scope.GetProperty("spans").EnumerateArray())
                {
                    spans.Add(new AspireSpan(span.GetProperty("traceId").GetString()!, service, span.GetProperty("name").GetString()!,
                        span.TryGetProperty("kind", out var kind) ? kind.GetInt32() : 0, Attributes(span)));
                }
            }
        }

        return spans;
    }

    private static Dictionary<string, string> Attributes(JsonElement owner)
    {
        var attributes = new Dictionary<string, string>();
        if (!owner.TryGetProperty("attributes", out var list))
        {
            return attributes;
        }

        foreach (var attribute in list.EnumerateArray())
        {
            var value = attribute.GetProperty("value");
            attributes[attribute.GetProperty("key").GetString()!] = value.EnumerateObject().FirstOrDefault().Value.ToString();
        }

        return attributes;
    }
}
