using System.Globalization;
using Orleans.Runtime;

namespace Lab.Shop;

/// <summary>
/// The deadline of the call being served: set by the edge in Orleans' RequestContext (which flows with every grain
/// call made while serving it) and carried to HTTP services in the <see cref="Header"/> header as Unix milliseconds.
/// </summary>
public static class CallDeadline
{
    public const string Header = "Lab-Deadline";
    private const string ContextKey = "lab-deadline";

    // The longest delay CancelAfter takes (uint.MaxValue - 1 milliseconds).
    private static readonly TimeSpan MaxTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1.0);

    /// <summary>Sets the deadline for the grain calls this async flow makes from now on.</summary>
    public static void Set(DateTimeOffset deadline) => RequestContext.Set(ContextKey, deadline.ToUnixTimeMilliseconds());

    /// <summary>The deadline of the current grain call, if its caller set one.</summary>
    public static DateTimeOffset? Current() =>
        RequestContext.Get(ContextKey) is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    public static string Format(DateTimeOffset deadline) => deadline.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Reads the header: true with null when there is none, true with the deadline when it is Unix milliseconds of a
    /// representable moment, false when it is anything else (the caller answers 400 naming the header).
    /// </summary>
    public static bool TryParse(string? header, out DateTimeOffset? deadline)
    {
        deadline = null;
        if (string.IsNullOrEmpty(header))
        {
            return true;
        }

        if (!long.TryParse(header, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            || ms > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            return false;
        }

        deadline = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        return true;
    }

    /// <summary>True when <paramref name="deadline"/> is set and has passed.</summary>
    public static bool IsSpent(DateTimeOffset? deadline) => deadline is { } d && DateTimeOffset.UtcNow >= d;

    /// <summary>A source cancelled when <paramref name="deadline"/> passes; null when there is none (nothing allocated).</summary>
    public static CancellationTokenSource? Until(DateTimeOffset? deadline, DateTimeOffset now)
    {
        if (deadline is not { } d)
        {
            return null;
        }

        if (d - now > MaxTimer)
        {
            // Further away than a timer reaches (about 49 days): it cannot pass while this call runs.
            return null;
        }

        var source = new CancellationTokenSource();
        if (d > now)
        {
            source.CancelAfter(d - now);
        }
        else
        {
            // Spent already: cancel now. CancelAfter(0) fires on a timer thread a moment later, by which time a fast
            // piece of work (a charge transaction takes a millisecond or two) has finished unchecked.
            source.Cancel();
        }

        return source;
    }
}
