using System.Data.Common;
using Lab.Cli.Launch;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Lab.Tests.Support;

/// <summary>
/// The embedded lab as `lab up` starts it: real processes on loopback (2 silos, storefront, payments, the Aspire
/// dashboard), on free ports, over a small seeded database in a temporary directory (or, with
/// LAB_TEST_DATABASE=postgres, fresh PostgreSQL databases dropped after).
/// </summary>
public sealed class LabProcessesFixture : IAsyncLifetime
{
    public const int SeededStock = 60;

    private readonly TempDirectory _directory = new("lab-e2e");
    private readonly TestLabDatabases _databases = new();

    public RunningLab Lab { get; private set; } = null!;
    public HttpClient Storefront { get; private set; } = null!;
    public HttpClient Payments { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Lab = await LabLauncher.StartAsync(FreeTopology(_directory.Path, telemetryViewer: true, postgres: _databases.Shop));
        Storefront = new HttpClient { BaseAddress = new Uri(Lab.Topology.StorefrontUrl), Timeout = TimeSpan.FromSeconds(30) };
        Payments = new HttpClient { BaseAddress = new Uri(Lab.Topology.PaymentsUrl), Timeout = TimeSpan.FromSeconds(30) };
        Payments.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Lab.OperatorPaymentsKey);
    }

    /// <summary>
    /// Empties a customer's cart: the load test's cart journeys leave items (often hot SKUs already sold out) in the
    /// carts of popular customers, which a later test of the same lab would otherwise check out.
    /// </summary>
    public async Task EmptyCartAsync(int customerId)
    {
        using var cart = System.Text.Json.JsonDocument.Parse(await Storefront.GetStringAsync($"/api/carts/{customerId}"));
        foreach (var line in cart.RootElement.GetProperty("lines").EnumerateArray())
        {
            using var removed = await Storefront.DeleteAsync($"/api/carts/{customerId}/items/{line.GetProperty("sku").GetString()}");
            removed.EnsureSuccessStatusCode();
        }
    }

    /// <summary>Opens "shop.db" or "payments.db" of the lab (on PostgreSQL: its shop or payments database).</summary>
    public DbConnection OpenDatabase(string name) => OpenDatabase(Lab, name);

    public static DbConnection OpenDatabase(RunningLab lab, string name)
    {
        DbConnection connection = lab.Topology.Postgres is { } shop
            ? new NpgsqlConnection(name == "payments.db" ? LabPostgres.PaymentsConnectionString(shop) : shop)
            : new SqliteConnection($"Data Source={Path.Combine(lab.DataDirectory, "data", name)};Mode=ReadOnly");
        connection.Open();
        return connection;
    }

    /// <summary>A topology on ports that are free right now, with a small, quick seed (on PostgreSQL when <paramref name="postgres"/> is given).</summary>
    public static LabTopology FreeTopology(string dataDirectory, bool telemetryViewer, int silos = 2, string? postgres = null)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            // Below the kernel's ephemeral range (32768-60999 here): an outgoing connection of any process on the machine can
            // take a port in it between this check and the bind, and a lab's listener would then fail to start.
            var basePort = Random.Shared.Next(10_000, 32_000);
            var topology = new LabTopology
            {
                StorefrontPort = basePort,
                PaymentsPort = basePort + 1,
                DashboardPort = basePort + 2,
                OtlpGrpcPort = basePort + 3,
                OtlpHttpPort = basePort + 4,
                SiloHttpPort = basePort + 10,
                SiloPort = basePort + 20,
                GatewayPort = basePort + 30,
                Silos = silos,
                TelemetryViewer = telemetryViewer,
                DataDirectory = dataDirectory,
                Postgres = postgres,
                Settings = new Dictionary<string, string>
                {
                    ["Seed__Products"] = "200",
                    ["Seed__Customers"] = "300",
                    ["Seed__HistoricalOrders"] = "2000",
                    ["Seed__MinStock"] = SeededStock.ToString(),
                    ["Seed__MaxStock"] = SeededStock.ToString(),
                    ["Orleans__ResponseTimeout"] = "00:00:10",
                    // Spans reach the viewer within a fifth of a second, so a test reads its own trace back soon after.
                    ["OTEL_BSP_SCHEDULE_DELAY"] = ((int)TelemetryViewer.ExportInterval.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture),
                    // Tests count spans: none may be lost on a busy machine, where the viewer can be slow to take a batch. A queue
                    // that does not overflow, a batch that waits longer for the viewer, and another try when it fails.
                    ["OTEL_BSP_MAX_QUEUE_SIZE"] = "65536",
                    ["OTEL_EXPORTER_OTLP_TIMEOUT"] = "30000",
                    ["OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY"] = "in_memory",
                },
            };
            if (topology.Ports().All(port => LoopbackPorts.IsFree(port.Port)))
            {
                return topology;
            }
        }

        throw new InvalidOperationException("No free block of loopback ports found.");
    }


    public async Task DisposeAsync()
    {
        Storefront.Dispose();
        Payments.Dispose();
        await Lab.DisposeAsync();
        await _databases.DisposeAsync();
        _directory.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class LabProcessesCollection : ICollectionFixture<LabProcessesFixture>
{
    public const string Name = "lab processes";
}
