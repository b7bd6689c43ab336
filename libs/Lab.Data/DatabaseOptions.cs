using System.ComponentModel.DataAnnotations;

namespace Lab.Data;

/// <summary>Where a process's database is and how connections to it behave.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary>Sqlite (the embedded default) or Postgres.</summary>
    [EnumDataType(typeof(DatabaseProvider))]
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>ADO.NET connection string: for SQLite e.g. "Data Source=.lab/data/shop.db", for PostgreSQL
    /// e.g. "Host=127.0.0.1;Username=lab;Password=lab;Database=lab_shop".</summary>
    [Required]
    public string ConnectionString { get; set; } = "";

    /// <summary>How long a writer waits for a lock before failing (SQLite: busy timeout on the write lock,
    /// "database is locked"; PostgreSQL: lock_timeout on row and table locks).</summary>
    [Range(1, 300)]
    public int BusyTimeoutSeconds { get; set; } = 10;

    /// <summary>Connections this process may hold at once; callers beyond it queue for one.</summary>
    [Range(1, 1024)]
    public int MaxConnections { get; set; } = 32;

    /// <summary>How long a caller waits for a free connection before it fails.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:05:00")]
    public TimeSpan ConnectionWaitTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Size and shape of the deterministic seed data.</summary>
public sealed class SeedOptions
{
    public const string Section = "Seed";

    [Range(0, 1_000_000)]
    public int Products { get; set; } = 2_000;

    [Range(0, 1_000_000)]
    public int Customers { get; set; } = 5_000;

    [Range(0, 10_000_000)]
    public int HistoricalOrders { get; set; } = 50_000;

    [Range(0, 10_000_000)]
    public int MinStock { get; set; } = 10_000;

    [Range(0, 10_000_000)]
    public int MaxStock { get; set; } = 20_000;

    /// <summary>Zipf exponent of product and customer popularity; 1.0 gives the classic long tail.</summary>
    [Range(0.0, 5.0)]
    public double ZipfExponent { get; set; } = 1.0;

    /// <summary>Random seed; the same seed gives the same data.</summary>
    public int RandomSeed { get; set; } = 20_261_127;
}
