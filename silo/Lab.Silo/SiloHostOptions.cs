using System.ComponentModel.DataAnnotations;

namespace Lab.Silo;

/// <summary>Where this silo listens and how it finds the cluster (localhost clustering: the primary silo's port).</summary>
public sealed class SiloHostOptions
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

    /// <summary>How long a grain call waits for its response before it fails with a TimeoutException.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
