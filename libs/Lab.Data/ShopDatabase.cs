using System.Data.Common;
using System.Diagnostics;
using Dapper;
using Lab.Contracts;
using Lab.ServiceDefaults;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lab.Data;

/// <summary>Creates the shop's schema and deterministic seed data once; every silo may call it at start-up.</summary>
public sealed class ShopDatabase(LabDb db, IOptions<SeedOptions> seedOptions, ILogger<ShopDatabase> logger)
{
    private static readonly string[] Categories =
        ["lighting", "kitchen", "garden", "tools", "office", "toys", "sports", "audio", "books", "bath"];

    private static readonly string[] Adjectives =
        ["blue", "steel", "oak", "compact", "classic", "smart", "large", "travel", "quiet", "bright", "vintage", "solar"];

    private static readonly string[] Nouns =
        ["lamp", "kettle", "hose", "drill", "chair", "robot", "racket", "speaker", "novel", "towel", "mug", "clock", "bag", "desk"];

    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        using var activity = LabTelemetry.Source.StartActivity("shop.database.initialize");
        await using var connection = await db.OpenUntracedAsync(cancellationToken);
        await connection.ExecuteAsync("PRAGMA journal_mode = WAL;");

        // BEGIN IMMEDIATE takes the write lock first, so two silos starting together seed only once.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(ShopSchema.Create, transaction: transaction);
        var seeded = await connection.ExecuteScalarAsync<string?>(
            "SELECT value FROM lab_meta WHERE key = 'seed'", transaction: transaction);
        var seed = seedOptions.Value;
        var fingerprint = $"{ShopSchema.Version}:{seed.Products}:{seed.Customers}:{seed.HistoricalOrders}:{seed.RandomSeed}";
        if (seeded is not null)
        {
            if (seeded != fingerprint)
            {
                logger.LogWarning("Database was seeded with {Existing}, configuration asks for {Wanted}; keeping the existing data",
                    seeded, fingerprint);
            }

            await transaction.CommitAsync(cancellationToken);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        await SeedAsync(connection, transaction, seed);
        await connection.ExecuteAsync("INSERT INTO lab_meta (key, value) VALUES ('seed', @fingerprint)",
            new { fingerprint }, transaction);
        await transaction.CommitAsync(cancellationToken);
        logger.LogInformation("Seeded {Products} products, {Customers} customers, {Orders} historical orders in {Elapsed:0.0} s",
            seed.Products, seed.Customers, seed.HistoricalOrders, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private static async Task SeedAsync(DbConnection connection, DbTransaction transaction, SeedOptions seed)
    {
        var random = new Random(seed.RandomSeed);
        var prices = new long[seed.Products + 1];

        await using (var product = Prepare(connection, transaction,
            "INSERT INTO products (sku, name, category, price_cents, description, popularity_rank) VALUES ($1, $2, $3, $4, $5, $6)", 6))
        await using (var stock = Prepare(connection, transaction,
            "INSERT INTO inventory (sku, initial_stock, available, reserved, sold, version) VALUES ($1, $2, $2, 0, 0, 0)", 2))
        {
            for (var rank = 1; rank <= seed.Products; rank++)
            {
                var sku = ShopKeys.Sku(rank);
                var name = $"{Adjectives[random.Next(Adjectives.Length)]} {Nouns[random.Next(Nouns.Length)]} {rank}";
                prices[rank] = 199 + random.Next(0, 50_000);
                await Run(product, sku, name, Categories[random.Next(Categories.Length)], prices[rank],
                    $"The {name}, a lab product of popularity rank {rank}.", rank);
                await Run(stock, sku, random.Next(seed.MinStock, Math.Max(seed.MinStock, seed.MaxStock) + 1));
            }
        }

        await using (var customer = Prepare(connection, transaction,
            "INSERT INTO customers (customer_id, name, email) VALUES ($1, $2, $3)", 3))
        {
            for (var id = 1; id <= seed.Customers; id++)
            {
                await Run(customer, id, $"Customer {id}", $"customer{id}@shop.lab");
            }
        }

        if (seed.Products == 0 || seed.Customers == 0)
        {
            return;
        }

        var products = new Zipf(seed.Products, seed.ZipfExponent);
        var customers = new Zipf(seed.Customers, seed.ZipfExponent);
        var epoch = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        await using var order = Prepare(connection, transaction,
            "INSERT INTO orders (order_id, customer_id, status, total_cents, failure_reason, payment_id, created_at, updated_at, last_sequence) VALUES ($1, $2, $3, $4, $5, NULL, $6, $6, $7)", 7);
        await using var line = Prepare(connection, transaction,
            "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_cents) VALUES ($1, $2, $3, $4, $5)", 5);
        await using var view = Prepare(connection, transaction,
            "INSERT INTO order_status_view (order_id, status, last_sequence, events_applied, updated_at) VALUES ($1, $2, $3, $3, $4)", 4);
        var guidBytes = new byte[16];
        for (var i = 0; i < seed.HistoricalOrders; i++)
        {
            random.NextBytes(guidBytes);
            var orderId = new Guid(guidBytes).ToString();
            var createdAt = epoch + (long)i * 60_000 + random.Next(0, 60_000);
            var lineCount = 1 + random.Next(0, 4);
            long total = 0;
            for (var lineNo = 1; lineNo <= lineCount; lineNo++)
            {
                var rank = products.Next(random);
                var quantity = 1 + random.Next(0, 3);
                total += prices[rank] * quantity;
                await Run(line, orderId, lineNo, ShopKeys.Sku(rank), quantity, prices[rank]);
            }

            // Historical orders went through the whole saga: placed, reserved, paid, confirmed, then shipped or cancelled.
            var cancelled = random.Next(0, 20) == 0;
            var status = cancelled ? OrderStatus.Cancelled : OrderStatus.Shipped;
            var sequence = cancelled ? 2 : 5;
            await Run(order, orderId, customers.Next(random), status.ToString(), total,
                cancelled ? (object)"out of stock" : DBNull.Value, createdAt, sequence);
            await Run(view, orderId, status.ToString(), sequence, createdAt);
        }
    }

    private static DbCommand Prepare(DbConnection connection, DbTransaction transaction, string sql, int parameterCount)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        for (var i = 1; i <= parameterCount; i++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = $"${i}";
            command.Parameters.Add(parameter);
        }

        command.Prepare();
        return command;
    }

    private static Task<int> Run(DbCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }

        return command.ExecuteNonQueryAsync();
    }
}
