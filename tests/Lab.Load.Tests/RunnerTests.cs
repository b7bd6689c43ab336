using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Lab.Load.Control;
using Lab.Load.Engine;
using Lab.Load.Journeys;
using Lab.Load.Plan;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Lab.Load.Tests;

/// <summary>Runs that time things share the machine badly, so they go one at a time.</summary>
[CollectionDefinition("load runs", DisableParallelization = true)]
public sealed class LoadRunsCollection;

[Collection("load runs")]
public sealed partial class RunnerTests
{
    private static LoadPlan Plan(Uri target, LoadModel model, TimeSpan duration, string mix = "get=1") => new()
    {
        Target = target,
        Model = model,
        Duration = duration,
        Mix = JourneyMix.Parse(mix, JourneyCatalog.Shop.Names),
        Seed = 42,
        DrainTimeout = TimeSpan.FromSeconds(5),
    };

    [Fact]
    public async Task Latency_is_measured_from_the_planned_start_not_the_send()
    {
        var handled = new ConcurrentQueue<(DateTimeOffset Started, double Ms)>();
        await using var server = await TestServer.StartAsync(app => app.MapGet("/slow", async () =>
        {
            var started = DateTimeOffset.UtcNow;
            var sw = Stopwatch.StartNew();
            await Task.Delay(200);
            handled.Enqueue((started, sw.Elapsed.TotalMilliseconds));
            return "ok";
        }));

        // One request at a time, 50 planned per second, each taking 200 ms: arrivals queue up behind the stall.
        // A warm-up first, so a cold process (JIT, first connection) does not eat the measured second.
        var plan = Plan(new Uri(server.Address, "/slow"), OpenModel.Constant(50), TimeSpan.FromSeconds(1)) with
        {
            MaxInFlight = 1,
            WarmUp = TimeSpan.FromMilliseconds(500),
        };
        var report = await LoadRunner.RunAsync(plan);
        // The server's times for the measured run only (a cold server's first requests take longer than their delay).
        var serverTimes = handled.Where(h => h.Started >= report.StartedAt).Select(h => h.Ms).ToList();

        var latency = report.Requests.LatencyMs!;
        Assert.True(report.Requests.Count >= 3, $"completed {report.Requests.Count}");

        // One at a time, so the last request started no earlier than the server times of all before it, though it was
        // planned (n-1) x 20 ms after the start: measured from the plan it took at least the sum of the server times
        // less that, which is more than any one server time. Measured from the send it would be only its own. A bound
        // from the server's own times, not the machine's speed: a busy machine makes both sides longer.
        var bound = serverTimes.Sum() - ((serverTimes.Count - 1) * 20.0) - 5;
        Assert.True(bound > serverTimes.Max(), $"bound {bound} ms, server times {string.Join(", ", serverTimes.Select(t => $"{t:0}"))} ms");
        Assert.True(latency.Max >= bound, $"max {latency.Max} ms vs at least {bound} ms (server times {string.Join(", ", serverTimes.Select(t => $"{t:0}"))} ms)");
        Assert.True(latency.P50 > 1.5 * serverTimes.Min(), $"p50 {latency.P50} ms");
        Assert.True(report.Schedule.Late >= report.Schedule.Started - 1);
        Assert.Equal(50, report.Schedule.Planned);
        Assert.Equal(report.Schedule.Planned, report.Schedule.Started + report.Schedule.Unstarted + report.Schedule.Dropped);
        Assert.Contains(report.Warnings, w => w.Contains("never started"));
    }

