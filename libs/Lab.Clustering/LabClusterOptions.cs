using System.ComponentModel.DataAnnotations;

namespace Lab.Clustering;

/// <summary>
/// How this process joins the lab's Orleans cluster (section "Orleans"): localhost clustering on fixed loopback ports,
/// or the ADO.NET membership table in PostgreSQL. Silos use the silo fields, clients the gateway list; both the rest.
/// </summary>
public sealed class LabClusterOptions : IValidatableObject
{
    public const string Section = "Orleans";

    [Required]
    public string ClusterId { get; set; } = "lab";

    [Required]
    public string ServiceId { get; set; } = "lab-shop";

    /// <summary>Localhost (default) or AdoNet (membership in PostgreSQL).</summary>
    [EnumDataType(typeof(ClusteringMode))]
    public ClusteringMode Clustering { get; set; } = ClusteringMode.Localhost;

    /// <summary>PostgreSQL connection string of the membership table; default: Database:ConnectionString.</summary>
    public string? ClusteringConnectionString { get; set; }

    /// <summary>How long a grain call waits for its response before it fails with a TimeoutException (the storefront answers 504).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Silo: its silo-to-silo port.</summary>
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>Silo: the port clients connect to.</summary>
    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Silo, localhost clustering: silo-to-silo port of the primary silo, which every other silo joins through.</summary>
    [Range(1, 65535)]
    public int PrimarySiloPort { get; set; } = 11111;

    /// <summary>Silo: host name or IP this silo advertises to the others (resolved at start), e.g. its container name.</summary>
    [Required]
    public string AdvertisedHost { get; set; } = "127.0.0.1";

    /// <summary>Client, localhost clustering: the silos' gateway ports on loopback.</summary>
    [MinLength(1)]
    public int[] GatewayPorts { get; set; } = [30000];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Clustering == ClusteringMode.AdoNet && string.IsNullOrWhiteSpace(ClusteringConnectionString))
        {
            yield return new ValidationResult("Orleans:Clustering=AdoNet needs Orleans:ClusteringConnectionString or Database:ConnectionString.",
                [nameof(ClusteringConnectionString)]);
        }
    }
}
