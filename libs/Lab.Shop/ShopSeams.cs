using System.Reflection;
using Lab.Scenarios;

namespace Lab.Shop;

/// <summary>
/// The shop's seams: every policy it resolves per call with its own, production-grade variant as the default. The shop
/// nobody broke runs the variants named "the shop's own" below; a scenario may regress a seam to another variant while
/// it is active (see the scenario catalog, docs/scenarios.md).
/// </summary>
public static class ShopSeams
{
    public static readonly Seam<RetryPolicy> CheckoutRetry = new("checkout-retry",
        "Attempts of a checkout at the storefront when it failed on payment. The shop's own: one (the edge never retries a payment; one layer below does).");

    public static readonly Seam<RetryPolicy> ChargeRetry = new("charge-retry",
        "Attempts of the order saga's charge step. The shop's own: one (the payments client is the layer that retries).");

    public static readonly Seam<RetryPolicy> PaymentsRetry = new("payments-retry",
        "Retries of one HTTP call in the payments client. The shop's own: Resilience:Payments* (3 attempts, jittered exponential backoff, a retry budget).");

    public static readonly Seam<BreakerPolicy> PaymentsBreaker = new("payments-breaker",
        "The payments client's circuit breaker. The shop's own: Resilience:Breaker* (opens at half the calls failing, at least 20 in 10 s, for 5 s).");

    public static readonly Seam<TimeSpan> PaymentsTimeout = new("payments-timeout",
        "How long the payments client waits for one attempt before it gives up on it. The shop's own: Resilience:PaymentsAttemptTimeout (1 s: set from payments' measured latency, tens of milliseconds, with room for its slow tail).");

    public static readonly Seam<BulkheadPolicy> PaymentsBulkhead = new("payments-bulkhead",
        "How many payments calls one process lets be in flight at once; the calls beyond fail at once instead of piling up. The shop's own: Resilience:PaymentsConcurrency (32).");

    public static readonly Seam<HedgingPolicy> ProductReadHedging = new("product-read-hedging",
        "Whether the storefront hedges a product read that is slow to answer (a second, concurrent read of the same idempotent call; the first answer wins). The shop's own: Resilience:ProductReadHedge* (one hedge after 50 ms).");

    public static readonly Seam<TimeSpan> CheckoutBudget = new("checkout-budget",
        "The storefront's time budget for one checkout; it answers 504 when it is spent. The shop's own: Resilience:CheckoutBudget (10 s).");

    public static readonly Seam<DeadlinePropagation> DeadlinePropagation = new("deadline-propagation",
        "Whether the layers below the edge honour the caller's deadline. The shop's own: every layer cancels when it is spent, each keeping Resilience:DeadlineMargin back.");

    public static readonly Seam<HistoryLoading> HistoryLoading = new("history-loading",
        "How a customer's order history loads its lines. The shop's own: one batched query for the lines of every order (2 queries per history).", storeBound: true);

    public static readonly Seam<CachePolicy> ProductCache = new("product-cache",
        "How the product cache loads an expired entry. The shop's own: one load per key that every reader awaits (coalescing) and a jittered TTL.");

    public static readonly Seam<EventApplying> EventApplying = new("event-applying",
        "How the order projection applies events. The shop's own: in sequence (a reorder buffer keyed by sequence number), replays skipped.");

    public static readonly Seam<WriteLocking> WriteLocking = new("write-locking",
        "When a write transaction takes its lock. The shop's own: first (SQLite BEGIN IMMEDIATE; PostgreSQL the row FOR UPDATE), one lock order for every writer.", storeBound: true);

    public static readonly Seam<PoolLimit> ConnectionPool = new("connection-pool",
        "Usable connections of a process's repository pool. The shop's own: Database:MaxConnections, waiting Database:ConnectionWaitTimeout.", storeBound: true);

    public static readonly Seam<ConnectionRelease> ConnectionRelease = new("connection-release",
        "Whether a repository call gives its connection back on every path. The shop's own: always (disposed, and its pool slot freed, however the call ends).", storeBound: true);

    public static readonly Seam<CatalogRanking> CatalogRanking = new("catalog-ranking",
        "Where catalog search ranks and pages its matches. The shop's own: the database, with the index (ORDER BY popularity_rank LIMIT).", storeBound: true);