    [Fact]
    public async Task Arrivals_beyond_a_full_queue_are_dropped_and_counted_and_the_plan_keeps_its_pace()
    {
        await using var server = await TestServer.StartAsync(app => app.MapGet("/slow", async () =>
        {
            await Task.Delay(100);
            return "ok";
        }));

        // 300 planned in a second, one at a time at 100 ms each, at most 5 waiting: nearly all must be dropped.
        var plan = Plan(new Uri(server.Address, "/slow"), OpenModel.Constant(300), TimeSpan.FromSeconds(1)) with
        {
            MaxInFlight = 1,
            MaxQueuedArrivals = 5,
        };
        var report = await LoadRunner.RunAsync(plan);
        var schedule = report.Schedule;

        Assert.Equal(300, schedule.Planned);
        Assert.Equal(schedule.Planned, schedule.Started + schedule.Unstarted + schedule.Dropped);
        // Started: what one slot serves in a second (about 10) plus the few that were waiting; never the plan's 300.
        Assert.InRange(schedule.Started, 1, 5 + 15);
        Assert.InRange(schedule.Unstarted, 0, 5);
        Assert.True(schedule.Dropped >= 300 - 5 - 15 - 5, $"dropped {schedule.Dropped}");
        Assert.Contains(report.Warnings, w => w.Contains("could not keep up") && w.Contains("because 5 arrivals were already waiting"));
    }

    [Fact]
    public async Task Every_request_carries_a_client_started_traceparent_and_synthetic_baggage()
    {
        await using var server = await TestServer.StartAsync(app => app.MapGet("/", () => "ok"));
        var report = await LoadRunner.RunAsync(Plan(server.Address, OpenModel.Constant(200), TimeSpan.FromSeconds(1)));

        Assert.Equal(200, report.Schedule.Planned);
        Assert.True(report.Requests.Count >= 150, $"count {report.Requests.Count}");
        Assert.Equal(0, report.Requests.Errors);
        var seen = server.Seen.ToList();
        Assert.All(seen, r =>
        {
            Assert.Matches(TraceParent(), r.TraceParent ?? "");
            Assert.Equal("lab.synthetic=true", r.Baggage);
        });
        Assert.Equal(seen.Count, seen.Select(r => r.TraceParent![3..35]).Distinct().Count());
        Assert.All(report.Slowest, s => Assert.Contains(seen, r => r.TraceParent!.Contains(s.TraceId)));
        Assert.All(report.Slowest, s => Assert.Equal($"http://127.0.0.1:18888/traces/detail/{s.TraceId}", s.AspireUrl));
    }

    [Fact]
    public async Task Shop_journeys_run_end_to_end_with_per_step_figures()
    {
        await using var server = await TestServer.StartAsync(FakeShop.Map);
        var plan = Plan(server.Address, OpenModel.Constant(80), TimeSpan.FromSeconds(2), "browse=40,cart=20,checkout=30,history=10");
        var report = await LoadRunner.RunAsync(plan);

        Assert.Equal(0, report.Requests.Errors);
        var byName = report.Journeys.ToDictionary(j => j.Name);
        Assert.Equal(["browse", "cart", "checkout", "history"], byName.Keys);
        Assert.All(report.Journeys, j => Assert.True(j.Journey.Count > 0, $"{j.Name} ran"));
        Assert.Equal(report.Schedule.Started, report.Journeys.Sum(j => j.Journey.Count));

        var checkout = byName["checkout"];
        var steps = checkout.Steps.ToDictionary(s => s.Name, s => s.Stats.Count);
        Assert.Equal(checkout.Journey.Count, steps["checkout"]);
        Assert.True(steps["order-status"] >= steps["checkout"], "each order is polled until final");
        Assert.True(steps["add"] >= steps["checkout"]);
        Assert.Equal(byName["cart"].Journey.Count, byName["cart"].Steps.Single(s => s.Name == "remove").Stats.Count);

        // A journey's requests share its trace id.
        var checkoutTraces = server.Seen.Where(r => r.Path.Contains("/checkout")).Select(r => r.TraceParent![3..35]).ToHashSet();
        var polls = server.Seen.Where(r => r.Path.StartsWith("/api/orders/")).Select(r => r.TraceParent![3..35]).ToList();
        Assert.All(polls, p => Assert.Contains(p, checkoutTraces.Concat(server.Seen.Where(r => r.Path.Contains("/customers/")).Select(r => r.TraceParent![3..35]))));
    }

