using System.Collections.Concurrent;
using System.Diagnostics;
using Dapper;
using Lab.Data;
using Lab.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lab.Scenarios.Shop;

/// <summary>
/// A back-office batch job (a stock recount over the best sellers' inventory rows) runs in the targeted process and does
/// all its work inside one write transaction: it locks the rows (PostgreSQL: FOR UPDATE; SQLite: its write lock, which is
/// the whole database's), works for 'hold', then commits; again after 'pause'. Every writer of those rows meanwhile waits
/// for the lock, as its span's lab.db.lock_wait_ms shows. With cure=true the same job commits every 'batch' rows and rests
/// between batches, so a writer waits for one short batch at most.
/// </summary>
public sealed class LongRunningTransactionScenario : Scenario
{
    public const string Name = "long-running-transaction";
    public const string JobSpan = "batch inventory.recount";

    private static readonly TimeSpan BatchRest = TimeSpan.FromMilliseconds(150);

    // Keyed by the process's services, not its name: the silos of a test cluster share a process and a name.
    private static readonly ConcurrentDictionary<IServiceProvider, Job> Running = new(ReferenceEqualityComparer.Instance);

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "database",
        Description: "Runs a stock-recount batch job in each targeted process that has the shop's inventory table: one write transaction locks " +
                     "the 'rows' best sellers' inventory rows (PostgreSQL: FOR UPDATE; SQLite: the database's write lock), works for 'hold', " +
                     "commits, and starts again after 'pause'. Writers of those rows queue behind it. cure=true commits every 'batch' rows " +
                     "and rests between batches (as long as a batch, at least 150 ms: the same work in short transactions, with room for the writers). Stops at disable, reset, expiry or after 'duration'.",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Int("rows", 100, "Inventory rows the job recounts, best sellers first.", min: 1, max: 100_000, unit: "rows"),
            ParameterSpec.Duration("hold", "2s", "How long one run works inside its transaction.", min: "10ms", max: "60s"),
            ParameterSpec.Duration("pause", "1s", "Time between two runs.", min: "0ms", max: "10m"),
            ParameterSpec.Duration("duration", "10m", "How long the job keeps running; it also stops at disable, reset or TTL.", min: "1s", max: "60m"),
            ParameterSpec.Int("batch", 10, "With the cure: rows per transaction.", min: 1, max: 100_000, unit: "rows"),
            ParameterSpec.Bool("cure", false, "Short transactions: commit every 'batch' rows, spreading 'hold' over the batches, and rest between them."),
        ],
        Signature: "Write spans of the recounted SKUs (inventory.reserve, inventory.commit, inventory.restock; on SQLite every write) carry " +
                   "lab.db.lock_wait_ms up to 'hold', and lab.db.lock_wait.duration climbs while the job's own span (batch inventory.recount) " +
                   "lasts 'hold'; with the cure the waits are one batch's share of 'hold'.",
        Cure: "Short transactions: commit in batches, keep work that needs no lock (reading, computing) outside the transaction, and run " +
              "batch jobs where they do not meet the shop's writers.",
        Runbook: new Runbook(
            Break: "lab scenario enable long-running-transaction --target service=silo-1",
            Hint: "Checkouts stall for seconds at a time, then run freely, in a rhythm. Where do the slow checkouts wait, and for whom?",
            Verify: "Slow inventory write spans carry lab.db.lock_wait_ms near 'hold'; the trace of the job (batch inventory.recount) overlaps " +
                    "them; lab.db.lock_wait.duration's tail follows the job's rhythm.",
            Restore: "lab scenario change long-running-transaction --set cure=true (short batches) or disable it (the job stops, its transaction rolls back)."))
    {
        ActsOnDatabase = true,
    };

    public override async Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        await StopAsync(process.Services);
        if (process.Services.GetService<LabDb>() is not { } db)
        {
            return;
        }

        await using (var connection = await db.OpenUntracedAsync(ct))
        {
            if (!(await connection.QueryAsync<string>(db.Dialect.ColumnsOf("inventory"))).Any())
            {
                return; // not the shop's database
            }
        }

        var settings = new JobSettings(
            (int)activation.GetInt("rows"),
            activation.GetDuration("hold"),
            activation.GetDuration("pause"),
            activation.GetBool("cure") ? (int)activation.GetInt("batch") : int.MaxValue);
        // One job per process: the silos of a test cluster share a process (and a database), as one back office would.
        lock (Running)
        {
            if (!Running.IsEmpty)
            {
                return;
            }

            var stop = new CancellationTokenSource(activation.GetDuration("duration"), process.Time);
            Running[process.Services] = new Job(stop, Task.Run(() => RunAsync(db, settings, process, stop.Token), CancellationToken.None));
        }
    }

    public override Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct) =>
        StopAsync(process.Services);

    private static async Task StopAsync(IServiceProvider process)
    {
        if (Running.TryRemove(process, out var job))
        {
            // Cancelling rolls the open transaction back: its locks are gone when this returns.
            await job.Stop.CancelAsync();
            await job.Run;
            job.Stop.Dispose();
        }
    }

    private static async Task RunAsync(LabDb db, JobSettings settings, ScenarioProcessContext process, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await RecountAsync(db, settings, ct);
                await Task.Delay(settings.Pause, process.Time, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            process.Logger.LogWarning(ex, "long-running-transaction: the batch job stopped");
        }
    }

    /// <summary>One run of the job: the rows in transactions of settings.Batch rows, each working its share of the hold.</summary>
    private static async Task RecountAsync(LabDb db, JobSettings settings, CancellationToken ct)
    {
        await using var connection = await db.OpenUntracedAsync(ct);
        var skus = (await connection.QueryAsync<string>(
            new CommandDefinition("SELECT sku FROM inventory ORDER BY sku LIMIT @rows", new { rows = settings.Rows }, cancellationToken: ct))).ToList();
        var batch = Math.Min(settings.Batch, Math.Max(1, skus.Count));
        var batches = (skus.Count + batch - 1) / batch;
        var share = settings.Hold / Math.Max(1, batches);
        foreach (var chunk in skus.Chunk(batch))
        {
            using var span = LabTelemetry.Source.StartActivity(JobSpan, ActivityKind.Client);
            span?.SetTag("lab.scenario", Name);
            span?.SetTag("lab.batch.rows", chunk.Length);
            await using var transaction = await db.Dialect.BeginWriteAsync(connection, sku: null, ct);
            // The rows' locks: PostgreSQL locks each row; SQLite's BEGIN IMMEDIATE already holds the database's write lock.
            var statement = db.Dialect.Provider == DatabaseProvider.Postgres
                ? $"SELECT sku, available, reserved, sold FROM inventory WHERE {db.Dialect.InList("sku", "@skus")} ORDER BY sku FOR UPDATE"
                : $"SELECT sku, available, reserved, sold FROM inventory WHERE {db.Dialect.InList("sku", "@skus")}";
            await connection.QueryAsync(new CommandDefinition(statement, new { skus = chunk }, transaction, cancellationToken: ct));
            await Task.Delay(share, ct); // the recount's work, done while the locks are held
            await transaction.CommitAsync(ct);
            span?.SetTag("lab.batch.held_ms", Math.Round(share.TotalMilliseconds));
            if (batches > 1)
            {
                // Short transactions only help if the job lets the writers in between them: PostgreSQL queues them on the
                // rows, but a SQLite writer polls for the lock (every 100 ms once it has waited a while) and needs a gap that long.
                await Task.Delay(share > BatchRest ? share : BatchRest, ct);
            }
        }
    }

    private sealed record JobSettings(int Rows, TimeSpan Hold, TimeSpan Pause, int Batch);

    private sealed record Job(CancellationTokenSource Stop, Task Run);

    public override ExperimentSpec Experiment
    {
        get
        {
            var wait = new SignatureFigure("lock wait mean", "ms", "mean of lab.db.lock_wait.duration, silos", m => m.MeanMs("silo", "lab_db_lock_wait_duration_seconds"));
            return new ExperimentSpec(Name, [wait, SignatureFigure.ErrorShare],
                [SteadyStateProbe.AtBaseline(wait, tolerance: 1, slack: 20), SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500))])
            {
                Mix = "checkout=70,browse=30",
                Fault = new Dictionary<string, string> { ["rows"] = "100", ["hold"] = "2s", ["pause"] = "1s", ["batch"] = "2" },
                Target = new Dictionary<string, string> { ["service"] = "silo-1" },
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
