using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Net.Http;
using System.Net.Sockets;
using Lab.Load.Engine;
using Lab.Load.Plan;
using Lab.Load.Transport;

namespace Lab.Load.Journeys;

/// <summary>
/// What a journey uses to send its steps. One per worker (never shared between threads at once); it times
/// each step, carries the trace context and records the outcome.
/// </summary>
/// <remarks>
/// The first step of a journey is timed from the journey's planned start, so time spent waiting for a free
/// slot or behind a slow server counts (no coordinated omission); later steps are timed from their own send,
/// because they are planned to follow the previous response.
/// </remarks>
public sealed class JourneyContext : IDisposable
{
    private static readonly string[] SearchWords =
        ["lamp", "blue", "steel", "chair", "oak", "red", "cotton", "desk", "green", "glass", "wool", "table", "black", "leather", "mug"];

    private readonly RunState _run;
    private readonly ILoadTransport _transport;
    private readonly Random _ids = new();
    private readonly Lock _timeoutGate = new();
    private readonly long _timeoutTicks;
    private CancellationTokenSource _timeout;
    private long _deadline;

    private int _journey;
    private int _phase;
    private long _journeyStart;
    private bool _firstStep;
    private TraceId _traceId;
    private Activity? _journeyActivity;
    private int _failStatus;
    private ErrorKind _failKind;
    private string? _failMessage;

    internal JourneyContext(RunState run, int worker)
    {
        _run = run;
        Random = new Random(HashCode.Combine(run.Plan.Seed, worker));
        _timeout = CancellationTokenSource.CreateLinkedTokenSource(run.HardStop);
        _transport = run.Transport.ForWorker();
        _timeoutTicks = (long)(run.Plan.RequestTimeout.TotalSeconds * Stopwatch.Frequency);
        run.Register(this);
    }

    public LoadPlan Plan => _run.Plan;

    /// <summary>Seeded per worker; use it for every choice a journey makes.</summary>
    public Random Random { get; }

    /// <summary>The current journey's trace id (the client started the trace).</summary>
    public TraceId TraceId => _traceId;

    /// <summary>A product SKU, "SKU-00001" being the most popular.</summary>
    public string PickSku() => $"SKU-{_run.Skus.Sample(Random):D5}";

    /// <summary>One of the <paramref name="top"/> best sellers (SKU-00001 to SKU-{top}), uniformly: what a restock brings in.</summary>
    public string PickBestSeller(int top) => $"SKU-{1 + Random.Next(Math.Min(top, _run.Skus.Count)):D5}";

    public int PickCustomer() => _run.Customers.Sample(Random);

    public string PickSearchWord() => SearchWords[Random.Next(SearchWords.Length)];

