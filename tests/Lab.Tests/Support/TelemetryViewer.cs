using System.Text.Json;

namespace Lab.Tests.Support;

/// <summary>One span as the Aspire dashboard's telemetry API returns it (OTLP JSON shape).</summary>
public sealed record ViewerSpan(
    string TraceId, string Service, string Instance, string Name, int Kind, TimeSpan Duration,
    Dictionary<string, string> Attributes, List<string> Events)
{
    public const int ServerKind = 2;
    public const int ClientKind = 3;

    public string SpanId { get; init; } = "";

    /// <summary>The span this one is a child of; for the first span of a request a test sent, the id in its traceparent.</summary>
    public string ParentSpanId { get; init; } = "";

    /// <summary>When the span started and ended (the clock of the process that recorded it).</summary>
    public DateTimeOffset Start { get; init; }

    public DateTimeOffset End => Start + Duration;

    /// <summary>2 = error (OTLP status code).</summary>
    public int Status { get; init; }

    public string? Attribute(string key) => Attributes.GetValueOrDefault(key);

    /// <summary>The scenario that injected here, when one did (the span's lab.scenario attribute).</summary>
    public string? Scenario => Attribute("lab.scenario");
}

/// <summary>
/// Traffic a test sends in a trace of its own: every request it makes with <see cref="Header"/> carries the trace id, so the
/// spans every process records for that work (and only those) can be read back and counted.
/// </summary>
public sealed class TestTrace
{
    public string TraceId { get; } = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();

    /// <summary>A W3C traceparent for one more request of this trace, whose parent span id is <paramref name="spanId"/>.</summary>
    public string Header(string spanId) => $"00-{TraceId}-{spanId}-01";

    /// <summary>
    /// Adds this trace's traceparent to <paramref name="request"/>, with a parent span id of its own: the span id of the request
    /// as the test sent it (<see cref="RequestSpanId"/>), which the first span the lab records for it names as its parent.
    /// </summary>
    public HttpRequestMessage On(HttpRequestMessage request)
    {
        var spanId = System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString();
        request.Headers.Remove("traceparent");
        request.Headers.Add("traceparent", Header(spanId));
        request.Options.Set(RequestSpanId, spanId);
        return request;
    }

    /// <summary>The parent span id <see cref="On"/> gave a request.</summary>
    public static readonly HttpRequestOptionsKey<string> RequestSpanId = new("lab.test.span-id");

    /// <summary>Every span of <paramref name="spans"/> below the request whose parent span id is <paramref name="requestSpanId"/>.</summary>
    public static List<ViewerSpan> Below(IReadOnlyList<ViewerSpan> spans, string requestSpanId)
    {
        var children = spans.ToLookup(s => s.ParentSpanId);
        var found = new List<ViewerSpan>();
        var next = new Queue<string>([requestSpanId]);
        while (next.TryDequeue(out var parent))
        {
            foreach (var child in children[parent])
            {
                found.Add(child);
                next.Enqueue(child.SpanId);
            }
        }

        return found;
    }

    public override string ToString() => TraceId;
}

/// <summary>Reads traces from the Aspire dashboard the lab started (GET /api/telemetry/traces/{id}).</summary>
public sealed class TelemetryViewer(string baseUrl) : IDisposable
{
    /// <summary>How often each process of a test lab exports its spans (its OTEL_BSP_SCHEDULE_DELAY).</summary>
    public static readonly TimeSpan ExportInterval = TimeSpan.FromMilliseconds(200);

    // A trace counts as whole once it has not changed for this long: many export intervals, so a process that exports late
    // on a busy machine is waited for.
    private static readonly TimeSpan Stable = TimeSpan.FromSeconds(1);

    // A large trace on a starved machine can take the viewer seconds to serve: a read that runs out of this is no answer,
    // not an empty trace.
    private readonly HttpClient _http = new() { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(15) };

    /// <summary>
    /// The whole trace once every process has exported its part: read until two reads a second apart (five export intervals)
    /// find the same spans, and <paramref name="complete"/> (when given) holds. A read the viewer did not answer in time
    /// counts neither way. Bounded by <paramref name="bound"/> (default 30 s) plus the read under way.
    /// </summary>
    public async Task<List<ViewerSpan>> SettledTraceAsync(string traceId, Func<List<ViewerSpan>, bool>? complete = null, TimeSpan? bound = null)
    {
        var limit = bound ?? TimeSpan.FromSeconds(30);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var last = await TryReadTraceAsync(traceId);
        var unanswered = last is null ? 1 : 0;
        while (true)
        {
            await Task.Delay(Stable);
            var now = await TryReadTraceAsync(traceId);
            if (now is null)
            {
                unanswered++;
            }
            else if (now.Count > 0 && now.Count == last?.Count && (complete is null || complete(now)))
            {
                return now;
            }

            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"Trace {traceId} did not settle within {limit.TotalSeconds:0} s: {now?.Count.ToString() ?? "no answer"} spans, " +
                                           $"{last?.Count.ToString() ?? "no answer"} before, {unanswered} reads unanswered" +
                                           (complete is null ? "" : ", not yet complete"));
            }

            last = now ?? last;
        }
    }

    /// <summary>The spans the viewer holds now (none when it has not seen the trace), or null when it did not answer within the client's timeout.</summary>
    private async Task<List<ViewerSpan>?> TryReadTraceAsync(string traceId)
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
            return null; // a busy viewer; the caller polls again
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
                        TimeSpan.FromTicks((long)((end - start) / 100)), Attributes(span), events)
                    {
                        SpanId = span.TryGetProperty("spanId", out var id) ? id.GetString() ?? "" : "",
                        ParentSpanId = span.TryGetProperty("parentSpanId", out var parentId) ? parentId.GetString() ?? "" : "",
                        Start = DateTimeOffset.UnixEpoch + TimeSpan.FromTicks((long)(start / 100)),
                        Status = StatusOf(span),
                    });
                }
            }
        }

        return spans;
    }

    /// <summary>The span's status code (2 = error), given as a number or as its OTLP name.</summary>
    private static int StatusOf(JsonElement span)
    {
        if (!span.TryGetProperty("status", out var status) || !status.TryGetProperty("code", out var code))
        {
            return 0;
        }

        return code.ValueKind == JsonValueKind.Number ? code.GetInt32()
            : code.GetString()?.Contains("ERROR", StringComparison.OrdinalIgnoreCase) == true ? 2
            : code.GetString()?.Contains("OK", StringComparison.OrdinalIgnoreCase) == true ? 1 : 0;
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
