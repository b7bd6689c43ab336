using System.Net;
using Lab.Scenarios;
using Lab.Scenarios.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lab.Scenarios.Tests;

/// <summary>A process outside the cluster (payments) follows the set through the control API's snapshot endpoint.</summary>
public sealed class HttpSyncTests : IAsyncLifetime
{
    private LabWebHost _storefront = null!;
    private WebApplication _payments = null!;
    private HttpClient _paymentsClient = null!;

    public async Task InitializeAsync()
    {
        _storefront = await LabWebHost.StartAsync();

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddLabScenarios(o =>
            {
                o.ServiceName = "payments";
                o.ServiceKind = ServiceKind.Payments;
                o.ControlApiUrl = _storefront.BaseAddress;
            })
            .SyncFromControlApi();
        _payments = builder.Build();
        _payments.UseLabScenarios();
        _payments.MapPost("/api/charges", () => Results.Text("charged"));
        await _payments.StartAsync();
        _paymentsClient = new HttpClient { BaseAddress = new Uri(_payments.Urls.First()) };
    }

    public async Task DisposeAsync()
    {
        _paymentsClient.Dispose();
        await _payments.StopAsync();
        await _payments.DisposeAsync();
        await _storefront.DisposeAsync();
    }

    [Fact]
    public async Task Payments_applies_an_enable_through_the_snapshot_endpoint_and_only_its_own_targets()
    {
        var payments = _payments.Services.GetRequiredService<ScenarioRuntimeHost>();
        var enabled = await _storefront.EnableAsync(
            "error-burst", """{"parameters":{"rate":"100%","status":502,"hook":"http-server"},"target":{"service":"payments"}}""");

        await Waits.UntilAsync(() => payments.AppliedVersion == enabled.Version, TimeSpan.FromSeconds(5), "payments to apply the enable");
        using (var charge = await _paymentsClient.PostAsync("api/charges", null))
        {
            Assert.Equal(HttpStatusCode.BadGateway, charge.StatusCode);
        }

        Assert.Equal("pong", await _storefront.Client.GetStringAsync("api/ping")); // the storefront is not the target

        await _storefront.DisableAsync("error-burst");
        await Waits.UntilAsync(() => payments.Applied.Activations.IsEmpty, TimeSpan.FromSeconds(5), "payments to apply the disable");
        using var recovered = await _paymentsClient.PostAsync("api/charges", null);
        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
    }
}
