using Dapper;
using Lab.Data;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lab.Scenarios.Shop;

/// <summary>
/// A migration another team ran renames a column that a service still queries by its old name: payments' charges table
/// loses "currency" to "currency_code". Payments was not redeployed, so every query it makes of that table fails with the
/// database's own error, while the shop's other services, on their own tables, work on. cure=true migrates the safe
/// way (expand, then contract): the new column is added beside the old one and filled, so old and new code both work.
/// </summary>
public sealed class SchemaDriftScenario : Scenario
{
    public const string Name = "schema-drift";

    private const string Table = "charges";
    private const string OldColumn = "currency";
    private const string NewColumn = "currency_code";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "actor-system",
        Description: "Runs a real migration on the database of each targeted process that has payments' charges table: ALTER TABLE charges RENAME " +
                     "COLUMN currency TO currency_code (cure=true: ADD COLUMN currency_code, filled from currency; the old column stays). Undone at " +
                     "disable, reset or expiry (renamed back, or the added column dropped). Processes without that table are left alone.",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Bool("cure", false, "Expand/contract: add the new column beside the old one, so code that reads either works."),
        ],
        Signature: "Every charge fails at payments with the database's error (SQLite 'table charges has no column named currency', PostgreSQL " +
                   "'column \"currency\" of relation \"charges\" does not exist'): POST /api/charges answers 500, checkouts are cancelled as payments failed, while catalog, carts and order " +
                   "history work on. db spans of payments.charge carry the error. With the cure nothing fails.",
        Cure: "Expand/contract migrations: add the new column, deploy code that writes both and reads the new one, backfill, and only then drop " +
              "the old column; or version the schema with the service and migrate in its own deployment.",
        Runbook: new Runbook(
            Break: "lab scenario enable schema-drift while lab load runs",
            Hint: "Checkouts fail, everything else works. Which service's database calls fail, and what does the database say about them?",
            Verify: "Failed spans of payments.charge carry 'no column named currency' (or PostgreSQL's 'column \"currency\" ... does not exist'); the " +
                    "charges table has currency_code and no currency (.schema charges in sqlite3, \\d charges in psql).",
            Restore: "lab scenario change schema-drift --set cure=true (the expand step: both columns, nothing fails) or disable it (renamed back)."))
    {
        ActsOnDatabase = true,
    };

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct) =>
        MigrateAsync(process, expand: activation.GetBool("cure"), ct);

    public override Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct) =>
        UndoAsync(process, ct);

    private static async Task MigrateAsync(ScenarioProcessContext process, bool expand, CancellationToken ct)
    {
        if (process.Services.GetService<LabDb>() is not { } db)
        {
            return;
        }

        await using var connection = await db.OpenUntracedAsync(ct);
        var columns = await ColumnsAsync(db, connection);
        if (!columns.Contains(OldColumn) || columns.Contains(NewColumn))
        {
            return; // not payments' database, or migrated already
        }

        if (expand)
        {
            await connection.ExecuteAsync($"ALTER TABLE {Table} ADD COLUMN {NewColumn} TEXT NULL");
            await connection.ExecuteAsync($"UPDATE {Table} SET {NewColumn} = {OldColumn}");
            process.Logger.LogWarning("schema-drift: added {Table}.{New} beside {Old} (expand)", Table, NewColumn, OldColumn);
        }
        else
        {
            await connection.ExecuteAsync($"ALTER TABLE {Table} RENAME COLUMN {OldColumn} TO {NewColumn}");
            process.Logger.LogWarning("schema-drift: renamed {Table}.{Old} to {New}", Table, OldColumn, NewColumn);
        }
    }

    private static async Task UndoAsync(ScenarioProcessContext process, CancellationToken ct)
    {
        if (process.Services.GetService<LabDb>() is not { } db)
        {
            return;
        }

        await using var connection = await db.OpenUntracedAsync(ct);
        var columns = await ColumnsAsync(db, connection);
        if (!columns.Contains(NewColumn))
        {
            return;
        }

        await connection.ExecuteAsync(columns.Contains(OldColumn)
            ? $"ALTER TABLE {Table} DROP COLUMN {NewColumn}"
            : $"ALTER TABLE {Table} RENAME COLUMN {NewColumn} TO {OldColumn}");
        process.Logger.LogWarning("schema-drift: {Table} is back to its column {Old}", Table, OldColumn);
    }

    private static async Task<HashSet<string>> ColumnsAsync(LabDb db, System.Data.Common.DbConnection connection) =>
        (await connection.QueryAsync<string>(db.Dialect.ColumnsOf(Table))).ToHashSet(StringComparer.OrdinalIgnoreCase);

    public override ExperimentSpec Experiment =>
        new(Name, [SignatureFigure.ErrorShare, new SignatureFigure("payments 500s", "", "payments http.server.request.duration count, POST /api/charges/, status 500",
                m => m.Requests("payments", "POST", "/api/charges/", "500"))],
            [SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500))])
        {
            Mix = "checkout=100",
            Cure = ExperimentSpec.CureOn,
        };
}
