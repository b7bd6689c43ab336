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

    /// <summary>Sets the deadline for the grain calls this async flow makes from now on.</summary>
    public static void Set(DateTimeOffset deadline) => RequestContext.Set(ContextKey, deadline.ToUnixTimeMilliseconds());

    /// <summary>The deadline of the current grain call, if its caller set one.</summary>
    public static DateTimeOffset? Current() =>
        RequestContext.Get(ContextKey) is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    public static string Format(DateTimeOffset deadline) => deadline.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    public static DateTimeOffset? Parse(string? header) =>
        long.TryParse(header, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    /// <summary>True when <paramref name="deadline"/> is set and has passed.</summary>
    public static bool IsSpent(DateTimeOffset? deadline) => deadline is { } d && DateTimeOffset.UtcNow >= d;

    /// <summary>A source cancelled when <paramref name="deadline"/> passes; null when there is none (nothing allocated).</summary>
    public static CancellationTokenSource? Until(DateTimeOffset? deadline, DateTimeOffset now)
    {
        if (deadline is not { } d)
        {
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
