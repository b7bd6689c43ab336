using Lab.Data;
using Lab.Payments;
using Lab.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Lab.Tests.Support;

/// <summary>The real payments endpoints and database on a free loopback port, with a switch that makes it answer 503.</summary>
public sealed class TestPaymentsServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private volatile bool _down;

    private TestPaymentsServer(WebApplication app) => _app = app;

    /// <summary>The shop's API key here (what the silos under test send).</summary>
    public const string ShopKey = "test-shop-payments-key";

    /// <summary>Another caller's key: charges and refunds made directly, as a person or tool would.</summary>
    public const string OperatorKey = "test-operator-payments-key";

    public string BaseUrl { get; private set; } = "";
    public ChargeRepository Charges => _app.Services.GetRequiredService<ChargeRepository>();

    /// <summary>A client of this server with the operator's key.</summary>
    public HttpClient CreateOperatorClient()
    {
        var http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", OperatorKey);
        return http;
    }

    /// <summary>While true, every charge or refund request gets 503 before it reaches the provider's code.</summary>
    public bool Down { get => _down; set => _down = value; }

    public static async Task<TestPaymentsServer> StartAsync(TestDatabase database)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(database.Settings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Payments:ApiKeys:shop"] = ShopKey,
            ["Payments:ApiKeys:operator"] = OperatorKey,
        });
        builder.AddLabDefaults("lab-payments-test");
        builder.Services.AddPayments(builder.Configuration);
        var app = builder.Build();
        var server = new TestPaymentsServer(app);
        app.Use(async (context, next) =>
        {
            if (server.Down)
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return;
            }

            await next(context);
        });
        app.UseLabProblemDetails();
        app.MapChargesApi();
        await app.Services.GetRequiredService<ChargeRepository>().InitializeAsync();
        await app.StartAsync();
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
