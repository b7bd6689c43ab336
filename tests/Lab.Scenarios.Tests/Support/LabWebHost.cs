using Lab.Scenarios;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lab.Scenarios.Tests.Support;

/// <summary>A storefront-like web app on a loopback port: local control plane, control API, HTTP server hook, and a perturbable HttpClient.</summary>
public sealed class LabWebHost : IAsyncDisposable
{
    public const string Token = "test-token";

    private LabWebHost(WebApplication app, Uri baseAddress)
    {
        App = app;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(20) };
    }

    public WebApplication App { get; }

    public Uri BaseAddress { get; }

    /// <summary>A plain client (no scenario handler): the test's own view of the service.</summary>
    public HttpClient Client { get; }

    public IScenarioControlPlane Plane => App.Services.GetRequiredService<IScenarioControlPlane>();

    public static async Task<LabWebHost> StartAsync(Action<LabScenarioOptions>? configure = null)
    {
        ScenarioRuntime.Clear();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddLabScenarios(o =>
            {
                o.ServiceName = "storefront";
                o.ServiceKind = ServiceKind.Storefront;
                o.ControlToken = Token;
                o.Caps.MaxMemoryBytes = 64L << 20;
                o.Caps.MaxThreads = 8;
                o.Caps.MaxBusyCores = 1;
                configure?.Invoke(o);
            })
            .UseLocalControlPlane()
            .AddScenariosFrom(typeof(LabWebHost).Assembly);

        // The client under test: every request to /api/* goes through the HTTP client hook.
        builder.Services.AddHttpClient("downstream").AddLabScenarioHandler();

        var app = builder.Build();
        app.UseLabScenarios();
        app.MapGet("/api/ping", () => Results.Text("pong"));
        app.MapGet("/api/items/{id}", (string id) => Results.Text(id));
        app.MapGet("/health", () => Results.Text("healthy"));
        app.MapLabControlApi();
        await app.StartAsync();
        var address = app.Urls.First();
        return new LabWebHost(app, new Uri(address.EndsWith('/') ? address : address + "/"));
    }

    /// <summary>An HttpClient with the scenario handler, aimed at this host.</summary>
    public HttpClient CreateDownstreamClient()
    {
        var client = App.Services.GetRequiredService<IHttpClientFactory>().CreateClient("downstream");
        client.BaseAddress = BaseAddress;
        return client;
    }

    public HttpRequestMessage Request(HttpMethod method, string path, string? json = null, string? token = Token)
    {
        var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        }

        return request;
    }

    /// <summary>Enables through the API and waits until this process's runtime applied it.</summary>
    public async Task<ControlResult> EnableAsync(string name, string json)
    {
        using var response = await Client.SendAsync(Request(HttpMethod.Post, $"lab/scenarios/{name}", json));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"enable {name} failed: {(int)response.StatusCode} {body}");
        var result = System.Text.Json.JsonSerializer.Deserialize<ControlResult>(body, LabJson.Options)!;
        await WaitAppliedAsync(result.Version);
        return result;
    }

    public async Task DisableAsync(string name)
    {
        using var response = await Client.SendAsync(Request(HttpMethod.Delete, $"lab/scenarios/{name}"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"disable {name} failed: {(int)response.StatusCode} {body}");
        var result = System.Text.Json.JsonSerializer.Deserialize<ControlResult>(body, LabJson.Options)!;
        await WaitAppliedAsync(result.Version);
    }

    public Task WaitAppliedAsync(long version) =>
        Waits.UntilAsync(() => App.Services.GetRequiredService<ScenarioRuntimeHost>().AppliedVersion == version, TimeSpan.FromSeconds(5), $"set v{version} applied");

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        ScenarioRuntime.Clear();
    }
}
