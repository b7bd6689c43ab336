using System.Globalization;

namespace Lab.Scenarios;

/// <summary>
/// Parses parameter text into typed values. One format per type, shared by validation (control plane)
/// and by the accessors scenarios use at run time, so what was accepted is exactly what is applied.
/// </summary>
public static class ParameterParser
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static bool TryParseDuration(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var s = text.Trim().ToLowerInvariant();
        (string suffix, double ticksPerUnit)[] units =
        [
            ("ms", TimeSpan.TicksPerMillisecond),
            ("us", TimeSpan.TicksPerMicrosecond),
            ("s", TimeSpan.TicksPerSecond),
            ("m", TimeSpan.TicksPerMinute),
            ("h", TimeSpan.TicksPerHour),
        ];
        foreach (var (suffix, ticksPerUnit) in units)
        {
            if (!s.EndsWith(suffix, StringComparison.Ordinal))
            {
                continue;
            }

            var number = s[..^suffix.Length];
            if (double.TryParse(number, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, Inv, out var n) && double.IsFinite(n) && Math.Abs(n * ticksPerUnit) < TimeSpan.MaxValue.Ticks)
            {
                value = TimeSpan.FromTicks((long)Math.Round(n * ticksPerUnit));
                return true;
            }

            return false;
        }

        return false;
    }

    public static bool TryParseBytes(string? text, out long value)
    {
        value = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var s = text.Trim().ToUpperInvariant();
        (string suffix, long factor)[] units =
        [
            ("KIB", 1L << 10), ("MIB", 1L << 20), ("GIB", 1L << 30),
            ("KB", 1L << 10), ("MB", 1L << 20), ("GB", 1L << 30),
            ("K", 1L << 10), ("M", 1L << 20), ("G", 1L << 30),
            ("B", 1),
        ];
        long multiplier = 1;
        foreach (var (suffix, factor) in units)
        {
            if (s.EndsWith(suffix, StringComparison.Ordinal))
            {
                s = s[..^suffix.Length].TrimEnd();
                multiplier = factor;
                break;
            }
        }

        if (!double.TryParse(s, NumberStyles.AllowDecimalPoint, Inv, out var n) || !double.IsFinite(n) || n * multiplier > long.MaxValue)
        {
            return false;
        }

        value = (long)Math.Round(n * multiplier);
        return true;
    }

    /// <summary>"25%" means 0.25; a bare number is already a fraction ("0.25").</summary>
    public static bool TryParsePercent(string? text, out double fraction)
    {
        fraction = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var s = text.Trim();
        var isPercent = s.EndsWith('%');
        if (isPercent)
        {
            s = s[..^1].TrimEnd();
        }

        if (!double.TryParse(s, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, Inv, out var n) || !double.IsFinite(n))
        {
            return false;
        }

        fraction = isPercent ? n / 100 : n;
        return true;
    }

    public static bool TryParseInt(string? text, out long value) =>
        long.TryParse(text?.Trim(), NumberStyles.AllowLeadingSign, Inv, out value);

    public static bool TryParseDouble(string? text, out double value) =>
        double.TryParse(text?.Trim(), NumberStyles.Float, Inv, out value) && double.IsFinite(value);

    public static bool TryParseBool(string? text, out bool value)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "true" or "1" or "yes" or "on":
                value = true;
                return true;
            case "false" or "0" or "no" or "off":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    /// <summary>
    /// Parses <paramref name="text"/> as <paramref name="type"/> into a number on one comparable scale
    /// (ticks, bytes, fraction, the number itself) so Min/Max/caps checks are one comparison.
    /// </summary>
    public static bool TryParseComparable(ParameterType type, string? text, out double comparable)
    {
        comparable = 0;
        switch (type)
        {
            case ParameterType.Int when TryParseInt(text, out var i):
                comparable = i;
                return true;
            case ParameterType.Double when TryParseDouble(text, out var d):
                comparable = d;
                return true;
            case ParameterType.Duration when TryParseDuration(text, out var t):
                comparable = t.Ticks;
                return true;
            case ParameterType.Percent when TryParsePercent(text, out var p):
                comparable = p;
                return true;
            case ParameterType.Bytes when TryParseBytes(text, out var b):
                comparable = b;
                return true;
            default:
                return false;
        }
    }

    /// <summary>How a user should write a value of this type; used in error messages.</summary>
    public static string Expectation(ParameterType type) => type switch
    {
        ParameterType.Int => "a whole number, e.g. 3",
        ParameterType.Double => "a number, e.g. 1.5",
        ParameterType.Duration => "a duration with a unit, e.g. 250ms, 2s, 5m",
        ParameterType.Bool => "true or false",
        ParameterType.String => "text",
        ParameterType.Enum => "one of the allowed values",
        ParameterType.Percent => "a rate, e.g. 25% or 0.25",
        ParameterType.Bytes => "a size, e.g. 512KB, 64MB, 1GB",
        _ => type.ToString(),
    };

    public static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 when bytes % (1L << 30) == 0 => $"{bytes >> 30}GB",
        >= 1L << 20 when bytes % (1L << 20) == 0 => $"{bytes >> 20}MB",
        >= 1L << 10 when bytes % (1L << 10) == 0 => $"{bytes >> 10}KB",
        _ => bytes.ToString(Inv) + "B",
    };
}
