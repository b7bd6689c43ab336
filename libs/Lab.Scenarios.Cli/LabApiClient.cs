using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lab.Scenarios.Cli;

/// <summary>A control API answer that was not a success: the problem document's essentials.</summary>
public sealed class LabApiException(int status, string title, string? detail, IReadOnlyDictionary<string, string[]> errors)
    : Exception($"{status} {title}: {detail}")
{
    public int Status { get; } = status;

    public string Title { get; } = title;

    public string? Detail { get; } = detail;

    /// <summary>Field errors keyed by the offending parameter or field.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; } = errors;
}

/// <summary>A typed client for the control API (<c>/lab</c>), used by the CLI and by tests and experiments.</summary>
public sealed class LabApiClient(HttpClient http, string? token, string actor)
{
    public Task<ScenarioStatus[]> ListAsync(CancellationToken ct) => SendAsync<ScenarioStatus[]>(HttpMethod.Get, "lab/scenarios", null, ct);

    public Task<ScenarioStatus> GetAsync(string name, CancellationToken ct) => SendAsync<ScenarioStatus>(HttpMethod.Get, $"lab/scenarios/{Uri.EscapeDataString(name)}", null, ct);

    public Task<ActiveScenarioSet> ActiveAsync(CancellationToken ct) => SendAsync<ActiveScenarioSet>(HttpMethod.Get, "lab/scenarios/active", null, ct);

    public Task<ScenarioHistoryEntry[]> HistoryAsync(int limit, CancellationToken ct) => SendAsync<ScenarioHistoryEntry[]>(HttpMethod.Get, $"lab/history?limit={limit}", null, ct);

    public Task<ControlResult> EnableAsync(string name, IReadOnlyDictionary<string, string>? parameters, IReadOnlyDictionary<string, string>? target, string? ttl, long? seed, CancellationToken ct) =>
        SendAsync<ControlResult>(HttpMethod.Post, $"lab/scenarios/{Uri.EscapeDataString(name)}", Body(parameters, target, ttl, seed), ct);

    public Task<ControlResult> ChangeAsync(string name, IReadOnlyDictionary<string, string>? parameters, IReadOnlyDictionary<string, string>? target, string? ttl, long? seed, CancellationToken ct) =>
        SendAsync<ControlResult>(HttpMethod.Patch, $"lab/scenarios/{Uri.EscapeDataString(name)}", Body(parameters, target, ttl, seed), ct);

    public Task<ControlResult> DisableAsync(string name, CancellationToken ct) => SendAsync<ControlResult>(HttpMethod.Delete, $"lab/scenarios/{Uri.EscapeDataString(name)}", null, ct);

    public Task<ControlResult> ResetAsync(CancellationToken ct) => SendAsync<ControlResult>(HttpMethod.Post, "lab/reset", null, ct);

    private static JsonObject Body(IReadOnlyDictionary<string, string>? parameters, IReadOnlyDictionary<string, string>? target, string? ttl, long? seed)
    {
        var body = new JsonObject();
        if (parameters is { Count: > 0 })
        {
            body["parameters"] = new JsonObject(parameters.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value))));
        }

        if (target is { Count: > 0 })
        {
            body["target"] = new JsonObject(target.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value))));
        }

        if (ttl is not null)
        {
            body["ttl"] = ttl;
        }

        if (seed is not null)
        {
            body["seed"] = seed;
        }

        return body;
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, JsonObject? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        request.Headers.Add(LabControlApi.ActorHeader, actor);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: LabJson.Options);
        }

        using var response = await http.SendAsync(request, ct);
        if (response.IsSuccessStatusCode)
        {
            return await response.Content.ReadFromJsonAsync<T>(LabJson.Options, ct)
                ?? throw new LabApiException((int)response.StatusCode, "Empty answer", "The control API answered with no body.", new Dictionary<string, string[]>());
        }

        throw await ProblemAsync(response, ct);
    }

    private static async Task<LabApiException> ProblemAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            var title = root.TryGetProperty("title", out var t) ? t.GetString() : null;
            var detail = root.TryGetProperty("detail", out var d) ? d.GetString() : null;
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            if (root.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object)
            {
                foreach (var field in e.EnumerateObject())
                {
                    errors[field.Name] = field.Value.ValueKind == JsonValueKind.Array
                        ? field.Value.EnumerateArray().Select(v => v.ToString()).ToArray()
                        : [field.Value.ToString()];
                }
            }

            return new LabApiException(status, title ?? response.ReasonPhrase ?? "Error", detail, errors);
        }
        catch (JsonException)
        {
            return new LabApiException(status, response.ReasonPhrase ?? "Error", text.Length > 500 ? text[..500] : text, new Dictionary<string, string[]>());
        }
    }
}
