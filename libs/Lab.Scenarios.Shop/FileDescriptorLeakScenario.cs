using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Lab.Shop;
using Microsoft.Extensions.Logging;

namespace Lab.Scenarios.Shop;

/// <summary>
/// The payments client creates an HttpClient per call and keeps it, as code that news up a client per request and
/// stores it does: every charge and refund opens a socket that is never closed. The targeted process's limit of open
/// files is set to what it has open plus some headroom, as a container's ulimit would be: the leak runs into it, and
/// then everything in the process that opens a file or a socket fails with EMFILE ("Too many open files"). cure=true
/// restores the shop's shared handler; the tight limit stays.
/// </summary>
public sealed class FileDescriptorLeakScenario : Scenario
{
    public const string Name = "file-descriptor-leak";

    private const int RlimitNoFile = 7;

    // Per process (test clusters host several services in one): the leaked clients, in order, and the limit to restore.
    private static readonly ConcurrentDictionary<string, Leak> Leaks = new(StringComparer.Ordinal);

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "resources",
        Description: "In the targeted silos the payments-connections seam makes the payments client create a new HttpClient (its own handler and " +
                     "socket) for every call and keep it, never disposed. While active, each targeted process's soft limit of open files " +
                     "(RLIMIT_NOFILE) is lowered to what it has open plus 'headroom', as a container's ulimit would be. At most ResourceCaps.MaxHandles " +
                     "clients are kept (the oldest is disposed beyond it); all are disposed and the limit restored at disable, reset or expiry. Linux only.",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Int("headroom", 200, "Open files the process may add to what it has open when the scenario starts, before EMFILE.",
                min: 20, max: 100_000, unit: "files", cap: ResourceCapKind.Handles),
            ParameterSpec.Bool("cure", false, "The shop's own shared, pooled handler: no socket per call (the lowered limit stays)."),
        ],
        Signature: "lab.process.open_fds (and ls /proc/PID/fd) of the targeted silos climbs by one or more per payments call, and so do payments' own " +
                   "(the server keeps each connection alive); at the limit every new socket or file fails: payments calls with SocketException " +
                   "'Too many open files' (checkouts cancelled: payments unreachable), database connections and cluster connections next; the " +
                   "runtime itself may then fail to get a descriptor it needs and end the process ('Out of memory.', exit 134), which the launcher " +
                   "starts again. With the cure the count stays flat and checkouts succeed within the same limit.",
        Cure: "One shared, long-lived client (IHttpClientFactory or a static SocketsHttpHandler with PooledConnectionLifetime); dispose what you " +
              "create on every path; watch the open-descriptor count against the limit.",
        Runbook: new Runbook(
            Break: "lab scenario enable file-descriptor-leak --set headroom=300 --target service=silo-1 while lab load runs",
            Hint: "After a while every checkout handled by one silo fails to reach payments, and other things on that silo start failing too. " +
                  "What does that process hold open?",
            Verify: "ls /proc/$(pgrep -f 'Lab.Silo' | head -1)/fd | wc -l climbs with each checkout; lab.process.open_fds of silo-1 climbs towards its " +
                    "limit (cat /proc/PID/limits: Max open files); the silo's log shows 'Too many open files' once there.",
            Restore: "lab scenario change file-descriptor-leak --set cure=true (the shared handler: no new sockets) or disable it (the kept clients are " +
                     "disposed, their sockets closed, the limit restored)."))
    {
        Seams = [new SeamUse(ShopSeams.PaymentsConnections.Name, "a new HttpClient per call, kept", CureRestores: true)],
    };

    /// <summary>HttpClients the naive payments client keeps in this process.</summary>
    public static int KeptClients(string service) => Leaks.TryGetValue(service, out var leak) ? leak.Count : 0;

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.PaymentsConnections, new ConnectionReuse(Keep));
        }
    }

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        Release(process.Service.Name);
        var leak = new Leak(process.Caps.MaxHandles);
        if (OperatingSystem.IsLinux() && getrlimit(RlimitNoFile, out var limit) == 0)
        {
            var open = (ulong)Directory.GetFiles("/proc/self/fd").Length;
            var tight = new RLimit(Math.Min(limit.Maximum, open + (ulong)Math.Min(activation.GetInt("headroom"), process.Caps.MaxHandles)), limit.Maximum);
            if (setrlimit(RlimitNoFile, ref tight) == 0)
            {
                leak.Restore = limit;
                process.Logger.LogWarning("file-descriptor-leak: open files limited to {Limit} ({Open} open now; it was {Was})", tight.Current, open, limit.Current);
            }
        }

        Leaks[process.Service.Name] = leak;
        return Task.CompletedTask;
    }

    public override Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        Release(process.Service.Name);
        return Task.CompletedTask;
    }

    /// <summary>The naive client's "keep": every process keeps what its own payments client created.</summary>
    private static void Keep(HttpClient client)
    {
        // The seam resolves in the process that runs the scenario's workers; one leak per process is enough to find it.
        foreach (var leak in Leaks.Values)
        {
            leak.Add(client);
            return;
        }

        client.Dispose();
    }

    private static void Release(string service)
    {
        if (!Leaks.TryRemove(service, out var leak))
        {
            return;
        }

        leak.DisposeAll();
        if (leak.Restore is { } restore)
        {
            setrlimit(RlimitNoFile, ref restore);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, out RLimit limit);

    [DllImport("libc", SetLastError = true)]
    private static extern int setrlimit(int resource, ref RLimit limit);

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit(ulong current, ulong maximum)
    {
        public ulong Current = current;
        public ulong Maximum = maximum;
    }

    private sealed class Leak(int cap)
    {
        private readonly ConcurrentQueue<HttpClient> _clients = new();

        public RLimit? Restore { get; set; }

        public int Count => _clients.Count;

        public void Add(HttpClient client)
        {
            _clients.Enqueue(client);
            // Capped: beyond MaxHandles the oldest goes, so the scenario never holds more than its cap.
            while (_clients.Count > cap && _clients.TryDequeue(out var oldest))
            {
                oldest.Dispose();
            }
        }

        public void DisposeAll()
        {
            while (_clients.TryDequeue(out var client))
            {
                client.Dispose();
            }
        }
    }
}