    public static readonly Seam<ReservationCheck> ReservationCheck = new("reservation-check",
        "What the inventory grain checks before it reserves for an order. The shop's own: it trusts the order that asked.");

    public static readonly Seam<ReservationCalls> ReservationCalls = new("reservation-calls",
        "How the order saga calls the inventory grains. The shop's own: inside call-chain reentrancy, so a call-back of its own chain may enter.");

    public static readonly Seam<RestockWriting> RestockWrites = new("restock-writes",
        "Who writes a delivery's units to the stock rows. The shop's own: each line through its SKU's inventory grain, the row's single writer, as a relative update.", storeBound: true);

    public static readonly Seam<System.Data.IsolationLevel> ReportIsolation = new("report-isolation",
        "The isolation of the sales report's read transaction. The shop's own: REPEATABLE READ on PostgreSQL, one snapshot for every read of the report (SQLite's read transactions are snapshots whatever the level).", storeBound: true);

    public static readonly Seam<FeedDelivery> OrderFeedDelivery = new("order-feed-delivery",
        "How the order feed hands order events to its subscribers. The shop's own: batched (Shop:OrderFeedWindow, 50 ms) and bounded (Shop:OrderFeedConcurrency, 4 deliveries in flight per silo).");

    public static readonly Seam<int> OrderFeedSubscribers = new("order-feed-subscribers",
        "How many subscribers the order feed fans each event out to. The shop's own: Shop:OrderFeedSubscribers (8 partner systems).");

    public static readonly Seam<WarmUpPolicy> WarmUp = new("warm-up",
        "What a silo does after it starts, or restarts its state, before it reports ready. The shop's own: it loads the Shop:WarmUpProducts (20) best sellers' product and inventory grains (which opens the repository pool too), /health unready until done.");

    public static readonly Seam<ConnectionReuse> PaymentsConnections = new("payments-connections",
        "Where the payments client gets its HTTP connections. The shop's own: the one pooled handler IHttpClientFactory shares (a few sockets, reused and recycled).");

    public static readonly Seam<CacheWrites> ProductCacheWrites = new("product-cache-writes",
        "What a price change does to the cached copies of the product. The shop's own: write-through (the product grain caches what it wrote, the storefront drops its entry).");

    public static readonly Seam<CacheEntryVersions> CacheEntryVersions = new("cache-entry-versions",
        "Whether a cache entry may be replaced by an older version of the product. The shop's own: no (versioned entries: a load that started before a price change and ends after it leaves the written version in place).");

    public static readonly Seam<CacheFallback> CacheFallback = new("cache-fallback",
        "What the product cache answers when loading an entry fails. The shop's own: the entry it had, however old (stale-if-error, counted in lab.cache.stale_served); the error only when it never had one.");

    public static readonly Seam<CheckoutPricing> CheckoutPricing = new("checkout-pricing",
        "Which price a checkout charges for a cart line. The shop's own: the current one (one batched read of the cart's prices; a line whose price changed since it was added is repriced and counted in lab.checkout.repriced_lines).");

    public static readonly Seam<Interleaving> ProductReadInterleaving = new("product-read-interleaving",
        "Whether reads of one product may run at the same time in its grain. The shop's own: they interleave (the product grain is a read cache; reads share nothing they could break).");

    public static readonly Seam<PoisonPolicy> PoisonEvents = new("poison-events",
        "What the order projection does with an event it fails to process. The shop's own: tries it Shop:MaxEventAttempts times (3), then parks it as a dead letter and goes on with the order's later events.");

    public static readonly Seam<ReservationExpiry> ReservationExpiry = new("reservation-expiry",
        "Who releases an expired reservation. The shop's own: every call that reserves, releases or commits first frees what has expired there and then, and the sweep timer catches the rest (a late timer holds nothing).");

    public static readonly Seam<StateWriter> WishListWrites = new("wish-list-writes",
        "How the back office's clean-up writes a customer's wish list. The shop's own: it asks the customer's grain, the list's single writer.", storeBound: true);

    public static readonly Seam<StateConflicts> StateConflicts = new("state-conflicts",
        "What a grain does when its state write finds the stored state changed (Orleans' InconsistentStateException). The shop's own: it reads the state again, applies its change to it and writes again (a few times).", storeBound: true);

