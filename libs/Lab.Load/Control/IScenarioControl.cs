using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Lab.Load.Control;

/// <summary>The part of the lab's scenario control API the load client uses: timeline marks and live status.</summary>
public interface IScenarioControl
{
    Task EnableAsync(string scenario, IReadOnlyDictionary<string, string> parameters, TimeSpan ttl, CancellationToken cancellationToken);

    Task DisableAsync(string scenario, CancellationToken cancellationToken);

    /// <summary>Names of the active scenarios.</summary>
    Task<IReadOnlyList<string>> GetActiveAsync(CancellationToken cancellationToken);
}

/// <summary>Failure of a control call, with the server's message when it sent problem details.</summary>
public sealed class ScenarioControlException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The control API over HTTP: <c>POST/DELETE /lab/scenarios/{name}</c>, <c>GET /lab/scenarios/active</c>, bearer token.</summary>
public sealed class HttpScenarioControl : IScenarioControl, IDisposable
{
    private readonly HttpClient _http;

    public HttpScenarioControl(Uri baseAddress, string? token, TimeSpan? timeout = null)
    {
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null })
        {
            BaseAddress = baseAddress,
            Timeout = timeout ?? TimeSpan.FromSeconds(5),
        };
        if (!string.IsNullOrEmpty(token))
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public async Task EnableAsync(string scenario, IReadOnlyDictionary<string, string> parameters, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var body = new { parameters, ttl = Plan.LoadSyntax.FormatDuration(ttl) };
        await SendAsync(HttpMethod.Post, scenario, JsonContent.Create(body), cancellationToken);
    }

    public Task DisableAsync(string scenario, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Delete, scenario, null, cancellationToken);

    public async Task<IReadOnlyList<string>> GetActiveAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync("/lab/scenarios/active", cancellationToken);
        response.EnsureSuccessStatusCode();
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var doc = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
        var root = doc.RootElement;
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("scenarios", out var inner))
        {
            root = inner;
        }

        if (root.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        var names = new List<string>();
        foreach (var item in root.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String)
            {
                names.Add(item.GetString()!);
            }
            else if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            {
                names.Add(name.GetString()!);
            }
        }

        return names;
    }

    public void Dispose() => _http.Dispose();

    private async Task SendAsync(HttpMethod method, string scenario, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, $"/lab/scenarios/{Uri.EscapeDataString(scenario)}") { Content = content };
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new ScenarioControlException($"control API unreachable: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ScenarioControlException("control API did not answer in time", e);
        }

        using (response)
        {
            if (response.IsSuccessStatusCode)
            {
                return;
            }

            var detail = await ReadProblemAsync(response, cancellationToken);
            throw new ScenarioControlException($"{method} {scenario}: {(int)response.StatusCode} {response.ReasonPhrase}{(detail is null ? "" : $": {detail}")}");
        }
    }

    private static async Task<string?> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (string.IsNullOrWhiteSpace(text))
            {
                return null;
            }

            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            foreach (var field in new[] { "detail", "title" })
            {
                if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String)
                {
                    return value.GetString();
                }
            }

            return text.Length > 200 ? text[..200] : text;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
