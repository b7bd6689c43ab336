using System.Text;
using Lab.Load.Engine;
using Lab.Load.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Lab.Load.Tests;

[Collection("load runs")]
public sealed class TransportTests
{
    private const string TraceParentText = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    private static readonly TraceParent TraceParent = TraceParent.Parse(TraceParentText);

    private static async Task<TestServer> Server() => await TestServer.StartAsync(app =>
    {
        app.MapGet("/length", () => Results.Text(new string('x', 5000)));
        app.MapGet("/chunked", async (HttpContext context) =>
        {
            for (var i = 0; i < 40; i++)
            {
                await context.Response.WriteAsync(new string((char)('a' + (i % 26)), 1000));
                await context.Response.Body.FlushAsync();
            }
        });
        app.MapGet("/json", () => Results.Ok(new { orderId = "abc", items = Enumerable.Range(0, 200).Select(i => new { sku = $"SKU-{i:D5}" }) }));
        app.MapPost("/echo", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            return Results.Json(new { got = body, type = context.Request.ContentType }, statusCode: 201);
        });
        app.MapPost("/empty", () => Results.NoContent());
        app.MapDelete("/close", (HttpContext context) =>
        {
            context.Response.Headers.Connection = "close";
            return Results.Problem(statusCode: 409, title: "out of stock");
        });
        app.MapGet("/big", () => Results.Text(new string('y', 300_000)));
        app.MapGet("/whoami", (HttpContext context) => Results.Text(context.Request.Headers.Authorization.ToString()));
    });

    public static TheoryData<string> Kinds => new() { "raw", "httpclient" };

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Transports_send_the_back_office_token_only_on_the_requests_that_carry_one(string kind)
    {
        await using var server = await Server();
        using var shared = Create(kind, server.Address);
        var transport = shared.ForWorker();
        try
        {
            var signed = await transport.SendAsync(new TransportRequest(HttpMethod.Get, "/whoami", default, TraceParent, true, "Bearer s3cret"), CancellationToken.None);
            var plain = await transport.SendAsync(Get("/whoami"), CancellationToken.None);
            Assert.Equal("Bearer s3cret", Encoding.UTF8.GetString(signed.Body.Span));
            Assert.Equal("", Encoding.UTF8.GetString(plain.Body.Span));
        }
        finally
        {
            if (!ReferenceEquals(transport, shared))
            {
                transport.Dispose();
            }
        }
    }

    private static ILoadTransport Create(string kind, Uri address) =>
        kind == "raw" ? new RawHttpTransport(address) : new HttpClientTransport(address, 4);

    private static TransportRequest Get(string path, bool readBody = true) => new(HttpMethod.Get, path, default, TraceParent, readBody);

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Transports_read_every_body_framing_the_same_way(string kind)
    {
        await using var server = await Server();
        using var shared = Create(kind, server.Address);
        var transport = shared.ForWorker();
        try
        {
            // Several rounds on one connection: keep-alive must leave the stream exactly at the next response.
            for (var round = 0; round < 3; round++)
            {
                var length = await transport.SendAsync(Get("/length"), CancellationToken.None);
                Assert.Equal(200, length.StatusCode);
                Assert.Equal(5000, length.Body.Length);

                var chunked = await transport.SendAsync(Get("/chunked"), CancellationToken.None);
                Assert.Equal(40_000, chunked.Body.Length);
                Assert.Equal((byte)'n', chunked.Body.Span[13 * 1000]);

                var json = await transport.SendAsync(Get("/json"), CancellationToken.None);
                Assert.Contains("SKU-00199", Encoding.UTF8.GetString(json.Body.Span));

                var skipped = await transport.SendAsync(Get("/big", readBody: false), CancellationToken.None);
                Assert.Equal(200, skipped.StatusCode);
                Assert.True(skipped.Body.IsEmpty);

                var body = Encoding.UTF8.GetBytes("""{"sku":"SKU-00042","quantity":2}""");
                var echo = await transport.SendAsync(new TransportRequest(HttpMethod.Post, "/echo", body, TraceParent, true), CancellationToken.None);
                Assert.Equal(201, echo.StatusCode);
                var text = Encoding.UTF8.GetString(echo.Body.Span);
                Assert.Contains("SKU-00042", text);
                Assert.Contains("application/json", text);

                var empty = await transport.SendAsync(new TransportRequest(HttpMethod.Post, "/empty", default, TraceParent, true), CancellationToken.None);
                Assert.Equal(204, empty.StatusCode);

                var closed = await transport.SendAsync(new TransportRequest(HttpMethod.Delete, "/close", default, TraceParent, true), CancellationToken.None);
                Assert.Equal(409, closed.StatusCode);
                Assert.Contains("out of stock", Encoding.UTF8.GetString(closed.Body.Span));
            }
        }
        finally
        {
            if (!ReferenceEquals(transport, shared))
            {
                transport.Dispose();
            }
        }

        Assert.All(server.Seen, r => Assert.Equal(TraceParentText, r.TraceParent));
        Assert.All(server.Seen, r => Assert.Equal("lab.synthetic=true", r.Baggage));
    }

    [Fact]
    public async Task Raw_transport_reconnects_after_the_server_drops_an_idle_connection()
    {
        await using var first = await Server();
        var port = first.Address.Port;
        using var transport = new RawHttpTransport(first.Address);
        var worker = transport.ForWorker();
        Assert.Equal(200, (await worker.SendAsync(Get("/length"), CancellationToken.None)).StatusCode);

        // Stop the server (closing the kept-alive connection) and start another on the same port.
        await first.DisposeAsync();
        await using var second = await TestServer.StartAsync(app => app.MapGet("/length", () => "again"), port);
        var again = await worker.SendAsync(Get("/length"), CancellationToken.None);
        Assert.Equal("again", Encoding.UTF8.GetString(again.Body.Span));
        worker.Dispose();
    }

    [Fact]
    public async Task Raw_transport_times_out_through_its_token()
    {
        await using var server = await TestServer.StartAsync(app => app.MapGet("/hang", async () =>
        {
            await Task.Delay(5000);
            return "late";
        }));
        using var transport = new RawHttpTransport(server.Address);
        var worker = transport.ForWorker();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await worker.SendAsync(Get("/hang"), cts.Token));
        worker.Dispose();
    }
}
