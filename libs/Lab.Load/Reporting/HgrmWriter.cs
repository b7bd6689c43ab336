using System.Diagnostics;
using HdrHistogram;

namespace Lab.Load.Reporting;

/// <summary>The standard HdrHistogram percentile distribution (.hgrm), values in milliseconds.</summary>
public static class HgrmWriter
{
    public static string Write(HistogramBase histogram)
    {
        using var writer = new StringWriter();
        Write(histogram, writer);
        return writer.ToString();
    }

    public static void Write(HistogramBase histogram, TextWriter writer) =>
        histogram.OutputPercentileDistribution(writer, outputValueUnitScalingRatio: Stopwatch.Frequency / 1000.0);
}
