using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace Lab.Cli.Demo;

/// <summary>One request of the demo: which step, its status, how long it took, and its trace.</summary>
public sealed record DemoRequest(string Step, int Status, double Milliseconds, string TraceId);

/// <summary>
/// A short built-in workload: shoppers search, open a product, fill a cart, check out and read their history.
/// Each shopper's journey is one trace started here, so the whole checkout can be opened in the viewer.
/// </summary>
public sealed class DemoWorkload(HttpClient http)
{
    public static readonly ActivitySource Source = new("Lab.Cli");

    private static readonly string[] Words = ["lamp", "blue", "steel", "kettle", "oak", "speaker", "clock", "mug"];

    public async Task<IReadOnlyList<DemoRequest>> RunAsync(int shoppers, int concurrency, int seed, CancellationToken cancellationToken)
    {
        var requests = new List<DemoRequest>();
        using var gate = new SemaphoreSlim(concurrency);
        var tasks = Enumerable.Range(0, shoppers).Select(async index =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                var done = await ShopAsync(new Random(seed + index), cancellationToken);
                lock (requests)
                {
                    requests.AddRange(done);
                }
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(tasks);
        return requests;
    }

    private async Task<List<DemoRequest>> ShopAsync(Random random, CancellationToken cancellationToken)
    {
        var customerId = 1 + random.Next(0, 1_000);
        using var journey = Source.StartActivity("demo shopper", ActivityKind.Client);
        journey?.SetTag("lab.customer", customerId);
        journey?.SetBaggage("lab.synthetic", "true");
        var done = new List<DemoRequest>();

        var search = await SendAsync(done, "search", HttpMethod.Get, $"api/catalog/search?q={Words[random.Next(Words.Length)]}&pageSize=10", null, cancellationToken);
        var skus = search.ValueKind == JsonValueKind.Object
            ? search.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("sku").GetString()!).ToList()
            : [];
        if (skus.Count == 0)
        {
            skus.Add("SKU-00001");
        }

        await SendAsync(done, "product", HttpMethod.Get, $"api/products/{skus[0]}", null, cancellationToken);
        var items = 1 + random.Next(0, 3);
        for (var i = 0; i < items; i++)
        {
            var sku = random.Next(0, 2) == 0 ? skus[random.Next(skus.Count)] : $"SKU-{1 + random.Next(0, 20):D5}";
            await SendAsync(done, "add to cart", HttpMethod.Post, $"api/carts/{customerId}/items",
                new { sku, quantity = 1 + random.Next(0, 2) }, cancellationToken);
        }

        await SendAsync(done, "checkout", HttpMethod.Post, $"api/carts/{customerId}/checkout", null, cancellationToken);
        await SendAsync(done, "order history", HttpMethod.Get, $"api/customers/{customerId}/orders?limit=10", null, cancellationToken);
        return done;
    }

    private async Task<JsonElement> SendAsync(List<DemoRequest> done, string step, HttpMethod method, string path, object? body,
        CancellationToken cancellationToken)
    {
        using var activity = Source.StartActivity(step, ActivityKind.Client);
        var started = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        int status;
        JsonElement json = default;
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            status = (int)response.StatusCode;
            if (response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) == true)
            {
                json = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            }
        }
        catch (HttpRequestException)
        {
            status = 0;
        }

        var traceId = Activity.Current?.TraceId.ToString() ?? "";
        done.Add(new DemoRequest(step, status, Stopwatch.GetElapsedTime(started).TotalMilliseconds, traceId));
        return json;
    }
}
