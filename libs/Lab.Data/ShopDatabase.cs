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
        var dialect = db.Dialect;
        await using var connection = await db.OpenUntracedAsync(cancellationToken);
        await dialect.PrepareDatabaseAsync(connection);

        // The set-up lock (SQLite: BEGIN IMMEDIATE's write lock; PostgreSQL: an advisory lock) makes two silos
        // starting together seed only once.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await dialect.LockForSetupAsync(connection, transaction, "lab.shop.seed");
        await connection.ExecuteAsync(dialect.Ddl(ShopSchema.Create), transaction: transaction);
        await connection.ExecuteAsync(ShopIndexes.CreateAll, transaction: transaction);
        if (!(await connection.QueryAsync<string>(dialect.ColumnsOf("products"), transaction: transaction)).Contains("version", StringComparer.OrdinalIgnoreCase))
        {
            // A database from before products had versions: every product starts at version 1.
            await connection.ExecuteAsync(dialect.Ddl("ALTER TABLE products ADD COLUMN version INTEGER NOT NULL DEFAULT 1"), transaction: transaction);
        }
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
        var data = Generate(seed);
        foreach (var table in data)
        {
            await dialect.BulkInsertAsync(connection, transaction, table.Name, table.Columns, table.Rows, cancellationToken);
        }

        await connection.ExecuteAsync("INSERT INTO lab_meta (key, value) VALUES ('seed', @fingerprint)",
            new { fingerprint }, transaction);
        await transaction.CommitAsync(cancellationToken);
        logger.LogInformation("Seeded {Products} products, {Customers} customers, {Orders} historical orders into {System} in {Elapsed:0.0} s",
            seed.Products, seed.Customers, seed.HistoricalOrders, dialect.SystemName, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>The seed rows, table by table (a bulk load writes one table at a time); the same seed gives the same rows.</summary>
    private static IReadOnlyList<SeedTable> Generate(SeedOptions seed)
    {
        var random = new Random(seed.RandomSeed);
        var prices = new long[seed.Products + 1];
        var products = new SeedTable("products", ["sku", "name", "category", "price_cents", "description", "popularity_rank"]);
        var inventory = new SeedTable("inventory", ["sku", "initial_stock", "available", "reserved", "sold", "version"]);
        var customers = new SeedTable("customers", ["customer_id", "name", "email"]);
        var orders = new SeedTable("orders",
            ["order_id", "customer_id", "status", "total_cents", "failure_reason", "payment_id", "created_at", "updated_at", "last_sequence"]);
        var lines = new SeedTable("order_lines", ["order_id", "line_no", "sku", "quantity", "unit_price_cents"]);
        var views = new SeedTable("order_status_view", ["order_id", "status", "last_sequence", "events_applied", "updated_at"]);
        IReadOnlyList<SeedTable> tables = [products, inventory, customers, orders, lines, views];

        for (var rank = 1; rank <= seed.Products; rank++)
        {
            var sku = ShopKeys.Sku(rank);
            var name = $"{Adjectives[random.Next(Adjectives.Length)]} {Nouns[random.Next(Nouns.Length)]} {rank}";
            prices[rank] = 199 + random.Next(0, 50_000);
            products.Add(sku, name, Categories[random.Next(Categories.Length)], prices[rank],
                $"The {name}, a lab product of popularity rank {rank}.", (long)rank);
            long stock = random.Next(seed.MinStock, Math.Max(seed.MinStock, seed.MaxStock) + 1);
            inventory.Add(sku, stock, stock, 0L, 0L, 0L);
        }

        for (var id = 1; id <= seed.Customers; id++)
        {
            customers.Add((long)id, $"Customer {id}", $"customer{id}@shop.lab");
        }

        if (seed.Products == 0 || seed.Customers == 0)
        {
            return tables;
        }

        var productRanks = new Zipf(seed.Products, seed.ZipfExponent);
        var customerRanks = new Zipf(seed.Customers, seed.ZipfExponent);
        var epoch = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
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
                var rank = productRanks.Next(random);
                long quantity = 1 + random.Next(0, 3);
                total += prices[rank] * quantity;
                lines.Add(orderId, (long)lineNo, ShopKeys.Sku(rank), quantity, prices[rank]);
            }

            // Historical orders went through the whole saga: placed, reserved, paid, confirmed, then shipped or cancelled.
            var cancelled = random.Next(0, 20) == 0;
            var status = (cancelled ? OrderStatus.Cancelled : OrderStatus.Shipped).ToString();
            long sequence = cancelled ? 2 : 5;
            orders.Add(orderId, (long)customerRanks.Next(random), status, total, cancelled ? "out of stock" : null, null,
                createdAt, createdAt, sequence);
            views.Add(orderId, status, sequence, sequence, createdAt);
        }

        return tables;
    }

    private sealed class SeedTable(string name, IReadOnlyList<string> columns)
    {
        private readonly List<object?[]> _rows = [];

        public string Name => name;
        public IReadOnlyList<string> Columns => columns;
        public IReadOnlyList<object?[]> Rows => _rows;

        public void Add(params object?[] values) => _rows.Add(values);
    }
}
