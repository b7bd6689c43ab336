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

    /// <summary>
    /// The callers payments serves, by name, each with its API key (sent as <c>Authorization: Bearer KEY</c>): the shop,
    /// and whoever else may charge or refund directly (the launcher adds an "operator" key for people and tests).
    /// Every charge and refund records the caller's name, so `lab verify` tells the shop's from the others.
    /// </summary>
    public Dictionary<string, string> ApiKeys { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The shortest API key taken: a key is a secret, not a password someone types.</summary>
    public const int MinKeyLength = 16;
}