    [Fact]
    public async Task A_ramp_plans_the_area_under_the_rate_and_speeds_up()
    {
        await using var server = await TestServer.StartAsync(app => app.MapGet("/", () => "ok"));
        var plan = Plan(server.Address, new OpenModel(50, 250), TimeSpan.FromSeconds(2)) with
        {
            Timeline = [LoadSyntax.ParseTimelineMark(["1s", "enable", "x"], [])],
        };
        var report = await LoadRunner.RunAsync(plan, new LoadRunOptions { ScenarioControl = new FakeControl() });

        // (50 + 250) / 2 * 2 s = 300 planned: 100 in the first second (50 → 150/s), 200 in the second (150 → 250/s).
        Assert.Equal(300, report.Schedule.Planned);
        Assert.Equal(100, report.Phases[0].Schedule.Planned);
        Assert.Equal(200, report.Phases[1].Schedule.Planned);
        Assert.Equal(150, report.Schedule.TargetRate);
    }

    [Fact]
    public async Task Closed_model_runs_users_back_to_back()
    {
        await using var server = await TestServer.StartAsync(app => app.MapGet("/", () => "ok"));
        var report = await LoadRunner.RunAsync(Plan(server.Address, new ClosedModel(4, TimeSpan.FromMilliseconds(10)), TimeSpan.FromSeconds(1)));

        Assert.Equal("closed", report.Model.Kind);
        Assert.Equal(4, report.Model.Users);
        Assert.Null(report.Schedule.Planned);
        // 4 users, ~10+ ms per cycle: at most ~400 in a second; at least a few dozen even on a busy machine.
        Assert.InRange(report.Requests.Count, 20, 420);
    }

    [Fact]
    public async Task Errors_are_counted_by_status_and_kind_and_listed_with_trace_ids()
    {
        var n = 0;
        await using var server = await TestServer.StartAsync(app => app.MapGet("/", () =>
            Interlocked.Increment(ref n) % 4 == 0 ? Results.Problem(statusCode: 503, title: "busy") : Results.Ok("ok")));
        var plan = Plan(server.Address, OpenModel.Constant(100), TimeSpan.FromSeconds(1)) with { Thresholds = [Threshold.Parse("errors<1%")] };
        var report = await LoadRunner.RunAsync(plan);

        Assert.InRange(report.Requests.ErrorRate, 0.2, 0.3);
        Assert.Equal(report.Requests.Errors, report.Requests.ErrorsByStatus["503"]);
        Assert.Equal(report.Requests.Errors, report.Requests.ErrorsByKind["http-status"]);
        var failure = Assert.Single(report.Failures.Take(1));
        Assert.Equal(503, failure.Status);
        Assert.Matches("^[0-9a-f]{32}$", failure.TraceId);
        Assert.Equal($"http://127.0.0.1:16686/trace/{failure.TraceId}", failure.JaegerUrl);
        Assert.False(report.Passed);
        Assert.False(report.Thresholds.Single().Passed);
    }

    [Fact]
    public async Task Timeline_marks_switch_scenarios_and_split_the_report_into_phases()
    {
        await using var server = await TestServer.StartAsync(app => app.MapGet("/", () => "ok"));
        var control = new FakeControl();
        var plan = Plan(server.Address, OpenModel.Constant(100), TimeSpan.FromSeconds(1.5)) with
        {
            Timeline =
            [
                LoadSyntax.ParseTimelineMark(["500ms", "enable", "slow-db"], ["delay=50ms"]),
                LoadSyntax.ParseTimelineMark(["1s", "disable", "slow-db"], []),
            ],
        };
        var report = await LoadRunner.RunAsync(plan, new LoadRunOptions { ScenarioControl = control });

        Assert.Equal(["enable slow-db delay=50ms ttl>=5m", "disable slow-db"], control.Calls);
        Assert.Equal(3, report.Phases.Count);
        Assert.Equal("baseline", report.Phases[0].Name);
        Assert.Equal("enable slow-db (delay=50ms)", report.Phases[1].Name);
        Assert.Equal((0.5, 1.0), (report.Phases[1].StartSeconds, report.Phases[1].EndSeconds));
        Assert.All(report.Phases, p => Assert.InRange(p.Schedule.Planned ?? 0, 45, 55));
        Assert.Equal(report.Requests.Count, report.Phases.Sum(p => p.Requests.Count));
        Assert.All(report.Timeline, e => Assert.True(e.Ok));
    }

