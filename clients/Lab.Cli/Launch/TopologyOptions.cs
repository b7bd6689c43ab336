using System.CommandLine;

namespace Lab.Cli.Launch;

/// <summary>The options every command that starts a lab shares (ports, data directory, viewer).</summary>
public sealed class TopologyOptions
{
    private static readonly LabTopology Defaults = new();

    private readonly Option<int> _storefrontPort = Port("--storefront-port", "Storefront HTTP port (shop API and /lab control API)", Defaults.StorefrontPort);
    private readonly Option<int> _paymentsPort = Port("--payments-port", "Payments HTTP port", Defaults.PaymentsPort);
    private readonly Option<int> _siloHttpPort = Port("--silo-http-port", "HTTP port of silo 1 (health, metrics, Orleans dashboard); silo n uses +n-1", Defaults.SiloHttpPort);
    private readonly Option<int> _siloPort = Port("--silo-port", "Cluster port of silo 1; silo n uses +n-1", Defaults.SiloPort);
    private readonly Option<int> _gatewayPort = Port("--gateway-port", "Client gateway port of silo 1; silo n uses +n-1", Defaults.GatewayPort);
    private readonly Option<int> _dashboardPort = Port("--dashboard-port", "Aspire dashboard UI port", Defaults.DashboardPort);
    private readonly Option<int> _otlpPort = Port("--otlp-port", "OTLP/gRPC port of the telemetry viewer (OTLP/HTTP uses +1)", Defaults.OtlpGrpcPort);
    private readonly Option<int> _silos = new("--silos") { Description = "Number of silos in the cluster (1-5)", DefaultValueFactory = _ => Defaults.Silos };
    private readonly Option<string> _dataDirectory = new("--data-dir") { Description = "Directory for databases, logs and the control token", DefaultValueFactory = _ => Defaults.DataDirectory };
    private readonly Option<bool> _noViewer = new("--no-dashboard") { Description = "Do not start the Aspire dashboard" };
    private readonly Option<string?> _postgres = new("--postgres")
    {
        Description = $"Run on a local PostgreSQL instead of SQLite files, with Orleans clustering in it; optional connection string (default \"{LabPostgres.DefaultConnectionString}\"; payments uses a sibling database, both created if missing)",
        Arity = ArgumentArity.ZeroOrOne,
    };

    private readonly Option<string?> _pageCache = new("--page-cache")
    {
        Description = "Cache product pages at the storefront for this long (e.g. 10s; HybridCache in the process, Redis too with --redis). " +
                      "Off by default: the product grains are the shop's cache, and a page cache in front of them hides what happens to them",
    };

    private readonly Option<string?> _redis = new("--redis")
    {
        Description = "A Redis server (host:port, e.g. 127.0.0.1:6379) for the page cache's second level; needs --page-cache",
    };

    public TopologyOptions()
    {
        _pageCache.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } text
                && (!Lab.Scenarios.ParameterParser.TryParseDuration(text, out var ttl) || ttl <= TimeSpan.Zero || ttl > TimeSpan.FromHours(1)))
            {
                result.AddError($"--page-cache must be a duration between 1ms and 1h, such as 10s (got '{text}').");
            }
        });
        _redis.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } text && !System.Text.RegularExpressions.Regex.IsMatch(text, @"^[A-Za-z0-9.\-]+:\d{1,5}$"))
            {
                result.AddError($"--redis must be host:port, such as 127.0.0.1:6379 (got '{text}').");
            }
        });
        _silos.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 5)
            {
                result.AddError("--silos must be between 1 and 5.");
            }
        });
    }

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _storefrontPort, _paymentsPort, _siloHttpPort, _siloPort, _gatewayPort, _dashboardPort, _otlpPort, _silos, _dataDirectory, _noViewer, _postgres, _pageCache, _redis })
        {
            command.Options.Add(option);
        }

        command.Validators.Add(result =>
        {
            if (result.GetResult(_redis) is not null && result.GetResult(_pageCache) is null)
            {
                result.AddError("--redis is the page cache's second level: give --page-cache too (e.g. --page-cache 10s --redis 127.0.0.1:6379).");
            }
        });
    }

    public LabTopology Read(ParseResult result) => new()
    {
        StorefrontPort = result.GetValue(_storefrontPort),
        PaymentsPort = result.GetValue(_paymentsPort),
        SiloHttpPort = result.GetValue(_siloHttpPort),
        SiloPort = result.GetValue(_siloPort),
        GatewayPort = result.GetValue(_gatewayPort),
        DashboardPort = result.GetValue(_dashboardPort),
        OtlpGrpcPort = result.GetValue(_otlpPort),
        OtlpHttpPort = result.GetValue(_otlpPort) + 1,
        Silos = result.GetValue(_silos),
        DataDirectory = result.GetValue(_dataDirectory)!,
        TelemetryViewer = !result.GetValue(_noViewer),
        Postgres = result.GetResult(_postgres) is null ? null : result.GetValue(_postgres) ?? LabPostgres.DefaultConnectionString,
        PageCacheTtl = result.GetValue(_pageCache) is { } ttl && Lab.Scenarios.ParameterParser.TryParseDuration(ttl, out var pageCache) ? pageCache : TimeSpan.Zero,
        Redis = result.GetValue(_redis),
    };

    private static Option<int> Port(string name, string description, int defaultValue)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 65535)
            {
                result.AddError($"{name} must be a port number between 1 and 65535.");
            }
        });
        return option;
    }
}
