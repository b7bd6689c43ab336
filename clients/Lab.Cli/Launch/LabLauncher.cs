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
                ["Payments__ApiKeys__shop"] = lab.ShopPaymentsKey,
                ["Payments__ApiKeys__operator"] = lab.OperatorPaymentsKey,
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
                    ["Payments__ApiKey"] = lab.ShopPaymentsKey,
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

            if (topology.PageCacheTtl > TimeSpan.Zero)
            {
                storefrontSettings["Cache__ProductTtl"] = topology.PageCacheTtl.ToString("c", System.Globalization.CultureInfo.InvariantCulture);
            }

            if (topology.Redis is { } redis)
            {
                storefrontSettings["Cache__Redis"] = redis;
            }

            var storefront = lab.Add(ChildProcess.Start("storefront", LabPaths.Storefront, [], storefrontSettings, dataDirectory, logDirectory));

            await Task.WhenAll(
                WaitHealthyAsync(payments, topology.PaymentsUrl, cancellationToken),
                WaitHealthyAsync(storefront, topology.StorefrontUrl, cancellationToken));
            lab.StartupTime = Stopwatch.GetElapsedTime(started);
            if (topology.RestartExited)
            {
                lab.StartSupervising();
            }

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
            // Resource scenarios write only here: on the databases' disk, and under the lab's own directory.
            ["Lab__Scenarios__Caps__LabDirectory"] = Path.Combine(Path.GetFullPath(topology.DataDirectory), "scenarios"),
        };
        if (otlpEndpoint is not null)
        {
            settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpEndpoint;
            // Export every second rather than every five, so a trace shows up while the user still looks for it (unless the
            // lab's settings say otherwise: the test labs export more often, to read their traces back sooner).
            settings.TryAdd("OTEL_BSP_SCHEDULE_DELAY", "1000");
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

    internal static async Task WaitHealthyAsync(ChildProcess process, string baseUrl, CancellationToken cancellationToken)
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

/// <summary>
/// The processes of a running lab; disposing it stops every one of them. Once supervising (<see cref="LabTopology.RestartExited"/>),
/// it starts a process that exits on its own again, as a service manager would: a silo killed by a scenario or by hand
/// comes back as a new silo of the same cluster.
/// </summary>
public sealed class RunningLab(LabTopology topology, string dataDirectory, string controlToken) : IAsyncDisposable
{
    /// <summary>How often the supervisor looks for processes that exited.</summary>
    private static readonly TimeSpan SupervisePoll = TimeSpan.FromMilliseconds(250);

    /// <summary>A process that exits this often within <see cref="CrashLoopWindow"/> is left down: it would only crash again.</summary>
    private const int CrashLoopRestarts = 5;

    private static readonly TimeSpan CrashLoopWindow = TimeSpan.FromMinutes(1);

    private readonly List<ChildProcess> _processes = [];
    private readonly List<ProcessRestartRecord> _restarts = [];
    private readonly SemaphoreSlim _restarting = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _supervisor;

    /// <summary>The bearer token the control API (/lab) wants for changes; also written to DATA_DIR/token.</summary>
    public string ControlToken { get; } = controlToken;

    /// <summary>The shop's API key at payments (never written to a file; the silos and payments get it at start).</summary>
    public string ShopPaymentsKey { get; } = Launch.ControlToken.CreateInMemory();

    /// <summary>The operator's API key at payments, for charges and refunds made directly; also written to DATA_DIR/payments-key.</summary>
    public string OperatorPaymentsKey { get; } = Launch.ControlToken.CreateFor(dataDirectory, Launch.ControlToken.PaymentsKeyFileName);

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

    public IReadOnlyList<ChildProcess> Processes
    {
        get
        {
            lock (_processes)
            {
                return [.. _processes];
            }
        }
    }

    /// <summary>Every restart the supervisor made, oldest first.</summary>
    public IReadOnlyList<ProcessRestartRecord> Restarts
    {
        get
        {
            lock (_restarts)
            {
                return [.. _restarts];
            }
        }
    }

    /// <summary>Raised (on the supervisor's thread) when a process exited on its own, and again when it is back or left down.</summary>
    public event Action<ProcessRestartRecord>? Supervised;

    internal ChildProcess Add(ChildProcess process)
    {
        lock (_processes)
        {
            _processes.Add(process);
            ProcessRegistry.Record(DataDirectory, _processes);
        }

        return process;
    }

    internal void StartSupervising() => _supervisor ??= Task.Run(() => SuperviseAsync(_stopping.Token));

    /// <summary>
    /// Starts process <paramref name="name"/> again with the settings it was started with (stopping it first if it still
    /// runs), and waits until it reports healthy: a silo killed by a test or a scenario comes back as a new silo.
    /// </summary>
    public async Task<ChildProcess> RestartAsync(string name, CancellationToken cancellationToken = default)
    {
        await _restarting.WaitAsync(cancellationToken);
        try
        {
            return await RestartLockedAsync(name, cancellationToken);
        }
        finally
        {
            _restarting.Release();
        }
    }

    /// <summary>Waits until process <paramref name="name"/> runs as a new process after <paramref name="previous"/> and is healthy.</summary>
    public async Task<ChildProcess> WaitRestartedAsync(string name, int previous, TimeSpan bound, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < bound)
        {
            if (Restarts.LastOrDefault(r => r.Name == name && r.PreviousId == previous) is { Outcome: ProcessRestartOutcome.Healthy } done)
            {
                return Processes.Single(p => p.Id == done.NewId);
            }

            await Task.Delay(SupervisePoll, cancellationToken);
        }

        throw new TimeoutException($"{name} (process {previous}) was not restarted and healthy within {bound.TotalSeconds:0} s.");
    }

    private async Task<ChildProcess> RestartLockedAsync(string name, CancellationToken cancellationToken)
    {
        ChildProcess old;
        lock (_processes)
        {
            old = _processes.Find(process => process.Name == name)
                ?? throw new ArgumentException($"The lab has no process '{name}' (it has {string.Join(", ", _processes.Select(p => p.Name))}).", nameof(name));
        }

        await old.DisposeAsync(); // stops it, and closes its log before the new process appends to it
        var restarted = old.StartAgain();
        lock (_processes)
        {
            _processes[_processes.IndexOf(old)] = restarted;
            ProcessRegistry.Record(DataDirectory, _processes);
        }

        if (HasHealthEndpoint(name))
        {
            await LabLauncher.WaitHealthyAsync(restarted, UrlOf(name), cancellationToken);
        }

        return restarted;
    }

    private async Task SuperviseAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(SupervisePoll, stopping);
                foreach (var exited in Processes.Where(process => process.HasExited))
                {
                    await RestartExitedAsync(exited, stopping);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task RestartExitedAsync(ChildProcess exited, CancellationToken stopping)
    {
        var now = DateTimeOffset.UtcNow;
        var recent = Restarts.Count(r => r.Name == exited.Name && now - r.ExitedAt < CrashLoopWindow);
        var record = new ProcessRestartRecord(exited.Name, exited.Id, exited.ExitCode, now);
        if (recent >= CrashLoopRestarts)
        {
            Notify(record with { Outcome = ProcessRestartOutcome.LeftDown });
            Notes.Add($"{exited.Name} exited {recent + 1} times within {CrashLoopWindow.TotalMinutes:0} min; it is left down (its log: {exited.LogPath}).");
            await _restarting.WaitAsync(stopping);
            try
            {
                lock (_processes)
                {
                    _processes.Remove(exited);
                }
            }
            finally
            {
                _restarting.Release();
            }

            return;
        }

        Notify(record);
        await _restarting.WaitAsync(stopping);
        try
        {
            if (!Processes.Contains(exited))
            {
                return; // restarted meanwhile by RestartAsync
            }

            var clock = Stopwatch.StartNew();
            var restarted = await RestartLockedAsync(exited.Name, stopping);
            Notify(record with { Outcome = ProcessRestartOutcome.Healthy, NewId = restarted.Id, Took = clock.Elapsed });
        }
        catch (LaunchException ex)
        {
            Notify(record with { Outcome = ProcessRestartOutcome.Failed, Detail = ex.Message });
        }
        finally
        {
            _restarting.Release();
        }
    }

    private void Notify(ProcessRestartRecord record)
    {
        if (record.Outcome != ProcessRestartOutcome.Exited)
        {
            lock (_restarts)
            {
                _restarts.Add(record);
            }
        }

        Supervised?.Invoke(record);
    }

    private static bool HasHealthEndpoint(string name) => name is "storefront" or "payments" || name.StartsWith("silo-", StringComparison.Ordinal);

    /// <summary>The base URL process <paramref name="name"/> serves on.</summary>
    public string UrlOf(string name) => name switch
    {
        "storefront" => Topology.StorefrontUrl,
        "payments" => Topology.PaymentsUrl,
        _ when name.StartsWith("silo-", StringComparison.Ordinal) && int.TryParse(name[5..], out var silo) => Topology.SiloUrl(silo),
        _ => throw new ArgumentException($"'{name}' serves no HTTP endpoint of the lab.", nameof(name)),
    };

    /// <summary>A process that died after start-up and is not being restarted, if any.</summary>
    public ChildProcess? FirstExited() => _supervisor is null ? Processes.FirstOrDefault(process => process.HasExited) : null;

    public string? TraceUrl(string traceId) => TelemetryViewerUrl is null ? null : $"{TelemetryViewerUrl}/traces/detail/{traceId}";

    public async ValueTask DisposeAsync()
    {
        // Nothing is restarted while the lab stops.
        await _stopping.CancelAsync();
        if (_supervisor is { } supervisor)
        {
            await supervisor;
        }

        await _restarting.WaitAsync();
        // Reverse start order: the storefront goes first, the telemetry viewer last so it still receives the final spans.
        foreach (var process in Enumerable.Reverse(Processes).ToList())
        {
            await process.DisposeAsync();
        }

        lock (_processes)
        {
            _processes.Clear();
            ProcessRegistry.Record(DataDirectory, _processes);
        }

        _restarting.Release();
    }
}

/// <summary>What the supervisor did about a process that exited on its own.</summary>
/// <param name="PreviousId">The process id of the one that exited.</param>
/// <param name="ExitCode">Its exit code (137 is a SIGKILL, 134 an abort).</param>
/// <param name="NewId">The process id of the one started in its place, once healthy.</param>
/// <param name="Took">From the exit noticed to the new process healthy.</param>
public sealed record ProcessRestartRecord(string Name, int PreviousId, int? ExitCode, DateTimeOffset ExitedAt)
{
    public ProcessRestartOutcome Outcome { get; init; } = ProcessRestartOutcome.Exited;
    public int? NewId { get; init; }
    public TimeSpan? Took { get; init; }
    public string? Detail { get; init; }
}

public enum ProcessRestartOutcome
{
    /// <summary>It exited; a restart follows.</summary>
    Exited,

    /// <summary>Started again and healthy.</summary>
    Healthy,

    /// <summary>Started again, but it did not become healthy.</summary>
    Failed,

    /// <summary>It exited too often: left down.</summary>
    LeftDown,
}