    public Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken) => Task.Delay(delay, cancellationToken);

    /// <summary>
    /// Sends one step. Never throws for HTTP or network failures: they come back as a result with Ok false and
    /// are recorded; the journey should then stop.
    /// </summary>
    /// <param name="expectedStatus">0 accepts any 2xx; otherwise only this status is a success.</param>
    /// <param name="backOffice">Send the plan's control token (the back office's calls need it).</param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<StepResult> SendAsync(
        string step,
        HttpMethod method,
        string pathAndQuery,
        ReadOnlyMemory<byte> jsonBody = default,
        bool readBody = true,
        int expectedStatus = 0,
        bool backOffice = false,
        CancellationToken cancellationToken = default)
    {
        var key = _run.Keys.StepKey(_journey, step);
        var start = _firstStep ? _journeyStart : Stopwatch.GetTimestamp();
        _firstStep = false;

        var spanId = TraceId.NewSpanId(_ids);
        Activity? activity = null;
        if (_journeyActivity is not null)
        {
            activity = LoadTelemetry.Source.StartActivity(step, ActivityKind.Client, _journeyActivity.Context, startTime: ToUtc(start));
            if (activity is not null)
            {
                activity.SetTag("http.request.method", method.Method);
                activity.SetTag("url.path", pathAndQuery);
                activity.SetTag("lab.journey", _run.Keys.Journeys[_journey].Name);
                activity.SetTag("lab.step", step);
                spanId = TraceId.SpanIdOf(activity);
            }
        }

        var traceParent = new TraceParent(_traceId, spanId);
        int status = 0;
        var kind = ErrorKind.None;
        string? message = null;
        ReadOnlyMemory<byte> body = default;
        // A watchdog cancels overdue requests (see CancelIfOverdue): far cheaper than arming a timer per request.
        Volatile.Write(ref _deadline, Stopwatch.GetTimestamp() + _timeoutTicks);
        try
        {
            var response = await _transport.SendAsync(new TransportRequest(method, pathAndQuery, jsonBody, traceParent, readBody,
                backOffice && _run.Plan.ControlToken is { } token ? "Bearer " + token : null), _timeout.Token).ConfigureAwait(false);
            status = response.StatusCode;
            body = response.Body;
            var ok = expectedStatus == 0 ? status is >= 200 and < 300 : status == expectedStatus;
            if (!ok)
            {
                kind = ErrorKind.HttpStatus;
                message = $"{status} {Describe(status)}";
            }
        }
        catch (OperationCanceledException) when (_run.HardStop.IsCancellationRequested || cancellationToken.IsCancellationRequested)
        {
            activity?.Dispose();
            throw;
        }
        catch (Exception e)
        {
            (kind, message) = Classify(e);
        }
        finally
        {
            lock (_timeoutGate)
            {
                _deadline = 0;
                if (_timeout.IsCancellationRequested)
                {
                    _timeout.Dispose();
                    _timeout = CancellationTokenSource.CreateLinkedTokenSource(_run.HardStop);
                }
            }
        }

        var end = Stopwatch.GetTimestamp();
        _run.Collector.ShardForCurrentThread().Record(
            _phase, key, end - start, status, kind, new SampleInfo(start - _run.StartTicks, _traceId, method.Method, pathAndQuery, message), isStep: true);

        if (activity is not null)
        {
            if (status > 0)
            {
                activity.SetTag("http.response.status_code", status);
            }

            if (kind != ErrorKind.None)
            {
                activity.SetStatus(ActivityStatusCode.Error, message);
                activity.SetTag("error.type", kind == ErrorKind.HttpStatus ? status.ToString(System.Globalization.CultureInfo.InvariantCulture) : kind.ToName());
            }

            activity.Dispose();
        }

        if (kind != ErrorKind.None)
        {
            _failStatus = status;
            _failKind = kind;
            return new StepResult(false, status, default);
        }

        return new StepResult(true, status, body);
    }

    /// <summary>
    /// Marks the journey failed although its last response was a success (e.g. the response lacked a field, or
    /// the order never became final). Counted against the journey, with the reason kept in the report.
    /// </summary>
    public void FailStep(string step, string reason)
    {
        _failKind = ErrorKind.InvalidResponse;
        _failStatus = 0;
        _failMessage = $"{step}: {reason}";
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask RunJourneyAsync(int journey, long plannedTicks)
    {
        var startTicks = Stopwatch.GetTimestamp();
        _journey = journey;
        _phase = _run.PhaseAt(plannedTicks);
        _journeyStart = plannedTicks;
        _firstStep = true;
        _failKind = ErrorKind.None;
        _failStatus = 0;
        _failMessage = null;
        var lag = startTicks - plannedTicks;

        var definition = _run.Keys.Journeys[journey];
        _journeyActivity = null;
        if (LoadTelemetry.Source.HasListeners())
        {
            // The client is the root of the trace: no parent, whatever flowed into this task.
            Activity.Current = null;
            _journeyActivity = LoadTelemetry.Source.StartActivity(definition.Name, ActivityKind.Internal, default(ActivityContext), startTime: ToUtc(plannedTicks));
            _journeyActivity?.SetTag("lab.journey", definition.Name);
            _journeyActivity?.SetTag("lab.synthetic", true);
        }

        _traceId = _journeyActivity is not null ? TraceId.From(_journeyActivity.TraceId) : TraceId.NewRandom(_ids);
        Interlocked.Increment(ref _run.InFlight);
        var cancelled = false;
        try
        {
            await definition.RunAsync(this, _run.HardStop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_run.HardStop.IsCancellationRequested)
        {
            cancelled = true;
        }
        catch (Exception e)
        {
            // A journey bug or an unreadable response: record it rather than kill the worker.
            _failKind = ErrorKind.Client;
            _failStatus = 0;
            _failMessage = $"{e.GetType().Name}: {e.Message}";
        }
        finally
        {
            Interlocked.Decrement(ref _run.InFlight);
        }

        if (_journeyActivity is not null)
        {
            if (_failKind != ErrorKind.None)
            {
                _journeyActivity.SetStatus(ActivityStatusCode.Error, _failKind.ToName());
            }

            _journeyActivity.Dispose();
            _journeyActivity = null;
            Activity.Current = null;
        }

        if (cancelled)
        {
            Interlocked.Increment(ref _run.CancelledJourneys);
            _run.Collector.ShardForCurrentThread().RecordStart(_phase, lag, lag > _run.LateTicks);
            return;
        }

        // The start (and its lag) is recorded with the outcome: one lock per journey instead of two.
        var end = Stopwatch.GetTimestamp();
        _run.Collector.ShardForCurrentThread().RecordJourney(
            _phase, _run.Keys.JourneyKey(journey), end - plannedTicks, _failStatus, _failKind,
            new SampleInfo(plannedTicks - _run.StartTicks, _traceId, "-", definition.Name, _failMessage), lag, lag > _run.LateTicks);
    }

    /// <summary>Called by the run's watchdog: cancels the request in flight if it is past its deadline.</summary>
    internal void CancelIfOverdue(long now)
    {
        if (Volatile.Read(ref _deadline) is var deadline && (deadline == 0 || now <= deadline))
        {
            return;
        }

        lock (_timeoutGate)
        {
            // Re-checked under the lock: the request may have finished (deadline 0) or a new one started.
            if (_deadline != 0 && now > _deadline)
            {
                _timeout.Cancel();
            }
        }
    }

    public void Dispose()
    {
        _timeout.Dispose();
        if (!ReferenceEquals(_transport, _run.Transport))
        {
            _transport.Dispose();
        }
    }

    private DateTimeOffset ToUtc(long ticks) =>
        _run.StartedAt + TimeSpan.FromSeconds((ticks - _run.StartTicks) / (double)Stopwatch.Frequency);

    private static (ErrorKind, string) Classify(Exception e)
    {
        if (e is OperationCanceledException or TimeoutException)
        {
            return (ErrorKind.Timeout, "no response within the request timeout");
        }

        if (e is HttpRequestException http)
        {
            if (http.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
            {
                return (ErrorKind.ConnectionRefused, "connection refused");
            }

            return http.HttpRequestError switch
            {
                HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError or HttpRequestError.ConfigurationLimitExceeded => (ErrorKind.Protocol, http.Message),
                _ => (ErrorKind.Connection, Innermost(http)),
            };
        }

        if (e is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            return (ErrorKind.ConnectionRefused, "connection refused");
        }

        if (e is IOException or SocketException)
        {
            return (ErrorKind.Connection, Innermost(e));
        }

        return (ErrorKind.Client, $"{e.GetType().Name}: {e.Message}");
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        return e.Message;
    }

    private static string Describe(int status) => status switch
    {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    };
}
