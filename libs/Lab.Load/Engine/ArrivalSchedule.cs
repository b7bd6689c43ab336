namespace Lab.Load.Engine;

/// <summary>
/// Planned arrival times of the open model. The rate goes linearly from r0 to r1 over T seconds, so the number
/// of arrivals by time t is N(t) = r0·t + (r1−r0)·t²/(2T); arrival i (0-based) is planned where N(t) = i.
/// </summary>
internal sealed class ArrivalSchedule(double startRate, double endRate, double durationSeconds)
{
    private readonly double _slope = durationSeconds > 0 ? (endRate - startRate) / durationSeconds : 0;

    /// <summary>How many arrivals are planned at or before <paramref name="seconds"/>.</summary>
    public long DueBy(double seconds)
    {
        if (seconds < 0)
        {
            return 0;
        }

        var t = Math.Min(seconds, durationSeconds);
        var n = (startRate * t) + (_slope * t * t / 2);
        var due = (long)Math.Floor(n + 1e-9) + 1;

        // Nothing is planned at or after the end of the run.
        return seconds >= durationSeconds ? Math.Min(due, Total) : due;
    }

    /// <summary>All arrivals planned strictly before the end.</summary>
    public long Total
    {
        get
        {
            var n = (startRate * durationSeconds) + (_slope * durationSeconds * durationSeconds / 2);
            var whole = (long)Math.Ceiling(n - 1e-9);
            return Math.Max(whole, 1);
        }
    }

    public double TimeOf(long arrival)
    {
        if (Math.Abs(_slope) < 1e-12)
        {
            return arrival / startRate;
        }

        var discriminant = (startRate * startRate) + (2 * _slope * arrival);
        return discriminant <= 0 ? durationSeconds : (-startRate + Math.Sqrt(discriminant)) / _slope;
    }

    public double RateAt(double seconds) => startRate + (_slope * Math.Clamp(seconds, 0, durationSeconds));
}
