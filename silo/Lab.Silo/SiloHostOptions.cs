using System.ComponentModel.DataAnnotations;
using Lab.Clustering;

namespace Lab.Silo;

/// <summary>
/// Where this silo listens and how it finds the cluster: localhost clustering (the primary silo's port) or the
/// ADO.NET membership table in PostgreSQL.
/// </summary>
public sealed class SiloHostOptions : IValidatableObject
{
    public const string Section = "Orleans";

    [Required]
    public string ClusterId { get; set; } = "lab";

    [Required]
    public string ServiceId { get; set; } = "lab-shop";

    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Silo-to-silo port of the primary silo, which every other silo joins through.</summary>
    [Range(1, 65535)]
    public int PrimarySiloPort { get; set; } = 11111;

    /// <summary>Localhost (default) or AdoNet (membership in PostgreSQL).</summary>
    [EnumDataType(typeof(ClusteringMode))]
    public ClusteringMode Clustering { get; set; } = ClusteringMode.Localhost;

    /// <summary>PostgreSQL connection string of the membership table; default: Database:ConnectionString.</summary>
    public string? ClusteringConnectionString { get; set; }

    /// <summary>Host name or IP this silo advertises to the others (resolved at start), e.g. its container name.</summary>
    [Required]
    public string AdvertisedHost { get; set; } = "127.0.0.1";

    /// <summary>How long a grain call waits for its response before it fails with a TimeoutException.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Clustering == ClusteringMode.AdoNet && string.IsNullOrWhiteSpace(ClusteringConnectionString))
        {
            yield return new ValidationResult("Orleans:Clustering=AdoNet needs Orleans:ClusteringConnectionString or Database:ConnectionString.",
                [nameof(ClusteringConnectionString)]);
        }
    }
}
