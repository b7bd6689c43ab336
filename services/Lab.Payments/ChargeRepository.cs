using Lab.Shop;
using Dapper;
using Lab.Data;

namespace Lab.Payments;

public sealed record Charge(string ChargeId, Guid OrderId, decimal Amount, string Currency, string Status, DateTimeOffset CreatedAt);

/// <summary>The outcome of a charge request: the stored charge and whether this request created it.</summary>
public sealed record ChargeOutcome(Charge Charge, bool Created, bool SameRequest);

/// <summary>The payment provider's own database of charges.</summary>
public sealed class ChargeRepository(LabDb db)
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS charges (
            charge_id TEXT PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,
            request_fingerprint TEXT NOT NULL,
            order_id TEXT NOT NULL,
            amount_cents INTEGER NOT NULL,
            currency TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            refunded_at INTEGER NULL,
            charged_by TEXT NULL,
            refunded_by TEXT NULL);
        CREATE INDEX IF NOT EXISTS ix_charges_order ON charges (order_id);
        """;

    // Who charged and who refunded, added to databases made before payments authenticated its callers.
    private static readonly string[] CallerColumns = ["charged_by", "refunded_by"];

    private const string Columns = "charge_id, idempotency_key, request_fingerprint, order_id, amount_cents, currency, status, created_at";

    private static readonly DbOperation Create = new(ShopOperations.PaymentsCharge, "charges", "INSERT",
        $"""
        INSERT INTO charges ({Columns}, charged_by) VALUES (@chargeId, @key, @fingerprint, @orderId, @amountCents, @currency, 'captured', @createdAt, @caller)
        ON CONFLICT (idempotency_key) DO NOTHING;
        SELECT {Columns} FROM charges WHERE idempotency_key = @key
        """);

    private static readonly DbOperation Get = new(ShopOperations.PaymentsGet, "charges", "SELECT",
        $"SELECT {Columns} FROM charges WHERE charge_id = @chargeId");

    private static readonly DbOperation ByOrder = new(ShopOperations.PaymentsByOrder, "charges", "SELECT",
        $"SELECT {Columns} FROM charges WHERE order_id = @orderId ORDER BY created_at");

    private static readonly DbOperation Refund = new(ShopOperations.PaymentsRefund, "charges", "UPDATE",
        $"""
        UPDATE charges SET status = 'refunded', refunded_at = @now, refunded_by = @caller WHERE charge_id = @chargeId AND status = 'captured';
        SELECT {Columns} FROM charges WHERE charge_id = @chargeId
        """);

    public async Task InitializeAsync()
    {
        await using var connection = await db.OpenUntracedAsync();
        await db.Dialect.PrepareDatabaseAsync(connection);
        await using var transaction = await connection.BeginTransactionAsync();
        await db.Dialect.LockForSetupAsync(connection, transaction, "lab.payments.schema");
        await connection.ExecuteAsync(db.Dialect.Ddl(Schema), transaction: transaction);
        var columns = (await connection.QueryAsync<string>(db.Dialect.ColumnsOf("charges"), transaction: transaction)).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var column in CallerColumns.Where(column => !columns.Contains(column)))
        {
            await connection.ExecuteAsync($"ALTER TABLE charges ADD COLUMN {column} TEXT NULL", transaction: transaction);
        }

        await transaction.CommitAsync();
    }

    /// <summary>Creates the charge unless the idempotency key was seen; then returns the first charge made with it.</summary>
    /// <param name="caller">Who asked (<see cref="PaymentsCaller"/>), recorded with the charge.</param>
    public Task<ChargeOutcome> ChargeAsync(string idempotencyKey, Guid orderId, decimal amount, string currency, string caller, DateTimeOffset now,
        CancellationToken cancellationToken = default) =>
        db.InTransactionAsync(Create, async (connection, transaction) =>
        {
            var fingerprint = $"{orderId}:{ShopKeys.ToCents(amount)}:{currency}";
            var inserted = await connection.ExecuteAsync(Create.Parts[0], new
            {
                chargeId = $"ch_{Guid.NewGuid():N}",
                key = idempotencyKey,
                fingerprint,
                orderId = orderId.ToString(),
                amountCents = ShopKeys.ToCents(amount),
                currency,
                createdAt = ShopKeys.ToUnixMs(now),
                caller,
            }, transaction);
            var row = await connection.QuerySingleAsync<ChargeRow>(Create.Parts[1], new { key = idempotencyKey }, transaction);
            return new ChargeOutcome(row.ToCharge(), inserted == 1, row.request_fingerprint == fingerprint);
        }, cancellationToken);

    public Task<Charge?> GetAsync(string chargeId) =>
        db.RunAsync(Get, async connection =>
            (await connection.QuerySingleOrDefaultAsync<ChargeRow>(Get.Statement, new { chargeId }))?.ToCharge());

    public Task<List<Charge>> GetByOrderAsync(Guid orderId) =>
        db.RunAsync(ByOrder, async connection =>
            (await connection.QueryAsync<ChargeRow>(ByOrder.Statement, new { orderId = orderId.ToString() })).Select(row => row.ToCharge()).ToList());

    /// <returns>The charge after the refund (refunding twice changes nothing), or null when it does not exist.</returns>
    /// <param name="caller">Who asked, recorded with the refund (a refund done before keeps its first caller).</param>
    public Task<Charge?> RefundAsync(string chargeId, string caller, DateTimeOffset now) =>
        db.InTransactionAsync(Refund, async (connection, transaction) =>
        {
            await connection.ExecuteAsync(Refund.Parts[0], new { chargeId, now = ShopKeys.ToUnixMs(now), caller }, transaction);
            return (await connection.QuerySingleOrDefaultAsync<ChargeRow>(Refund.Parts[1], new { chargeId }, transaction))?.ToCharge();
        });

    private sealed record ChargeRow(string charge_id, string idempotency_key, string request_fingerprint, string order_id,
        long amount_cents, string currency, string status, long created_at)
    {
        public Charge ToCharge() => new(charge_id, Guid.Parse(order_id), ShopKeys.FromCents(amount_cents), currency, status,
            ShopKeys.FromUnixMs(created_at));
    }
}
