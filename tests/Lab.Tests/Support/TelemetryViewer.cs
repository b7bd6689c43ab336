using System.Text.Json;

namespace Lab.Tests.Support;

/// <summary>One span as the Aspire dashboard's telemetry API returns it (OTLP JSON shape).</summary>
public sealed record ViewerSpan(
    string TraceId, string Service, string Instance, string Name, int Kind, TimeSpan Duration,
    Dictionary<string, string> Attributes, List<string> Events)
{
    public const int ServerKind = 2;
    public const int ClientKind = 3;
}

/// <summary>Reads traces from the Aspire dashboard the lab started (GET /api/telemetry/traces/{id}).</summary>
public sealed class TelemetryViewer(string baseUrl) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(5) };

    public async Task<List<ViewerSpan>> ReadTraceAsync(string traceId)
    {
        string json;
        try
        {
            using var response = await _http.GetAsync($"/api/telemetry/traces/{traceId}");
            if (!response.IsSuccessStatusCode)
            {
                return [];
            }

            json = await response.Content.ReadAsStringAsync();
        }
        catch (TaskCanceledException)
        {
            return []; // a busy dashboard; the caller polls again
        }

        using var document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty("data", out _) && !document.RootElement.TryGetProperty("resourceSpans", out _))
        {
            return []; // "{}": the trace has not arrived yet
        }

        var spans = new List<ViewerSpan>();
        var data = document.RootElement.TryGetProperty("data", out var inner) ? inner : document.RootElement;
        foreach (var resourceSpans in data.GetProperty("resourceSpans").EnumerateArray())
        {
            var resource = resourceSpans.TryGetProperty("resource", out var r) ? Attributes(r) : [];
            var service = resource.GetValueOrDefault("service.name") ?? "";
            var instance = resource.GetValueOrDefault("lab.instance") ?? resource.GetValueOrDefault("service.instance.id") ?? "";
            foreach (var scope in resourceSpans.GetProperty("scopeSpans").EnumerateArray())
            {
                foreach (var span in scope.GetProperty("spans").EnumerateArray())
                {
                    var start = ulong.Parse(span.GetProperty("startTimeUnixNano").ToString());
                    var end = ulong.Parse(span.GetProperty("endTimeUnixNano").ToString());
                    var events = span.TryGetProperty("events", out var list)
                        ? list.EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToList()
                        : [];
                    spans.Add(new ViewerSpan(span.GetProperty("traceId").GetString()!, service, instance, span.GetProperty("name").GetString()!,
                        span.TryGetProperty("kind", out var kind) ? kind.GetInt32() : 0,
                        TimeSpan.FromTicks((long)((end - start) / 100)), Attributes(span), events));
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

    public void Dispose() => _http.Dispose();
}
