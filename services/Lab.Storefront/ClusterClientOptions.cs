using System.ComponentModel.DataAnnotations;
using Lab.Clustering;

namespace Lab.Storefront;

/// <summary>How the storefront reaches the silos: localhost clustering (the gateway ports) or the gateways listed in
/// the ADO.NET membership table in PostgreSQL.</summary>
public sealed class ClusterClientOptions : IValidatableObject
{
    public const string Section = "Orleans";

    [Required]
    public string ClusterId { get; set; } = "lab";

    [Required]
    public string ServiceId { get; set; } = "lab-shop";

    [MinLength(1)]
    public int[] GatewayPorts { get; set; } = [30000];

    /// <summary>Localhost (default) or AdoNet (membership in PostgreSQL).</summary>
    [EnumDataType(typeof(ClusteringMode))]
    public ClusteringMode Clustering { get; set; } = ClusteringMode.Localhost;

    /// <summary>PostgreSQL connection string of the membership table; default: Database:ConnectionString.</summary>
    public string? ClusteringConnectionString { get; set; }

    /// <summary>How long a grain call waits for its response before the storefront answers 504.</summary>
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
