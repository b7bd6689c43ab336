using System.Data;
using System.Collections;
using System.Data.Common;
using System.Diagnostics;
using Lab.Scenarios;
using Lab.Shop;
using Lab.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Lab.Data;

/// <summary>
/// The one place a database connection is opened. Every repository call passes through
/// <see cref="RunAsync{T}"/>: it queues for a connection from a bounded pool, makes the database span
/// (the SQLite driver emits none; Npgsql's own source is not subscribed), counts the call, and is where scenarios hook the repository layer.
/// </summary>
public sealed class LabDb : IDisposable
{
    private static long s_waiting;
    private static long s_inUse;
    private static long s_leaked;

    private readonly DatabaseOptions _options;
    private readonly SemaphoreSlim _pool;
    private readonly SqlDialect _dialect;
    private readonly ServiceIdentity _identity;

    // A narrower gate in front of the pool while a scenario shrinks the connection-pool seam; swapped when its limit changes.
    private volatile PoolGate? _gate;

    // Connections calls kept instead of giving back, with the slots they still hold.
    private readonly System.Collections.Concurrent.ConcurrentQueue<LeakedConnection> _leaked = new();

    public LabDb(IOptions<DatabaseOptions> options, ServiceIdentity? identity = null)
    {
        _options = options.Value;
        _identity = identity ?? new ServiceIdentity("unnamed", ServiceKind.Other);
        _dialect = SqlDialect.Create(_options);
        // Scenarios that only exist on one provider check it when they are switched on (the control grain runs in a silo).
        ShopDatabaseSystem.Current = _dialect.SystemName;
        _pool = new SemaphoreSlim(_options.MaxConnections, _options.MaxConnections);
    }

    static LabDb()
    {
        LabTelemetry.Meter.CreateObservableGauge("lab.db.pool.waiting", () => Interlocked.Read(ref s_waiting), "{caller}",
            "Callers queued for a database connection.");
        LabTelemetry.Meter.CreateObservableGauge("lab.db.pool.in_use", () => Interlocked.Read(ref s_inUse), "{connection}",
            "Database connections held right now.");
        LabTelemetry.Meter.CreateObservableGauge("lab.db.pool.leaked", () => Interlocked.Read(ref s_leaked), "{connection}",
            "Database connections kept open by calls that ended without giving them back (counted in lab.db.pool.in_use too).");
    }

    public DatabaseOptions Options => _options;

    /// <summary>What differs between SQLite and PostgreSQL, for repositories and set-up code.</summary>
    public SqlDialect Dialect => _dialect;

    /// <summary>Closes the pool's idle connections (a restart's loss); the calls after it open new ones.</summary>
    public void ClearPool() => _dialect.ClearPool();

