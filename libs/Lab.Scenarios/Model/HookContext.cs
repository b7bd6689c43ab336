using System.Net;

namespace Lab.Scenarios;

/// <summary>
/// What a hook site knows about the call it is about to make. The hook site creates one only when
/// <see cref="ScenarioRuntime.IsIdle"/> is false, fills the fields it knows and leaves the rest null.
/// Scenarios read it to decide whether they apply and may write one of the outcome fields to
/// short-circuit the call with a real result.
/// </summary>
public sealed class HookContext(HookPoint point, ServiceIdentity service)
{
    /// <summary>Which hook is calling.</summary>
    public HookPoint Point { get; } = point;

    /// <summary>The process the hook runs in.</summary>
    public ServiceIdentity Service { get; } = service;

    /// <summary>
    /// Grain incoming hook: the process that sent the call (its name and kind), when its outgoing hook was active and
    /// stamped the call; null for calls from outside the lab's hooks. Lets a scenario cut calls between processes.
    /// </summary>
    public ServiceIdentity? CallerService { get; init; }

    /// <summary>Grain interface short name, e.g. "IInventoryGrain" (grain hooks).</summary>
    public string? GrainInterface { get; init; }

    /// <summary>Grain method name, e.g. "ReserveAsync" (grain hooks).</summary>
    public string? GrainMethod { get; init; }

    /// <summary>The key of the target grain as text, e.g. a SKU or customer id (grain hooks).</summary>
    public string? GrainKey { get; init; }

    /// <summary>Logical repository operation, e.g. "inventory.reserve" (repository hook).</summary>
    public string? RepositoryOperation { get; init; }

    /// <summary>SQL text of the command about to run (repository hook). A scenario may rewrite it.</summary>
    public string? Statement { get; set; }

    /// <summary>HTTP route template, e.g. "/api/orders/{id}", or the path when no endpoint matched (HTTP hooks).</summary>
    public string? Route { get; init; }

    /// <summary>HTTP method, e.g. "POST" (HTTP hooks).</summary>
    public string? HttpMethod { get; init; }

    /// <summary>Host (and port) of the remote side of an outgoing call, e.g. "127.0.0.1:5200" (HTTP client hook).</summary>
    public string? RemoteHost { get; init; }

    /// <summary>The SKU the call is about, when the hook site knows it (repository, cache, grain hooks).</summary>
    public string? Sku { get; init; }

    /// <summary>The cache key being read or written (cache hook).</summary>
    public string? CacheKey { get; init; }

    /// <summary>
    /// The hook's native object: HttpContext (HTTP server), HttpRequestMessage (HTTP client),
    /// DbCommand or DbConnection (repository), IGrainCallContext (grain hooks), the event (streams).
    /// </summary>
    public object? Carrier { get; init; }

    /// <summary>
    /// Repository hook: reads the query plan of this call's statement from the database (EXPLAIN) on the call's own
    /// connection, when the shop declares a sample of the statement's parameters; null otherwise.
    /// </summary>
    public Func<CancellationToken, Task<string>>? QueryPlan { get; init; }

    /// <summary>
    /// The deterministic random of the activation currently being evaluated; set by the runtime before
    /// each <see cref="Scenario.IsApplicable"/> and <see cref="Scenario.ApplyAsync"/> call.
    /// </summary>
    public ActivationRandom Random { get; internal set; } = ActivationRandom.Unseeded;

    /// <summary>The runtime's clock reading for this call (set by the runtime; compare it with activation times).</summary>
    public DateTimeOffset Now { get; internal set; }

    // ---- Outcomes a scenario may set to short-circuit the call with a real result ----

    /// <summary>HTTP client hook: when set, this response is returned instead of sending the request.</summary>
    public HttpResponseMessage? ClientResponse { get; set; }

    /// <summary>HTTP server hook: when set, the middleware answers with this status and a problem body instead of running the endpoint.</summary>
    public HttpStatusCode? ServerStatus { get; set; }

    /// <summary>HTTP server hook: problem title for <see cref="ServerStatus"/>.</summary>
    public string? ServerProblemTitle { get; set; }

    /// <summary>HTTP server hook: extra response headers (e.g. Retry-After) for <see cref="ServerStatus"/>.</summary>
    public IDictionary<string, string>? ServerHeaders { get; set; }

    /// <summary>HTTP server hook: when set, the response body goes out at most this many bytes a second (a throttled link).</summary>
    public long? ResponseBytesPerSecond { get; set; }

    /// <summary>HTTP server hook: when set, a request body larger than this is refused with 413, as the server's own limit would.</summary>
    public long? MaxRequestBodyBytes { get; set; }

    /// <summary>Cache hook: treat this lookup as a miss even if the entry is present.</summary>
    public bool CacheForceMiss { get; set; }

    /// <summary>Cache hook: expire (remove) the entry for <see cref="CacheKey"/> now.</summary>
    public bool CacheExpire { get; set; }

    /// <summary>
    /// Repository hook: hand the statement's result back this long after it ran (rows read now, delivered late: a slow link
    /// or replica), so that what the caller gets can be older than a write made meanwhile.
    /// </summary>
    public TimeSpan? ResultDelay { get; set; }

    /// <summary>Stream produce hook: hold the event back this long before it is published (behind the events that follow it).</summary>
    public TimeSpan? PublishDelay { get; set; }

    /// <summary>Names of the scenarios that perturbed this call, in the order they were applied.</summary>
    public IReadOnlyList<string> AppliedScenarios => _applied ?? (IReadOnlyList<string>)[];

    private List<string>? _applied;

    internal void MarkApplied(string scenario) => (_applied ??= []).Add(scenario);
}