    /// <summary>Every seam of the shop in declaration order, for the catalog's documentation.</summary>
    public static IReadOnlyList<Seam> All { get; } = typeof(ShopSeams).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(field => field.GetValue(null)).OfType<Seam>().ToList();
}

/// <summary>How often and how patiently one layer retries.</summary>
/// <param name="Attempts">Attempts in all (1 = no retry).</param>
/// <param name="Backoff">Base delay of an exponential backoff; zero retries at once.</param>
/// <param name="Jitter">Whether the delay is jittered, so that callers that failed together do not retry together.</param>
/// <param name="Budget">Retries allowed as a share of first attempts; null = every failure may be retried.</param>
public sealed record RetryPolicy(int Attempts, TimeSpan Backoff, bool Jitter, RetryBudgetPolicy? Budget)
{
    /// <summary>No retry.</summary>
    public static RetryPolicy Once { get; } = new(1, TimeSpan.Zero, false, null);

    /// <summary>The naive variant: retry at once, every time, <paramref name="attempts"/> attempts in all.</summary>
    public static RetryPolicy Naive(int attempts) => new(attempts, TimeSpan.Zero, false, null);

    public override string ToString() => Attempts <= 1
        ? "no retry"
        : Budget is null && Backoff == TimeSpan.Zero
            ? $"{Attempts} attempts, naive"
            : $"{Attempts} attempts, {(Jitter ? "jittered " : "")}backoff {Backoff.TotalMilliseconds:0} ms{(Budget is { } b ? $", budget {b.Ratio:P0} + {b.Floor} per {b.Window.TotalSeconds:0} s" : "")}";
}

/// <summary>Retries allowed per window: <paramref name="Ratio"/> of the first attempts, and at least <paramref name="Floor"/>.</summary>
public sealed record RetryBudgetPolicy(double Ratio, int Floor, TimeSpan Window);

/// <summary>A circuit breaker's settings; <see cref="None"/> is no breaker.</summary>
/// <param name="Instance">Tells apart two breakers of equal settings: a new one starts closed.</param>
public sealed record BreakerPolicy(bool Enabled, double FailureRatio, int MinimumThroughput, TimeSpan SamplingDuration, TimeSpan BreakDuration,
    string Instance = "shop")
{
    public static BreakerPolicy None { get; } = new(false, 0, 0, TimeSpan.Zero, TimeSpan.Zero, "none");

    public override string ToString() => Enabled
        ? $"breaker(ratio {FailureRatio}, min {MinimumThroughput}, sampling {SamplingDuration.TotalSeconds:0.#} s, break {BreakDuration.TotalSeconds:0.#} s)"
        : "no breaker";
}

/// <summary>How the order feed delivers: gathered for <paramref name="Window"/> and sent as one batch per subscriber, at most
/// <paramref name="MaxInFlight"/> deliveries at once; or (<see cref="PerEvent"/>) each event to every subscriber at once.</summary>
public sealed record FeedDelivery(bool Batched, TimeSpan Window, int? MaxInFlight)
{
    /// <summary>The naive variant: every event is a call to every subscriber, all started at once.</summary>
    public static FeedDelivery PerEvent { get; } = new(false, TimeSpan.Zero, null);

    public override string ToString() => Batched
        ? $"batched every {Window.TotalMilliseconds:0} ms, {MaxInFlight} deliveries in flight"
        : "every event to every subscriber at once";
}

/// <summary>A silo's warm-up before it reports ready: the <paramref name="Products"/> best sellers loaded; <see cref="None"/> takes traffic cold.</summary>
public sealed record WarmUpPolicy(int Products)
{
    /// <summary>The naive variant: ready as soon as the process runs, every cache and pool empty.</summary>
    public static WarmUpPolicy None { get; } = new(0);

    public override string ToString() => Products > 0 ? $"warm the {Products} best sellers before ready" : "no warm-up";
}

/// <summary>Whether the layers below the edge honour the caller's deadline, and what each keeps back for its own answer.</summary>
public sealed record DeadlinePropagation(bool Honoured, TimeSpan Margin)
{
    /// <summary>The naive variant: only the edge has a timeout; below it work goes on after the caller gave up.</summary>
    public static DeadlinePropagation EdgeOnly { get; } = new(false, TimeSpan.Zero);