    /// <summary>Runs <paramref name="work"/> on an open connection as one traced, counted database call.</summary>
    /// <param name="sku">The SKU the call is about, if any, so scenarios can target hot SKUs.</param>
    public Task<T> RunAsync<T>(DbOperation operation, Func<DbConnection, Task<T>> work, CancellationToken cancellationToken = default,
        string? sku = null) =>
        ExecuteAsync(operation, (connection, _) => work(connection), transactional: false, sku, cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> inside one write transaction whose lock is taken first (SQLite: BEGIN IMMEDIATE;
    /// PostgreSQL: the SKU's inventory row FOR UPDATE when <paramref name="sku"/> is given).
    /// </summary>
    public Task<T> InTransactionAsync<T>(DbOperation operation, Func<DbConnection, DbTransaction, Task<T>> work,
        CancellationToken cancellationToken = default, string? sku = null) =>
        ExecuteAsync(operation, (connection, transaction) => work(connection, transaction!), transactional: true, sku, cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> inside one read transaction at <paramref name="isolation"/> (PostgreSQL: the level it
    /// names; SQLite: a deferred transaction, which in WAL mode reads one snapshot whatever the level).
    /// </summary>
    public Task<T> InReadTransactionAsync<T>(DbOperation operation, IsolationLevel isolation, Func<DbConnection, DbTransaction, Task<T>> work,
        CancellationToken cancellationToken = default) =>
        ExecuteAsync(operation, (connection, transaction) => work(connection, transaction!), transactional: true, sku: null, cancellationToken, isolation);

    private async Task<T> ExecuteAsync<T>(DbOperation operation, Func<DbConnection, DbTransaction?, Task<T>> work, bool transactional,
        string? sku, CancellationToken cancellationToken, IsolationLevel? readIsolation = null)
    {
        using var activity = StartActivity(operation);
        var started = Stopwatch.GetTimestamp();
        var route = Activity.Current?.GetBaggageItem(LabTelemetry.RouteBaggageKey);
        // The one volatile read of the idle path for the hook below.
        var hooked = ScenarioRuntime.IsActiveAt(HookPoint.Repository);
        try
        {
            var gate = await AcquireConnectionSlotAsync(activity, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref s_inUse);
            DbConnection? connection = null;
            var leaked = false;
            try
            {
                connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
                await using var transaction = !transactional ? null
                    : readIsolation is { } isolation ? await BeginReadAsync(connection, isolation, activity, cancellationToken).ConfigureAwait(false)
                    : await BeginAsync(connection, sku, activity, DefersWrites(), cancellationToken).ConfigureAwait(false);
                HookContext? hook = null;
                if (hooked)
                {
                    // Inside the span and, for writes, inside the transaction: a scenario can hold the write lock.
                    var open = connection;
                    await ScenarioRuntime.InvokeAsync(hook = new HookContext(HookPoint.Repository, _identity)
                    {
                        RepositoryOperation = operation.Name,
                        Statement = operation.Statement,
                        Sku = sku,
                        Carrier = (object?)transaction ?? connection,
                        QueryPlan = operation.PlanSample is { } sample
                            ? ct => _dialect.ExplainAsync(open, transaction, operation.Parts[0], sample, ct)
                            : null,
                    }, cancellationToken).ConfigureAwait(false);
                }

                var result = await work(connection, transaction).ConfigureAwait(false);
                if (hook?.ResultDelay is { } late)
                {
                    await Task.Delay(late, cancellationToken).ConfigureAwait(false);
                }

                if (transaction?.Connection is not null)
                {
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                }

                activity?.SetTag("db.response.returned_rows", CountRows(result));
                // The shop's own gives the connection back on every path; the regressed variant forgets it on this one.
                leaked = ShopSeams.ConnectionRelease.Resolve(_identity, ConnectionRelease.Always, operation.Name) == ConnectionRelease.KeptOnSuccess;
                return result;
            }
            finally
            {
                if (leaked)
                {
                    _leaked.Enqueue(new LeakedConnection(connection!, gate));
                    Interlocked.Increment(ref s_leaked);
                    activity?.SetTag("lab.db.connection.leaked", true);
                }
                else
                {
                    if (connection is not null)
                    {
                        await connection.DisposeAsync().ConfigureAwait(false);
                    }

                    Return(gate);
                }
            }
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            activity?.SetTag("error.type", ex.GetType().FullName);
            activity?.AddException(ex);
            throw;
        }
        finally
        {
            var tags = new TagList { { "db.operation", operation.Name }, { "lab.route", route ?? "" } };
            LabTelemetry.DbCalls.Add(1, tags);
            LabTelemetry.DbCallDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }
    }

    private void Return(PoolGate? gate)
    {
        Interlocked.Decrement(ref s_inUse);
        _pool.Release();
        gate?.Slots.Release();
    }

    /// <summary>
    /// Closes the connections calls kept instead of giving back (the connection-release seam's regressed variant) and frees
    /// their pool slots: what a restart of the process would give back.
    /// </summary>
    /// <returns>How many were reclaimed.</returns>
    public async Task<int> ReclaimLeakedConnectionsAsync()
    {
        var reclaimed = 0;
        while (_leaked.TryDequeue(out var leaked))
        {
            await leaked.Connection.DisposeAsync().ConfigureAwait(false);
            Interlocked.Decrement(ref s_leaked);
            Return(leaked.Gate);
            reclaimed++;
        }

        return reclaimed;
    }

    private bool DefersWrites() => ShopSeams.WriteLocking.Resolve(_identity, WriteLocking.LockFirst) == WriteLocking.Deferred;

    /// <summary>
    /// Begins the write transaction with its lock taken first (SQLite: BEGIN IMMEDIATE; PostgreSQL: the SKU's row),
    /// unless the write-locking seam asks SQLite for a deferred one; the time spent waiting for the lock is
    /// recorded on the span and in lab.db.lock_wait.duration.
    /// </summary>
    private async Task<DbTransaction> BeginAsync(DbConnection connection, string? sku, Activity? activity, bool deferred, CancellationToken cancellationToken)
    {
        var waitStarted = Stopwatch.GetTimestamp();
        var transaction = deferred && connection is Microsoft.Data.Sqlite.SqliteConnection sqlite
            ? sqlite.BeginTransaction(deferred: true)
            : await _dialect.BeginWriteAsync(connection, sku, cancellationToken).ConfigureAwait(false);
        var waited = Stopwatch.GetElapsedTime(waitStarted);
        DbLockWait.Add(activity, waited);
        LabTelemetry.DbLockWait.Record(waited.TotalSeconds);
        return transaction;
    }

    private async Task<DbTransaction> BeginReadAsync(DbConnection connection, IsolationLevel isolation, Activity? activity, CancellationToken cancellationToken)
    {
        var (transaction, isolated) = await _dialect.BeginReadAsync(connection, isolation, cancellationToken).ConfigureAwait(false);
        activity?.SetTag("db.transaction.isolation", isolated);
        return transaction;
    }

    /// <summary>A connection outside the pipeline, for schema set-up and bulk seeding only.</summary>
    public async Task<DbConnection> OpenUntracedAsync(CancellationToken cancellationToken = default) =>
        await OpenAsync(cancellationToken).ConfigureAwait(false);

    private Activity? StartActivity(DbOperation operation)
    {
        var activity = LabTelemetry.Source.StartActivity(operation.SpanName, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("db.system.name", _dialect.SystemName);
            activity.SetTag("db.system", _dialect.SystemName);
            activity.SetTag("db.namespace", _dialect.DatabaseName);
            activity.SetTag("db.operation.name", operation.Verb);
            activity.SetTag("db.collection.name", operation.Collection);
            activity.SetTag("db.query.text", operation.Statement);
            activity.SetTag("lab.db.operation", operation.Name);
        }

        return activity;
    }

    /// <returns>The narrower gate also taken (release it with the pool slot), or null.</returns>
    private async Task<PoolGate?> AcquireConnectionSlotAsync(Activity? activity, CancellationToken cancellationToken)
    {
        var gate = CurrentGate();
        if (gate is not null)
        {
            // The shrunken pool: fewer usable connections, same waiting semantics.
            await WaitForSlotAsync(gate.Slots, gate.Limit.Size, gate.WaitTimeout, activity, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await WaitForSlotAsync(_pool, _options.MaxConnections, _options.ConnectionWaitTimeout, activity, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            gate?.Slots.Release();
            throw;
        }

        return gate;
    }

    private PoolGate? CurrentGate()
    {
        if (!ShopSeams.ConnectionPool.TryResolveRegressed(_identity, out var limit) || limit.Size >= _options.MaxConnections)
        {
            return null;
        }

        var gate = _gate;
        if (gate is not null && gate.Limit == limit)
        {
            return gate;
        }

        // A new limit (a new snapshot of the scenario set) gets a fresh gate; holders of the old one release into it and it is dropped.
        var fresh = new PoolGate(limit, limit.WaitTimeout ?? _options.ConnectionWaitTimeout,
            new SemaphoreSlim(limit.Size, limit.Size));
        return Interlocked.CompareExchange(ref _gate, fresh, gate) == gate ? fresh : _gate ?? fresh;
    }

    private static async Task WaitForSlotAsync(SemaphoreSlim slots, int poolSize, TimeSpan timeout, Activity? activity,
        CancellationToken cancellationToken)
    {
        if (slots.Wait(0, CancellationToken.None))
        {
            return;
        }

        // The pool is exhausted: the wait is part of the call's latency and must show in its span.
        Interlocked.Increment(ref s_waiting);
        var waitStarted = Stopwatch.GetTimestamp();
        try
        {
            if (!await slots.WaitAsync(timeout, cancellationToken).ConfigureAwait(false))
            {
                throw new DbPoolTimeoutException(poolSize, timeout);
            }
        }
        finally
        {
            Interlocked.Decrement(ref s_waiting);
            activity?.AddEvent(new ActivityEvent("db.pool.wait", tags: new ActivityTagsCollection
            {
                ["lab.db.pool.wait_ms"] = Stopwatch.GetElapsedTime(waitStarted).TotalMilliseconds,
                ["lab.db.pool.size"] = poolSize,
            }));
        }
    }

    private Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => _dialect.OpenAsync(cancellationToken);

    private static long CountRows<T>(T result) => result switch
    {
        null => 0,
        int affected => affected,
        ICollection collection => collection.Count,
        _ => 1,
    };

    public void Dispose()
    {
        while (_leaked.TryDequeue(out var leaked))
        {
            leaked.Connection.Dispose();
        }

        _pool.Dispose();
        _dialect.Dispose();
    }
}

/// <summary>A connection a call kept, and the narrower gate whose slot it holds too (if any).</summary>
internal sealed record LeakedConnection(DbConnection Connection, PoolGate? Gate);

/// <summary>A narrower limit in front of the pool, for one regressed connection-pool seam value.</summary>
internal sealed record PoolGate(PoolLimit Limit, TimeSpan WaitTimeout, SemaphoreSlim Slots);

/// <summary>Thrown when no database connection became free within the configured wait.</summary>
/// <remarks>Serializable, so a grain's caller (and the storefront's 504 mapping) sees this type, not a codec error.</remarks>
[GenerateSerializer]
public sealed class DbPoolTimeoutException : TimeoutException
{
    public DbPoolTimeoutException()
    {
    }

    public DbPoolTimeoutException(int poolSize, TimeSpan waited)
        : base($"No database connection became free within {waited.TotalSeconds:0.###} s (pool of {poolSize}).")
    {
        PoolSize = poolSize;
        Waited = waited;
    }

    /// <summary>Usable connections when the caller gave up.</summary>
    [Id(0)]
    public int PoolSize { get; private set; }

    /// <summary>How long the caller waited.</summary>
    [Id(1)]
    public TimeSpan Waited { get; private set; }
}
