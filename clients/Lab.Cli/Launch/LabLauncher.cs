using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Lab.Cli.Launch;

/// <summary>
/// Starts the embedded lab as real processes on loopback: the telemetry viewer, payments, the silos
/// (a real cluster over TCP) and the storefront, each waited for until healthy.
/// </summary>
public static class LabLauncher
{
    private static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan HealthPoll = TimeSpan.FromMilliseconds(200);

    public static async Task<RunningLab> StartAsync(LabTopology topology, Action<string>? progress = null,
        CancellationToken cancellationToken = default)
    {
        progress ??= _ => { };
        var dataDirectory = Path.GetFullPath(topology.DataDirectory);
        foreach (var leftover in ProcessRegistry.StopLeftovers(dataDirectory))
        {
            progress($"stopped {leftover} left running by an earlier run");
        }

        EnsurePortsFree(topology);
        if (topology.Postgres is { } postgres)
        {
            progress("preparing the PostgreSQL databases");
            await LabPostgres.PrepareAsync(postgres, cancellationToken);
        }

        var logDirectory = Path.Combine(dataDirectory, "logs");
        Directory.CreateDirectory(Path.Combine(dataDirectory, "data"));

        var lab = new RunningLab(topology, dataDirectory, ControlToken.CreateFor(dataDirectory));
        var started = Stopwatch.GetTimestamp();
        try
        {
            var otlp = StartTelemetryViewer(lab, topology, dataDirectory, logDirectory, progress);
            var common = CommonSettings(topology, otlp);
            // A cluster id of its own: a silo or client of another lab on this machine that reaches one of these ports
            // (a stale gateway list, a port reused) is refused at the handshake instead of joining or driving this lab.
            common["Orleans__ClusterId"] = lab.ClusterId;

            progress("starting payments");
            var payments = lab.Add(ChildProcess.Start("payments", LabPaths.Payments, [], With(common, new()
            {
                ["ASPNETCORE_URLS"] = topology.PaymentsUrl,
                ["Lab__ServiceName"] = "payments",
                ["Lab__Scenarios__ControlApiUrl"] = topology.StorefrontUrl,
            }, PaymentsDatabase(topology, dataDirectory)), dataDirectory, logDirectory));

            // The primary silo seeds the database and must be up before the others join through it.
            var silos = new List<Task>();
            for (var silo = 1; silo <= topology.Silos; silo++)
            {
                progress($"starting silo {silo}");
                var process = lab.Add(ChildProcess.Start($"silo-{silo}", LabPaths.Silo, [], With(common, new()
                {
                    ["ASPNETCORE_URLS"] = topology.SiloUrl(silo),
                    ["Lab__ServiceName"] = $"silo-{silo}",
                    ["Orleans__SiloPort"] = (topology.SiloPort + silo - 1).ToString(),
                    ["Orleans__GatewayPort"] = (topology.GatewayPort + silo - 1).ToString(),
                    ["Orleans__PrimarySiloPort"] = topology.SiloPort.ToString(),
                    ["Payments__BaseUrl"] = topology.PaymentsUrl,
                }, ShopDatabase(topology, dataDirectory), Clustering(topology)), dataDirectory, logDirectory));
                var healthy = WaitHealthyAsync(process, topology.SiloUrl(silo), cancellationToken);
                if (silo == 1)
                {
                    await healthy;
                }
                else
                {
                    silos.Add(healthy);
                }
            }

            await Task.WhenAll(silos);
            progress("starting storefront");
            var gateways = Enumerable.Range(0, topology.Silos)
                .Select(i => KeyValuePair.Create($"Orleans__GatewayPorts__{i}", (topology.GatewayPort + i).ToString()));
            var storefrontSettings = With(common, new(gateways)
            {
                ["ASPNETCORE_URLS"] = topology.StorefrontUrl,
                ["Lab__ServiceName"] = "storefront",
                ["Lab__Scenarios__ControlToken"] = lab.ControlToken,
                // The control panel lists the reports `lab load` writes there and links traces to the viewer.
                ["Lab__ReportsDirectory"] = lab.ReportsDirectory,
            }, Clustering(topology));
            if (lab.TelemetryViewerUrl is { } viewer)
            {
                storefrontSettings["Lab__TelemetryViewerUrl"] = viewer;
            }

            var storefront = lab.Add(ChildProcess.Start("storefront", LabPaths.Storefront, [], storefrontSettings, dataDirectory, logDirectory));

            await Task.WhenAll(
                WaitHealthyAsync(payments, topology.PaymentsUrl, cancellationToken),
                WaitHealthyAsync(storefront, topology.StorefrontUrl, cancellationToken));
            lab.StartupTime = Stopwatch.GetElapsedTime(started);
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    private static Dictionary<string, string> CommonSettings(LabTopology topology, string? otlpEndpoint)
    {
        var settings = new Dictionary<string, string>(topology.Settings)
        {
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
        };
        if (otlpEndpoint is not null)
        {
            settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpEndpoint;
            // Export every second rather than every five, so a trace shows up while the user still looks for it.
            settings["OTEL_BSP_SCHEDULE_DELAY"] = "1000";
            // Under load a checkout makes dozens of spans; the default queue of 2048 would drop the slowest traces.
            settings["OTEL_BSP_MAX_QUEUE_SIZE"] = "65536";
            settings["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] = "2048";
            settings["OTEL_BLRP_SCHEDULE_DELAY"] = "1000";
            settings["OTEL_METRIC_EXPORT_INTERVAL"] = "5000";
        }

        return settings;
    }

    private static string? StartTelemetryViewer(RunningLab lab, LabTopology topology, string dataDirectory, string logDirectory,
        Action<string> progress)
    {
        if (!topology.TelemetryViewer)
        {
            return null;
        }

        if (LabPaths.AspireDashboard is not { } dashboard)
        {
            lab.Notes.Add("The Aspire dashboard package is only available on linux-x64; running without a telemetry viewer " +
                          "(point OTEL_EXPORTER_OTLP_ENDPOINT at your own collector to see traces).");
            return null;
        }

        progress("starting the Aspire dashboard");
        lab.Add(ChildProcess.Start("aspire-dashboard", dashboard, [], new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = topology.DashboardUrl,
            ["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://127.0.0.1:{topology.OtlpGrpcPort}",
            ["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = $"http://127.0.0.1:{topology.OtlpHttpPort}",
            ["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true",
            ["DASHBOARD__TELEMETRYLIMITS__MAXTRACECOUNT"] = "100000",
            ["DOTNET_ENVIRONMENT"] = "Production",
        }, Path.GetDirectoryName(dashboard)!, logDirectory));
        lab.TelemetryViewerUrl = topology.DashboardUrl;
        return $"http://127.0.0.1:{topology.OtlpGrpcPort}";
    }

    private static Dictionary<string, string> With(Dictionary<string, string> common, params Dictionary<string, string>[] own)
    {
        var merged = new Dictionary<string, string>(common);
        foreach (var (key, value) in own.SelectMany(settings => settings))
        {
            merged[key] = value;
        }

        return merged;
    }

    private static Dictionary<string, string> ShopDatabase(LabTopology topology, string dataDirectory) => topology.Postgres is { } postgres
        ? new() { ["Database__Provider"] = "Postgres", ["Database__ConnectionString"] = postgres }
        : new() { ["Database__ConnectionString"] = $"Data Source={Path.Combine(dataDirectory, "data", "shop.db")}" };

    private static Dictionary<string, string> PaymentsDatabase(LabTopology topology, string dataDirectory) => topology.Postgres is { } postgres
        ? new() { ["Database__Provider"] = "Postgres", ["Database__ConnectionString"] = LabPostgres.PaymentsConnectionString(postgres) }
        : new() { ["Database__ConnectionString"] = $"Data Source={Path.Combine(dataDirectory, "data", "payments.db")}" };

    /// <summary>On PostgreSQL the silos find each other (and the storefront its gateways) in the membership table.</summary>
    private static Dictionary<string, string> Clustering(LabTopology topology) => topology.Postgres is { } postgres
        ? new()
        {
            ["Orleans__Clustering"] = "AdoNet",
            ["Orleans__ClusteringConnectionString"] = postgres,
            ["Orleans__AdvertisedHost"] = "127.0.0.1",
        }
        : new();

    private static void EnsurePortsFree(LabTopology topology)
    {
        var seen = new HashSet<int>();
        foreach (var (port, owner) in topology.Ports())
        {
            if (!seen.Add(port))
            {
                throw new LaunchException($"Port {port} is given to two processes (one of them: {owner}); choose distinct ports.");
            }

            if (!LoopbackPorts.IsFree(port))
            {
                throw new LaunchException($"Port {port} ({owner}) is already in use. Stop what uses it or choose another port.");
            }

            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
            }
            catch (SocketException)
            {
                throw new LaunchException($"Port {port} ({owner}) is already in use. Stop what uses it or choose another port.");
            }
        }
    }

    private static async Task WaitHealthyAsync(ChildProcess process, string baseUrl, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + (long)(HealthTimeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                throw new LaunchException($"{process.Name} exited with code {process.ExitCode} while starting. Its log ({process.LogPath}) ends with:\n{process.Tail()}");
            }

            try
            {
                using var response = await http.GetAsync($"{baseUrl}/health", cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            await Task.Delay(HealthPoll, cancellationToken);
        }

        throw new LaunchException($"{process.Name} was not healthy at {baseUrl}/health within {HealthTimeout.TotalSeconds:0} s. " +
                                  $"Its log ({process.LogPath}) ends with:\n{process.Tail()}");
    }
}

/// <summary>The processes of a running lab; disposing it stops every one of them.</summary>
public sealed class RunningLab(LabTopology topology, string dataDirectory, string controlToken) : IAsyncDisposable
{
    private readonly List<ChildProcess> _processes = [];

    /// <summary>The bearer token the control API (/lab) wants for changes; also written to DATA_DIR/token.</summary>
    public string ControlToken { get; } = controlToken;

    /// <summary>The Orleans cluster id of this run of the lab ("lab-" and 8 random hex digits); no other lab shares it.</summary>
    public string ClusterId { get; } = $"{LabPostgres.ClusterIdPrefix}{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))}";

    public LabTopology Topology { get; } = topology;
    public string DataDirectory { get; } = dataDirectory;

    /// <summary>Where `lab load` writes its reports by default (one folder per run) and the control panel reads them.</summary>
    public string ReportsDirectory => Path.Combine(DataDirectory, "reports");

    /// <summary>The control panel, with the token in the fragment (never sent to the server; the page keeps it for the tab).</summary>
    public string ControlPanelUrl => $"{Topology.StorefrontUrl}/lab/#token={ControlToken}";
    public string? TelemetryViewerUrl { get; internal set; }
    public TimeSpan StartupTime { get; internal set; }
    public List<string> Notes { get; } = [];
    public IReadOnlyList<ChildProcess> Processes => _processes;

    internal ChildProcess Add(ChildProcess process)
    {
        _processes.Add(process);
        ProcessRegistry.Record(DataDirectory, _processes);
        return process;
    }

    /// <summary>A process that died after start-up, if any.</summary>
    public ChildProcess? FirstExited() => _processes.FirstOrDefault(process => process.HasExited);

    public string? TraceUrl(string traceId) => TelemetryViewerUrl is null ? null : $"{TelemetryViewerUrl}/traces/detail/{traceId}";

    public async ValueTask DisposeAsync()
    {
        // Reverse start order: the storefront goes first, the telemetry viewer last so it still receives the final spans.
        foreach (var process in Enumerable.Reverse(_processes).ToList())
        {
            await process.DisposeAsync();
        }

        _processes.Clear();
        ProcessRegistry.Record(DataDirectory, _processes);
    }
}