    /// <summary>The deadline a layer passes down, <see cref="Margin"/> before its own; null when it honours none.</summary>
    public DateTimeOffset? PassDown(DateTimeOffset? deadline) => Honoured ? deadline - Margin : null;
}

/// <summary>A bulkhead: at most <paramref name="MaxConcurrent"/> calls in flight; the calls beyond are refused at once.</summary>
public sealed record BulkheadPolicy(int? MaxConcurrent)
{
    /// <summary>No limit: every call waits its turn at the dependency, however many there are.</summary>
    public static BulkheadPolicy Unbounded { get; } = new((int?)null);

    public override string ToString() => MaxConcurrent is { } max ? $"bulkhead({max} in flight)" : "no bulkhead";
}

/// <summary>Hedged reads: up to <paramref name="Hedges"/> extra attempts, each started when the previous one took <paramref name="Delay"/>.</summary>
public sealed record HedgingPolicy(int Hedges, TimeSpan Delay)
{
    /// <summary>One read, however long it takes.</summary>
    public static HedgingPolicy None { get; } = new(0, TimeSpan.Zero);

    public override string ToString() => Hedges <= 0 ? "no hedging" : $"{Hedges} hedge(s) after {Delay.TotalMilliseconds:0} ms";
}

public enum HistoryLoading
{
    /// <summary>The orders, then the lines of all of them in one query: two queries, whatever the history's length.</summary>
    Batched,

    /// <summary>The orders, then one query per order (N+1).</summary>
    OneByOne,
}

/// <summary>How a cache loads an expired entry.</summary>
public sealed record CachePolicy(bool Coalesce, bool JitterTtl)
{
    public static CachePolicy Production { get; } = new(true, true);

    /// <summary>Every reader that finds the entry expired loads it itself; entries loaded together expire together.</summary>
    public static CachePolicy Naive { get; } = new(false, false);
}

public enum EventApplying
{
    /// <summary>Hold an event until its predecessor is applied; skip sequences already applied.</summary>
    InSequence,

    /// <summary>Apply each event as it arrives, whatever its sequence.</summary>
    AsArrived,
}

/// <summary>What a write of a product does to the caches that hold it.</summary>
public enum CacheWrites
{
    /// <summary>The shop's own: the writer caches what it wrote and drops other copies.</summary>
    WriteThrough,

    /// <summary>Cached copies are left as they are and serve the old value until their TTL ends.</summary>
    TtlOnly,
}

/// <summary>Which of two versions of an entry a cache keeps.</summary>
public enum CacheEntryVersions
{
    /// <summary>The shop's own: the newer one, whichever was stored last.</summary>
    NewestWins,

    /// <summary>Whichever was stored last, older or not.</summary>
    LastWriteWins,
}

/// <summary>What a cache answers when loading an entry fails.</summary>
public enum CacheFallback
{
    /// <summary>The shop's own: the old entry, if there is one (degraded, not down).</summary>
    ServeStale,

    /// <summary>The load's error, to every reader.</summary>
    Error,
}

/// <summary>Which price a checkout charges.</summary>
public enum CheckoutPricing
{
    /// <summary>The shop's own: the product's current price, read at checkout.</summary>
    CurrentPrices,

    /// <summary>The price the line got when it was added to the cart, however old.</summary>
    CartPrices,
}

/// <summary>What a repository call does with its connection when it ends.</summary>
public enum ConnectionRelease
{
    /// <summary>The shop's own: disposed and its pool slot freed on every path.</summary>
    Always,

    /// <summary>A path that returns without disposing: a call that succeeds keeps its connection open and its slot taken.</summary>
    KeptOnSuccess,
}

public enum WriteLocking
{
    /// <summary>Take the write lock when the transaction begins.</summary>
    LockFirst,

    /// <summary>Begin deferred: read under a shared lock, upgrade at the first write (SQLite).</summary>
    Deferred,
}

/// <summary>A narrower connection pool: <paramref name="Size"/> usable connections, waiting <paramref name="WaitTimeout"/> (null = configured).</summary>
public sealed record PoolLimit(int Size, TimeSpan? WaitTimeout);

