using System.Diagnostics;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace Lab.Storefront.ControlPanel;

/// <summary>One second of the shop's traffic as the live view shows it. Latencies in milliseconds; null when nothing completed.</summary>
public sealed record LivePoint(long T, int Requests, int Errors, double ErrorRate, double? P50, double? P99, double? Max);

/// <summary>A request worth a look (slow or failed), with the trace id that opens it in the telemetry viewer.</summary>
public sealed record LiveRequest(DateTimeOffset At, string Method, string Route, int Status, double Ms, string? TraceId);

/// <summary>
/// A rolling per-second window of the HTTP requests this storefront served (the shop API; the lab's own /lab
/// endpoints, the panel's files and the probes are left out), fed by <see cref="LiveTrafficMiddleware"/>.
/// Latencies go into a log-scale histogram per second (buckets 10% wide), so percentiles cost no allocation
/// per request and are within 5% of the exact value.
/// </summary>
public sealed class LiveTraffic
{
    private const double SmallestMs = 0.05;
    private const double Growth = 1.1;
    private const int BucketCount = 170; // up to 0.05 ms x 1.1^170, about 550 s

    private static readonly double LogGrowth = Math.Log(Growth);

    private readonly Lock _lock = new();
    private readonly Second[] _seconds;
    private readonly Queue<LiveRequest> _failures = new();
    private readonly ControlPanelOptions _options;
    private readonly TimeProvider _time;

    public LiveTraffic(IOptions<ControlPanelOptions> options, TimeProvider time)
    {
        _options = options.Value;
        _time = time;
        _seconds = new Second[(int)_options.LiveWindow.TotalSeconds + 2];
        for (var i = 0; i < _seconds.Length; i++)
        {
            _seconds[i] = new Second();
        }
    }

    public int WindowSeconds => _seconds.Length - 2;

    public void Record(string method, string route, int status, bool failed, double ms, string? traceId)
    {
        var now = _time.GetUtcNow();
        var t = now.ToUnixTimeSeconds();
        lock (_lock)
        {
            var second = _seconds[t % _seconds.Length];
            if (second.T != t)
            {
                second.Reset(t);
            }

            second.Requests++;
            second.Histogram[Bucket(ms)]++;
            if (failed)
            {
                second.Errors++;
                _failures.Enqueue(new LiveRequest(now, method, route, status, ms, traceId));
                while (_failures.Count > _options.RecentFailures)
                {
                    _failures.Dequeue();
                }
            }

            if (second.Slowest is null || ms > second.Slowest.Ms)
            {
                second.Slowest = new LiveRequest(now, method, route, status, ms, traceId);
            }
        }
    }

    /// <summary>The completed seconds of the last <paramref name="seconds"/> (gaps filled with zero-request points), oldest first.</summary>
    public LiveSnapshot Snapshot(int seconds)
    {
        seconds = Math.Clamp(seconds, 1, WindowSeconds);
        var now = _time.GetUtcNow();
        var last = now.ToUnixTimeSeconds() - 1;
        var points = new List<LivePoint>(seconds);
        var slow = new List<LiveRequest>();
        LiveRequest[] failures;
        lock (_lock)
        {
            for (var t = last - seconds + 1; t <= last; t++)
            {
                var second = _seconds[t % _seconds.Length];
                if (second.T != t || second.Requests == 0)
                {
                    points.Add(new LivePoint(t, 0, 0, 0, null, null, null));
                    continue;
                }

                // A bucket's middle may lie above the slowest request in it; never report more than the maximum.
                var max = second.Slowest?.Ms ?? double.MaxValue;
                points.Add(new LivePoint(t, second.Requests, second.Errors, (double)second.Errors / second.Requests,
                    Math.Min(max, Percentile(second.Histogram, second.Requests, 0.50)), Math.Min(max, Percentile(second.Histogram, second.Requests, 0.99)),
                    second.Slowest?.Ms));
                if (second.Slowest is { } s)
                {
                    slow.Add(s);
                }
            }

            failures = _failures.Reverse().ToArray();
        }

        var slowest = slow.OrderByDescending(r => r.Ms).Take(_options.SlowestRequests).ToArray();
        return new LiveSnapshot(now, points, slowest, failures);
    }

    private static int Bucket(double ms) =>
        ms <= SmallestMs ? 0 : Math.Min(BucketCount - 1, (int)(Math.Log(ms / SmallestMs) / LogGrowth) + 1);

    // The geometric middle of the bucket holding the rank: at most half a bucket (5%) off.
    private static double Percentile(int[] histogram, int count, double quantile)
    {
        var rank = (int)Math.Ceiling(quantile * count);
        var seen = 0;
        for (var i = 0; i < histogram.Length; i++)
        {
            seen += histogram[i];
            if (seen >= rank)
            {
                return i == 0 ? SmallestMs : Math.Round(SmallestMs * Math.Pow(Growth, i - 0.5), 2);
            }
        }

        return SmallestMs * Math.Pow(Growth, histogram.Length);
    }

    private sealed class Second
    {
        public long T { get; private set; } = -1;
        public int Requests;
        public int Errors;
        public readonly int[] Histogram = new int[BucketCount];
        public LiveRequest? Slowest;

        public void Reset(long t)
        {
            T = t;
            Requests = 0;
            Errors = 0;
            Slowest = null;
            Array.Clear(Histogram);
        }
    }
}

/// <param name="Now">The storefront's clock when the snapshot was taken (the panel computes time left against it).</param>
public sealed record LiveSnapshot(DateTimeOffset Now, IReadOnlyList<LivePoint> Points, IReadOnlyList<LiveRequest> Slowest, IReadOnlyList<LiveRequest> Failures);

/// <summary>
/// Times every request of the shop (outermost, so injected HTTP latency and error pages count as the client saw
/// them) and records it in <see cref="LiveTraffic"/>. A failure is a 5xx answer or an exception.
/// </summary>
public sealed class LiveTrafficMiddleware(RequestDelegate next, LiveTraffic traffic)
{
    // The lab's own endpoints and the panel's files (/lab), probes, metrics and the API description are not the shop.
    private static readonly PathString[] Excluded = ["/lab", "/health", "/alive", "/metrics", "/openapi", "/favicon.ico"];

    public async Task InvokeAsync(HttpContext http)
    {
        if (IsExcluded(http.Request.Path))
        {
            await next(http);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var failed = false;
        try
        {
            await next(http);
        }
        catch
        {
            failed = true;
            throw;
        }
        finally
        {
            var status = failed && !http.Response.HasStarted ? StatusCodes.Status500InternalServerError : http.Response.StatusCode;
            var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? http.Request.Path.Value ?? "";
            traffic.Record(http.Request.Method, route, status, failed || status >= 500,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds, Activity.Current?.TraceId.ToHexString());
        }
    }

    private static bool IsExcluded(PathString path)
    {
        foreach (var prefix in Excluded)
        {
            if (path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
