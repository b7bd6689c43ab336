using System.Diagnostics;
using System.Text.Json;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.EndToEnd;

/// <summary>The OpenAPI documents the storefront and payments serve declare what each operation answers, and say what it does.</summary>
[Trait(TestStore.Trait, TestStore.Independent)]
[Collection(LabProcessesCollection.Name)]
public sealed class OpenApiTests(LabProcessesFixture fixture, ITestOutputHelper output)
{
    // Spectral, the OpenAPI linter, installed from npm once per build output (about 40 s the first time).
    private const string SpectralPackage = "@stoplight/spectral-cli@6.16.3";

    public static TheoryData<string, string, string, string[]> Operations => new()
    {
        // service, path, method, every status the operation answers
        { "storefront", "/api/carts/{customerId}/checkout", "post", ["201", "400", "404", "409", "502", "504"] },
        { "storefront", "/api/carts/{customerId}/items", "post", ["200", "400", "404", "415"] },
        { "storefront", "/api/carts/{customerId}/items/{sku}", "delete", ["200", "400", "404"] },
        { "storefront", "/api/carts/{customerId}", "get", ["200", "400", "404"] },
        { "storefront", "/api/catalog/search", "get", ["200", "400"] },
        { "storefront", "/api/products/{sku}", "get", ["200", "400", "404"] },
        { "storefront", "/api/orders/{orderId}", "get", ["200", "400", "404"] },
        { "storefront", "/api/customers/{customerId}/orders", "get", ["200", "400", "404"] },
        { "payments", "/api/charges", "post", ["200", "201", "400", "401", "415", "422", "504"] },
        { "payments", "/api/charges", "get", ["200", "400", "401"] },
        { "payments", "/api/charges/{chargeId}", "get", ["200", "401", "404"] },
        { "payments", "/api/charges/{chargeId}/refund", "post", ["200", "401", "404"] },
    };

    /// <summary>Both documents lint clean with Spectral's oas ruleset: no error, no warning.</summary>
    [Fact]
    public async Task The_documents_lint_clean_with_spectral()
    {
        var spectral = await SpectralAsync();
        using var work = new TempDirectory("lab-oas");
        await File.WriteAllTextAsync(Path.Combine(work.Path, ".spectral.yaml"), "extends: [\"spectral:oas\"]\n");
        await File.WriteAllTextAsync(Path.Combine(work.Path, "storefront.json"), await fixture.Storefront.GetStringAsync("/openapi/v1.json"));
        await File.WriteAllTextAsync(Path.Combine(work.Path, "payments.json"), await fixture.Payments.GetStringAsync("/openapi/v1.json"));

        var (exit, text) = await RunAsync(spectral, ["lint", "--fail-severity", "warn", "--ruleset", ".spectral.yaml", "storefront.json", "payments.json"],
            work.Path, TimeSpan.FromMinutes(2));
        output.WriteLine(text);
        Assert.True(exit == 0, text);
    }

    private static async Task<string> SpectralAsync()
    {
        var prefix = Path.Combine(AppContext.BaseDirectory, "spectral");
        var binary = Path.Combine(prefix, "node_modules", ".bin", "spectral");
        if (!File.Exists(binary))
        {
            Directory.CreateDirectory(prefix);
            var (exit, text) = await RunAsync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", prefix, SpectralPackage],
                prefix, TimeSpan.FromMinutes(5));
            Assert.True(exit == 0 && File.Exists(binary), $"npm install {SpectralPackage} failed ({exit}): {text}");
        }

        return binary;
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, string[] arguments, string directory, TimeSpan bound)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(bound);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish within {bound}.");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Each_operation_declares_every_status_it_answers_and_a_description(string service, string path, string method, string[] statuses)
    {
        var http = service == "payments" ? fixture.Payments : fixture.Storefront;
        using var document = JsonDocument.Parse(await http.GetStringAsync("/openapi/v1.json"));
        var operation = document.RootElement.GetProperty("paths").GetProperty(path).GetProperty(method);
        var declared = operation.GetProperty("responses").EnumerateObject().Select(response => response.Name).ToList();
        Assert.Equal(statuses.Order(), declared.Order());
        Assert.False(string.IsNullOrWhiteSpace(operation.GetProperty("description").GetString()), $"{method} {path} has no description");
    }
}