/// <summary>Where catalog search ranks its matches.</summary>
/// <param name="InMemoryMaxCandidates">Null: the database ranks and pages. Else the grain pulls up to this many matches and ranks them itself.</param>
public sealed record CatalogRanking(int? InMemoryMaxCandidates)
{
    public static CatalogRanking Database { get; } = new((int?)null);
}

/// <summary>Who writes a restock, and how.</summary>
/// <param name="Attempts">Version-checked writes: attempts per line before it fails as a conflict.</param>
public sealed record RestockWriting(RestockWriter Writer, int Attempts = 1)
{
    public static RestockWriting ThroughGrain { get; } = new(RestockWriter.InventoryGrain);

    public override string ToString() => Writer == RestockWriter.VersionChecked ? $"{Writer}, {Attempts} attempts" : Writer.ToString();
}

public enum RestockWriter
{
    /// <summary>Each line through its SKU's inventory grain: one writer per row, serialised, a relative update.</summary>
    InventoryGrain,

    /// <summary>The job reads every level, then writes each back with its units added: the last writer wins.</summary>
    ReadModifyWrite,

    /// <summary>As <see cref="ReadModifyWrite"/>, but each write checks the row's version; a conflict re-reads and retries.</summary>
    VersionChecked,
}

public enum ReservationCheck
{
    /// <summary>Reserve for the order that asked.</summary>
    TrustCaller,

    /// <summary>Read the order first (a call back into the order grain that is awaiting this reservation).</summary>
    AskOrder,
}

public enum ReservationCalls
{
    /// <summary>Inside RequestContext.AllowCallChainReentrancy(): a call-back of the saga's own call chain may enter the order grain.</summary>
    CallChainReentrant,

    /// <summary>Plain calls: a call-back into the order grain waits behind the saga's own request.</summary>
    Plain,
}

/// <summary>How a client gets its HTTP connections.</summary>
/// <param name="KeepPerCall">Null: the shared, pooled handler. Else a new client (and connection) per call, handed to this
/// and never disposed by the caller, as code that creates an HttpClient per request and keeps it (in a field, a map, a
/// closure) does.</param>
public sealed record ConnectionReuse(Action<HttpClient>? KeepPerCall)
{
    public static ConnectionReuse Shared { get; } = new((Action<HttpClient>?)null);

    public override string ToString() => KeepPerCall is null ? "shared pooled handler" : "a new HttpClient per call, kept";
}

public enum Interleaving
{
    /// <summary>Calls to one grain run at the same time (reentrant).</summary>
    Interleaved,

    /// <summary>One call at a time per grain: each waits for the one before it (an Orleans grain's default turns).</summary>
    OneAtATime,
}

/// <summary>What a consumer does with an event that fails: tries it <paramref name="DeadLetterAfter"/> times, then parks it.</summary>
/// <param name="DeadLetterAfter">Null: never gives up; the failure goes back to the stream, which delivers the event again (and again).</param>
public sealed record PoisonPolicy(int? DeadLetterAfter, TimeSpan RetryDelay)
{
    /// <summary>The naive variant: rethrow, so the stream redelivers the same event for as long as it fails.</summary>
    public static PoisonPolicy RetryForever { get; } = new(null, TimeSpan.Zero);

    public override string ToString() => DeadLetterAfter is { } max ? $"dead letter after {max} tries" : "retry for ever";
}

public enum ReservationExpiry
{
    /// <summary>Released at the next call to the SKU's grain, and by the sweep timer.</summary>
    InlineAndSweep,

    /// <summary>Released by the sweep timer only: as late as its ticks run.</summary>
    SweepOnly,
}

public enum StateWriter
{
    /// <summary>Through the grain that owns the state: one writer.</summary>
    ThroughGrain,

    /// <summary>A job reads the stored state and writes it back itself: a second writer beside the grain.</summary>
    Direct,
}

public enum StateConflicts
{
    /// <summary>Read the state again, apply the change to it, write again.</summary>
    ReloadAndRetry,

    /// <summary>Let the write fail: the call fails and Orleans deactivates the activation (its change is lost).</summary>
    Fail,
}
