namespace Lab.Cli.Launch;

/// <summary>Ports and places of one embedded lab. Every port is on 127.0.0.1.</summary>
public sealed record LabTopology
{
    public int StorefrontPort { get; init; } = 5100;
    public int PaymentsPort { get; init; } = 5200;

    /// <summary>HTTP port of silo 1 (health, metrics, Orleans dashboard); silo n uses this + n - 1.</summary>
    public int SiloHttpPort { get; init; } = 5101;

    /// <summary>Silo-to-silo port of silo 1; silo n uses this + n - 1.</summary>
    public int SiloPort { get; init; } = 11111;

    /// <summary>Client gateway port of silo 1; silo n uses this + n - 1.</summary>
    public int GatewayPort { get; init; } = 30000;

    public int DashboardPort { get; init; } = 18888;
    public int OtlpGrpcPort { get; init; } = 4317;
    public int OtlpHttpPort { get; init; } = 4318;

    public int Silos { get; init; } = 2;

    /// <summary>Start the Aspire dashboard as the telemetry viewer (where its package exists).</summary>
    public bool TelemetryViewer { get; init; } = true;

    /// <summary>Databases, logs and the control token live here.</summary>
    public string DataDirectory { get; init; } = ".lab";

    /// <summary>
    /// The shop's PostgreSQL connection string when the lab runs on PostgreSQL (`lab up --postgres`): payments gets
    /// a sibling database and the silos cluster through the ADO.NET membership table. Null: SQLite files, localhost clustering.
    /// </summary>
    public string? Postgres { get; init; }

    /// <summary>
    /// Start a lab process that exits on its own again (a crashed or killed silo comes back as a new one), unless it
    /// crash-loops. Off for tests that restart processes themselves.
    /// </summary>
    public bool RestartExited { get; init; } = true;

    /// <summary>How long the storefront caches a product page (Cache:ProductTtl); zero = no page cache, reads go to the product grains.</summary>
    public TimeSpan PageCacheTtl { get; init; } = TimeSpan.Zero;

    /// <summary>A Redis server (host:port) the storefront's page cache uses as its second level; null = in-process only.</summary>
    public string? Redis { get; init; }

    /// <summary>Extra settings passed to every lab process as environment variables (e.g. "Seed__Products").</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    public string StorefrontUrl => $"http://127.0.0.1:{StorefrontPort}";
    public string PaymentsUrl => $"http://127.0.0.1:{PaymentsPort}";
    public string DashboardUrl => $"http://127.0.0.1:{DashboardPort}";
    public string SiloUrl(int silo) => $"http://127.0.0.1:{SiloHttpPort + silo - 1}";

    /// <summary>Every port the lab will listen on, with what listens there, for the port-in-use check.</summary>
    public IEnumerable<(int Port, string Owner)> Ports()
    {
        yield return (StorefrontPort, "storefront HTTP (--storefront-port)");
        yield return (PaymentsPort, "payments HTTP (--payments-port)");
        for (var silo = 1; silo <= Silos; silo++)
        {
            yield return (SiloHttpPort + silo - 1, $"silo {silo} HTTP (--silo-http-port)");
            yield return (SiloPort + silo - 1, $"silo {silo} cluster port (--silo-port)");
            yield return (GatewayPort + silo - 1, $"silo {silo} gateway port (--gateway-port)");
        }

        if (TelemetryViewer)
        {
            yield return (DashboardPort, "Aspire dashboard UI (--dashboard-port)");
            yield return (OtlpGrpcPort, "OTLP/gRPC receiver (--otlp-port)");
            yield return (OtlpHttpPort, "OTLP/HTTP receiver (--otlp-port + 1)");
        }
    }
}