    [Fact]
    public async Task Scenarios_left_enabled_are_reset_at_the_end()
    {
        await using var server = await TestServer.StartAsync(app => app.MapGet("/", () => "ok"));
        var control = new FakeControl();
        var plan = Plan(server.Address, OpenModel.Constant(20), TimeSpan.FromMilliseconds(600)) with
        {
            Timeline = [LoadSyntax.ParseTimelineMark(["0s", "enable", "hot-key"], [])],
        };
        var report = await LoadRunner.RunAsync(plan, new LoadRunOptions { ScenarioControl = control });

        Assert.Equal(["enable hot-key  ttl>=5m", "disable hot-key"], control.Calls);
        Assert.Equal("enable hot-key", report.Phases.Single().Name);
        Assert.Equal("reset", report.Timeline[^1].Action);
    }

    [Fact]
    public async Task An_unreachable_target_is_a_clear_error()
    {
        // A port that was just free: bind, read it, close.
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        var e = await Assert.ThrowsAsync<LoadException>(() =>
            LoadRunner.RunAsync(Plan(new Uri($"http://127.0.0.1:{port}"), OpenModel.Constant(10), TimeSpan.FromSeconds(1))));
        Assert.Equal(LoadExitCodes.TargetUnreachable, e.ExitCode);
        Assert.Contains("Cannot reach the target", e.Message);
        Assert.Contains("connection refused", e.Message);
    }

    [GeneratedRegex("^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")]
    private static partial Regex TraceParent();

    private sealed class FakeControl : IScenarioControl
    {
        public List<string> Calls { get; } = [];

        public Task EnableAsync(string scenario, IReadOnlyDictionary<string, string> parameters, TimeSpan ttl, CancellationToken cancellationToken)
        {
            lock (Calls)
            {
                Calls.Add($"enable {scenario} {string.Join(",", parameters.Select(p => $"{p.Key}={p.Value}"))} ttl{(ttl >= TimeSpan.FromMinutes(5) ? ">=5m" : "<5m")}");
            }

            return Task.CompletedTask;
        }

        public Task DisableAsync(string scenario, CancellationToken cancellationToken)
        {
            lock (Calls)
            {
                Calls.Add($"disable {scenario}");
            }

            return Task.CompletedTask;
        }

        public Task<IReadOnlyList<string>> GetActiveAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>(["slow-db"]);
    }
}

[Collection("load runs")]
public sealed class TracingTests
{
    [Fact]
    public async Task With_a_listener_the_client_creates_a_root_span_per_journey_and_a_child_per_request()
    {
        await using var server = await TestServer.StartAsync(FakeShop.Map);
        var spans = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == LoadTelemetry.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        var plan = new LoadPlan
        {
            Target = server.Address,
            Model = OpenModel.Constant(30),
            Duration = TimeSpan.FromSeconds(1),
            Mix = JourneyMix.Parse("checkout=1", JourneyCatalog.Shop.Names),
            Seed = 3,
        };
        var report = await LoadRunner.RunAsync(plan, new LoadRunOptions { ExportSpans = false });

        var journeys = spans.Where(s => s.ParentSpanId == default).ToList();
        var requests = spans.Where(s => s.ParentSpanId != default).ToList();
        Assert.Equal(report.Journeys.Single().Journey.Count, journeys.Count);
        Assert.All(journeys, j => Assert.Equal("checkout", j.DisplayName));
        Assert.All(journeys, j => Assert.Equal(true, j.GetTagItem("lab.synthetic")));
        Assert.Equal(report.Requests.Count, requests.Count);
        Assert.All(requests, r => Assert.Equal(ActivityKind.Client, r.Kind));
        Assert.All(requests, r => Assert.Contains(journeys, j => j.TraceId == r.TraceId && j.SpanId == r.ParentSpanId));

        // What the server saw is exactly the request spans' context.
        var sent = server.Seen.Select(r => r.TraceParent).ToHashSet();
        Assert.All(requests, r => Assert.Contains($"00-{r.TraceId.ToHexString()}-{r.SpanId.ToHexString()}-01", sent));
        Assert.Contains(requests, r => r.GetTagItem("http.response.status_code") is 201);
    }
}
