using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Lab.Cli.Launch;
using Lab.Scenarios;

// End-to-end scenario benchmarks against real labs started with LabLauncher (build in Release: the labs run the
// processes the CLI was built with).
//   propagation [runs=40]                       time from the control API's answer to the change applied in every process
//   hook-cost [rounds=10] [seconds=10] [conns=16] throughput with hooks idle vs bypassed (Lab__Scenarios__Bypass=true), alternating runs
var command = args.FirstOrDefault() ?? "";
var numbers = args.Skip(1).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray();
int Arg(int i, int fallback) => numbers.Length > i ? numbers[i] : fallback;
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;

return command switch
{
    "propagation" => await Benchmarks.PropagationAsync(Arg(0, 40)),
    "hook-cost" => await Benchmarks.HookCostAsync(Arg(0, 10), Arg(1, 10), Arg(2, 16)),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: propagation [runs] | hook-cost [rounds] [seconds] [connections]");
    return 2;
}

internal static class Benchmarks
{
    private static readonly string[] Watched = ["silo-1", "silo-2", "payments"];

    public static async Task<int> PropagationAsync(int runs)
    {
        await using var lab = await StartAsync("prop", bypass: false);
        using var control = Control(lab);
        using var poll = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var urls = new Dictionary<string, string>
        {
            ["silo-1"] = lab.Topology.SiloUrl(1) + RuntimeStatus.Path,
            ["silo-2"] = lab.Topology.SiloUrl(2) + RuntimeStatus.Path,
            ["payments"] = lab.Topology.PaymentsUrl + RuntimeStatus.Path,
        };

        var all = new List<double>();
        var perProcess = Watched.ToDictionary(s => s, _ => new List<double>());
        for (var run = 0; run < runs; run++)
        {
            // Alternate enable and disable: both are changes every process must pick up.
            using var response = run % 2 == 0
                ? await control.PostAsync("/lab/scenarios/fixed-latency", new StringContent(
                    """{"parameters":{"delay":"1ms"},"target":{"route":"/api/nowhere"},"ttl":"10m"}""", Encoding.UTF8, "application/json"))
                : await control.DeleteAsync("/lab/scenarios/fixed-latency");
            var answered = Stopwatch.GetTimestamp();
            response.EnsureSuccessStatusCode();
            using var result = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var version = result.RootElement.GetProperty("version").GetInt64();

            var seen = await Task.WhenAll(Watched.Select(async service =>
            {
                while (true)
                {
                    using var status = JsonDocument.Parse(await poll.GetStringAsync(urls[service]));
                    if (status.RootElement.GetProperty("version").GetInt64() >= version)
                    {
                        return (service, ms: Stopwatch.GetElapsedTime(answered).TotalMilliseconds);
                    }

                    await Task.Delay(2);
                }
            }));
            foreach (var (service, ms) in seen)
            {
                perProcess[service].Add(ms);
            }

            all.Add(seen.Max(s => s.ms));
            // Start the next change at a random phase of the processes' 250 ms poll.
            await Task.Delay(Random.Shared.Next(300, 600));
        }

        Console.WriteLine($"propagation over {runs} changes (enable/disable alternating), ms from the control API's answer to /lab/runtime showing the new version:");
        Console.WriteLine($"  every process (silo-1, silo-2, payments): median {Percentile(all, 50):0} p90 {Percentile(all, 90):0} max {all.Max():0}");
        foreach (var (service, values) in perProcess)
        {
            Console.WriteLine($"  {service,-9}: median {Percentile(values, 50):0} p90 {Percentile(values, 90):0} max {values.Max():0}");
        }

        Console.WriteLine($"  load average: {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    public static async Task<int> HookCostAsync(int rounds, int seconds, int connections)
    {
        var script = Path.Combine(Path.GetTempPath(), $"lab-hook-cost-{Environment.ProcessId}.lua");
        await File.WriteAllTextAsync(script, WrkScript);
        try
        {
            // Both labs stay up; the load alternates between them, so drift on the shared machine hits both alike.
            Console.WriteLine("starting the lab with idle hooks and the lab with bypassed hooks...");
            await using var idle = await StartAsync("idle", bypass: false);
            await using var bypassed = await StartAsync("bypass", bypass: true);
            await VerifyBypassAsync(idle, expected: false);
            await VerifyBypassAsync(bypassed, expected: true);

            foreach (var lab in new[] { idle, bypassed })
            {
                await WrkAsync(lab, script, 15, connections); // warm-up: JIT tiers, activations, caches, pools
            }

            var ratios = new List<double>();
            var idleRates = new List<double>();
            var bypassRates = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                // ABBA order within pairs of rounds cancels a linear drift.
                var first = round % 2 == 0 ? idle : bypassed;
                var second = round % 2 == 0 ? bypassed : idle;
                var a = await WrkAsync(first, script, seconds, connections);
                var b = await WrkAsync(second, script, seconds, connections);
                var (idleRate, bypassRate) = first == idle ? (a, b) : (b, a);
                idleRates.Add(idleRate);
                bypassRates.Add(bypassRate);
                ratios.Add(idleRate / bypassRate);
                Console.WriteLine($"  round {round + 1}: idle hooks {idleRate:0} req/s, bypassed {bypassRate:0} req/s, ratio {idleRate / bypassRate:0.000}");
            }

            var total = idleRates.Sum() / bypassRates.Sum();
            Console.WriteLine($"hook cost, {rounds} rounds x {seconds} s per lab, wrk -t1 -c{connections}, products and search alternating:");
            Console.WriteLine($"  throughput idle/bypassed: {total:0.000} over all rounds (median of rounds {Percentile(ratios, 50):0.000}, range {ratios.Min():0.000}-{ratios.Max():0.000})");
            Console.WriteLine($"  mean req/s: idle {idleRates.Average():0}, bypassed {bypassRates.Average():0}; load average: {File.ReadAllText("/proc/loadavg").Trim()}");
            return 0;
        }
        finally
        {
            File.Delete(script);
        }
    }

    // Half product pages (HTTP middleware, grain filters, cache hook), half catalog searches (also the repository hook).
    private const string WrkScript = """
        local paths = {}
        local queries = {"lamp", "chair", "desk", "mug", "book", "pen", "shelf", "rug"}
        for i = 1, 200 do
          paths[#paths + 1] = string.format("/api/products/SKU-%05d", i)
          paths[#paths + 1] = "/api/catalog/search?q=" .. queries[(i % #queries) + 1]
        end
        local n = 0
        request = function()
          n = n + 1
          return wrk.format("GET", paths[(n % #paths) + 1])
        end
        """;

    private static async Task VerifyBypassAsync(RunningLab lab, bool expected)
    {
        using var http = new HttpClient();
        foreach (var url in new[] { lab.Topology.SiloUrl(1), lab.Topology.SiloUrl(2), lab.Topology.PaymentsUrl, lab.Topology.StorefrontUrl })
        {
            using var status = JsonDocument.Parse(await http.GetStringAsync(url + RuntimeStatus.Path));
            if (status.RootElement.GetProperty("bypassed").GetBoolean() != expected)
            {
                throw new InvalidOperationException($"{url} reports bypassed={!expected}, expected {expected}");
            }
        }
    }

    private static async Task<double> WrkAsync(RunningLab lab, string script, int seconds, int connections)
    {
        var start = new ProcessStartInfo("wrk", ["-t1", $"-c{connections}", $"-d{seconds}s", "-s", script, lab.Topology.StorefrontUrl])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var wrk = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start (apt-get install -y wrk)");
        var output = await wrk.StandardOutput.ReadToEndAsync();
        await wrk.WaitForExitAsync();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("Requests/sec:", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"no rate in wrk's output:\n{output}");
        if (output.Contains("Non-2xx", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"wrk saw errors; the comparison would be meaningless:\n{output}");
        }

        return double.Parse(line["Requests/sec:".Length..].Trim(), CultureInfo.InvariantCulture);
    }

    private static async Task<RunningLab> StartAsync(string name, bool bypass)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"lab-bench-{name}-{Environment.ProcessId}");
        var settings = new Dictionary<string, string>
        {
            ["Seed__Products"] = "200",
            ["Seed__Customers"] = "300",
            ["Seed__HistoricalOrders"] = "2000",
            // Logs at warning: per-request information lines would dominate what is measured.
            ["Logging__LogLevel__Default"] = "Warning",
        };
        if (bypass)
        {
            settings[ScenarioRuntime.BypassVariable] = "true";
        }

        var lab = await LabLauncher.StartAsync(FreeTopology(directory, settings));
        Console.WriteLine($"  {name}: up in {lab.StartupTime.TotalSeconds:0} s at {lab.Topology.StorefrontUrl}");
        return lab;
    }

    private static HttpClient Control(RunningLab lab)
    {
        var http = new HttpClient { BaseAddress = new Uri(lab.Topology.StorefrontUrl), Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", lab.ControlToken);
        return http;
    }

    private static LabTopology FreeTopology(string directory, Dictionary<string, string> settings)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var basePort = Random.Shared.Next(20_000, 60_000);
            var topology = new LabTopology
            {
                StorefrontPort = basePort, PaymentsPort = basePort + 1, SiloHttpPort = basePort + 10, SiloPort = basePort + 20,
                GatewayPort = basePort + 30, Silos = 2, TelemetryViewer = false, DataDirectory = directory, Settings = settings,
            };
            if (topology.Ports().All(p => LoopbackPorts.IsFree(p.Port)))
            {
                return topology;
            }
        }

        throw new InvalidOperationException("No free block of loopback ports found.");
    }


    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        var rank = (int)Math.Ceiling(p / 100 * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }
}
