using System.Globalization;
using System.Text.RegularExpressions;

namespace Lab.Load.Plan;

/// <summary>Parsers for the command-line forms of rates, ramps, durations and key=value pairs.</summary>
public static partial class LoadSyntax
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>"500ms", "30s", "2m", "1h", "1m30s"; a bare number means seconds.</summary>
    public static TimeSpan ParseDuration(string text, string what = "duration")
    {
        if (TryParseDuration(text, out var value))
        {
            return value;
        }

        throw LoadException.Usage($"Invalid {what} '{text}': use a number with a unit, e.g. 500ms, 30s, 2m or 1m30s.");
    }

    public static bool TryParseDuration(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var s = text.Trim().ToLowerInvariant();
        if (double.TryParse(s, NumberStyles.AllowDecimalPoint, Inv, out var bare))
        {
            value = TimeSpan.FromSeconds(bare);
            return true;
        }

        var match = DurationPattern().Match(s);
        if (!match.Success)
        {
            return false;
        }

        double ms = 0;
        foreach (Capture part in match.Groups["part"].Captures)
        {
            var m = DurationPart().Match(part.Value);
            var n = double.Parse(m.Groups["n"].Value, Inv);
            ms += m.Groups["u"].Value switch
            {
                "us" or "µs" => n / 1000,
                "ms" => n,
                "s" => n * 1000,
                "m" or "min" => n * 60_000,
                "h" => n * 3_600_000,
                _ => double.NaN,
            };
        }

        if (!double.IsFinite(ms) || ms > TimeSpan.MaxValue.TotalMilliseconds)
        {
            return false;
        }

        value = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    /// <summary>"500/s", "500", "30000/m", "500rps": journeys per second.</summary>
    public static double ParseRate(string text, string what = "rate")
    {
        if (TryParseRate(text, out var rate))
        {
            return rate;
        }

        throw LoadException.Usage($"Invalid {what} '{text}': use requests per time unit, e.g. 500/s, 30000/m or 500 (per second).");
    }

    public static bool TryParseRate(string? text, out double perSecond)
    {
        perSecond = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var m = RatePattern().Match(text.Trim().ToLowerInvariant());
        if (!m.Success || !double.TryParse(m.Groups["n"].Value, NumberStyles.AllowDecimalPoint, Inv, out var n))
        {
            return false;
        }

        perSecond = m.Groups["u"].Value switch
        {
            "" or "/s" or "/sec" or "rps" => n,
            "/m" or "/min" => n / 60,
            "/h" => n / 3600,
            _ => double.NaN,
        };
        return double.IsFinite(perSecond) && perSecond > 0;
    }

    /// <summary>"100/s:1000/s" (also "100/s..1000/s" and "100/s->1000/s").</summary>
    public static (double Start, double End) ParseRamp(string text)
    {
        var parts = text.Split([":", "..", "->"], StringSplitOptions.TrimEntries);
        if (parts.Length == 2 && TryParseRate(parts[0], out var start) && TryParseRate(parts[1], out var end))
        {
            return (start, end);
        }

        throw LoadException.Usage($"Invalid ramp '{text}': use START:END, e.g. 100/s:1000/s.");
    }

    /// <summary>"key=value"; used by <c>--set</c>.</summary>
    public static KeyValuePair<string, string> ParseKeyValue(string text)
    {
        var i = text.IndexOf('=');
        if (i <= 0)
        {
            throw LoadException.Usage($"Invalid setting '{text}': use key=value, e.g. --set delay=200ms.");
        }

        return new(text[..i].Trim(), text[(i + 1)..].Trim());
    }

    /// <summary>"20s enable NAME", "40s disable NAME"; <paramref name="settings"/> are the --set pairs that followed.</summary>
    public static TimelineMark ParseTimelineMark(IReadOnlyList<string> words, IEnumerable<string> settings)
    {
        var text = string.Join(' ', words);
        if (words.Count != 3)
        {
            throw LoadException.Usage($"Invalid --at '{text}': use --at 20s enable NAME [--set k=v] or --at 40s disable NAME.");
        }

        var at = ParseDuration(words[0], "--at offset");
        var action = words[1].ToLowerInvariant() switch
        {
            "enable" or "on" => TimelineAction.Enable,
            "disable" or "off" => TimelineAction.Disable,
            _ => throw LoadException.Usage($"Invalid --at '{text}': the action must be 'enable' or 'disable', not '{words[1]}'."),
        };
        if (!ScenarioName().IsMatch(words[2]))
        {
            throw LoadException.Usage($"Invalid --at '{text}': '{words[2]}' is not a scenario name (kebab-case, e.g. slow-payments).");
        }

        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var setting in settings)
        {
            var kv = ParseKeyValue(setting);
            parameters[kv.Key] = kv.Value;
        }

        if (action == TimelineAction.Disable && parameters.Count > 0)
        {
            throw LoadException.Usage($"Invalid --at '{text}': --set only applies to 'enable'.");
        }

        return new TimelineMark(at, action, words[2], parameters);
    }

    /// <summary>Formats a duration compactly for messages and the control API ("5m", "90s", "250ms").</summary>
    public static string FormatDuration(TimeSpan d)
    {
        if (d.TotalMilliseconds < 1000 || d.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            return $"{d.TotalMilliseconds.ToString("0.###", Inv)}ms";
        }

        if (d.Ticks % TimeSpan.TicksPerMinute == 0)
        {
            return $"{(long)d.TotalMinutes}m";
        }

        return $"{(long)d.TotalSeconds}s";
    }

    public static string FormatRate(double perSecond) => $"{perSecond.ToString("0.##", Inv)}/s";

    [GeneratedRegex(@"^(?<part>\d+(?:\.\d+)?(?:us|µs|ms|min|s|m|h))+$")]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"^(?<n>\d+(?:\.\d+)?)(?<u>us|µs|ms|min|s|m|h)$")]
    private static partial Regex DurationPart();

    [GeneratedRegex(@"^(?<n>\d+(?:\.\d+)?)\s*(?<u>/s|/sec|/m|/min|/h|rps)?$")]
    private static partial Regex RatePattern();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]*$")]
    private static partial Regex ScenarioName();
}
