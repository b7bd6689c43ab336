using System.ComponentModel.DataAnnotations;

namespace Lab.Grains;

/// <summary>Knobs of the shop's grains.</summary>
public sealed class ShopOptions
{
    public const string Section = "Shop";

    /// <summary>How long reserved stock is held for an order before it returns to the shelf.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan ReservationTtl { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a product stays in the product cache before it is loaded again.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ProductCacheTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often an inventory grain with open reservations looks for expired ones.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan ReservationSweepInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long an order may sit mid-saga untouched before a silo presumes its saga died with its silo and
    /// reactivates the order grain, which resumes it; and how long an order event may wait in the outbox for its
    /// consumers before the order publishes it again. Longer than any live saga step takes and than consumers lag, and
    /// well within ReservationTtl (a paid order's missing reservation is then taken as committed).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan OrderRecoveryAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long the order projection waits for a missing event before it applies the later ones it holds. Longer than
    /// events are ever delayed on the stream; a lost event then costs this much staleness, not a stalled view.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan ProjectionGapTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often the order projection tries an event that fails before it parks it as a dead letter and goes on with the
    /// order's later events (an event that can never be processed must not hold the others back).
    /// </summary>
    [Range(1, 100)]
    public int MaxEventAttempts { get; set; } = 3;

    /// <summary>The pause between two tries of an event that failed.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan EventRetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How often each silo prunes the outbox and looks for orders left mid-saga or with unacknowledged events.</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "01:00:00")]
    public TimeSpan OrderRecoveryInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Subscribers of the order feed (partner systems that want every order event), numbered from 1.</summary>
    [Range(0, 2000)]
    public int OrderFeedSubscribers { get; set; } = 8;

    /// <summary>How long the order feed gathers events before it delivers them to each subscriber as one batch.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan OrderFeedWindow { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Deliveries to subscribers the order feed of one silo has in flight at most.</summary>
    [Range(1, 256)]
    public int OrderFeedConcurrency { get; set; } = 4;

    /// <summary>Best sellers whose product and inventory grains a silo loads after it starts, before it reports ready.</summary>
    [Range(0, 10_000)]
    public int WarmUpProducts { get; set; } = 20;

    /// <summary>How long a warm-up may take at most; a silo that has not finished by then reports ready all the same.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan WarmUpTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Where the payment provider is and how long the shop waits for it.</summary>
public sealed class PaymentsClientOptions
{
    public const string Section = "Payments";

    [Required, Url]
    public string BaseUrl { get; set; } = "http://127.0.0.1:5200";

    [Range(typeof(TimeSpan), "00:00:00.050", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    [Required, StringLength(3, MinimumLength = 3)]
    public string Currency { get; set; } = "EUR";

    /// <summary>The shop's API key at payments (its entry "shop" in payments' Payments:ApiKeys), sent as a bearer token.</summary>
    [Required, MinLength(16)]
    public string ApiKey { get; set; } = "";
}
