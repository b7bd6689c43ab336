using System.Globalization;
using System.Text.RegularExpressions;

namespace Lab.Load.Plan;

public enum ThresholdMetric
{
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    Mean,

    /// <summary>Failed requests as a fraction of all requests (0..1).</summary>
    Errors,

    /// <summary>Completed requests per second.</summary>
    Rate,
}

public enum ThresholdOperator
{
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// <summary>
/// A pass/fail condition on the run, e.g. <c>p99&lt;250ms</c>, <c>errors&lt;1%</c>, <c>rate&gt;400/s</c>.
/// An optional scope narrows it to a journey or a step: <c>checkout:p99&lt;500ms</c>, <c>checkout/checkout:errors&lt;5%</c>.
/// Latencies are in milliseconds, errors a fraction, rate per second.
/// </summary>
public sealed partial record Threshold(string Expression, string? Journey, string? Step, ThresholdMetric Metric, ThresholdOperator Operator, double Limit)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Threshold Parse(string text)
    {
        var expression = text.Trim();
        var m = Pattern().Match(expression.ToLowerInvariant());
        if (!m.Success)
        {
            throw LoadException.Usage(
                $"Invalid threshold '{text}': use METRIC OP VALUE with METRIC one of p50, p90, p95, p99, p99.9, max, mean, errors, rate; " +
                "e.g. \"p99<250ms\", \"errors<1%\", \"rate>400/s\", \"checkout:p99<500ms\".");
        }

        var metric = m.Groups["metric"].Value switch
        {
            "p50" or "median" => ThresholdMetric.P50,
            "p90" => ThresholdMetric.P90,
            "p95" => ThresholdMetric.P95,
            "p99" => ThresholdMetric.P99,
            "p99.9" or "p999" => ThresholdMetric.P999,
            "max" => ThresholdMetric.Max,
            "mean" or "avg" => ThresholdMetric.Mean,
            "errors" or "error_rate" => ThresholdMetric.Errors,
            _ => ThresholdMetric.Rate,
        };
        var op = m.Groups["op"].Value switch
        {
            "<" => ThresholdOperator.Less,
            "<=" => ThresholdOperator.LessOrEqual,
            ">" => ThresholdOperator.Greater,
            _ => ThresholdOperator.GreaterOrEqual,
        };
        var number = double.Parse(m.Groups["value"].Value, Inv);
        var unit = m.Groups["unit"].Value;
        var limit = metric switch
        {
            ThresholdMetric.Errors => unit switch
            {
                "%" => number / 100,
                "" => number,
                _ => throw BadUnit(text, unit, "% (or a fraction)"),
            },
            ThresholdMetric.Rate => unit switch
            {
                "" or "/s" or "rps" => number,
                "/m" or "/min" => number / 60,
                _ => throw BadUnit(text, unit, "/s"),
            },
            _ => unit switch
            {
                "ms" or "" => number,
                "s" => number * 1000,
                "us" or "µs" => number / 1000,
                _ => throw BadUnit(text, unit, "ms, s or us"),
            },
        };

        var journey = m.Groups["journey"].Success ? m.Groups["journey"].Value : null;
        var step = m.Groups["step"].Success ? m.Groups["step"].Value : null;
        return new Threshold(expression, journey, step, metric, op, limit);
    }

    public bool IsMetBy(double actual) => Operator switch
    {
        ThresholdOperator.Less => actual < Limit,
        ThresholdOperator.LessOrEqual => actual <= Limit,
        ThresholdOperator.Greater => actual > Limit,
        _ => actual >= Limit,
    };

    /// <summary>The actual value in the threshold's own unit, for messages ("312.4ms", "2.31%", "388.2/s").</summary>
    public string FormatValue(double value) => Metric switch
    {
        ThresholdMetric.Errors => $"{(value * 100).ToString("0.###", Inv)}%",
        ThresholdMetric.Rate => $"{value.ToString("0.#", Inv)}/s",
        _ => $"{value.ToString("0.###", Inv)}ms",
    };

    private static LoadException BadUnit(string text, string unit, string expected) =>
        LoadException.Usage($"Invalid threshold '{text}': unit '{unit}' does not fit this metric; use {expected}.");

    [GeneratedRegex(@"^(?:(?<journey>[a-z][a-z0-9-]*)(?:/(?<step>[a-z][a-z0-9-]*))?\s*:\s*)?(?<metric>p50|median|p90|p95|p99\.9|p999|p99|max|mean|avg|errors|error_rate|rate)\s*(?<op><=|>=|<|>)\s*(?<value>\d+(?:\.\d+)?)\s*(?<unit>ms|s|us|µs|%|/s|/m|/min|rps)?$")]
    private static partial Regex Pattern();
}
