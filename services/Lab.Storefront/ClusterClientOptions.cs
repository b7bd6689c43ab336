using System.ComponentModel.DataAnnotations;

namespace Lab.Storefront;

/// <summary>How the storefront reaches the silos (localhost clustering: the gateway ports).</summary>
public sealed class ClusterClientOptions
{
    public const string Section = "Orleans";

    [Required]
    public string ClusterId { get; set; } = "lab";

    [Required]
    public string ServiceId { get; set; } = "lab-shop";

    [MinLength(1)]
    public int[] GatewayPorts { get; set; } = [30000];

    /// <summary>How long a grain call waits for its response before the storefront answers 504.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
