using System.ComponentModel.DataAnnotations;

namespace Lab.Payments;

/// <summary>How the payment provider behaves. Section "Payments".</summary>
public sealed class PaymentsOptions
{
    public const string Section = "Payments";

    /// <summary>
    /// How long the provider takes to authorise a charge with the card network before it records it, as real providers
    /// do (tens of milliseconds): the latency a caller's timeout has to be measured against.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan AuthorisationTime { get; set; } = TimeSpan.FromMilliseconds(20);
}
