using Lab.Load.Plan;
using Lab.Load.Reporting;

namespace Lab.Load.Tests;

public sealed class ThresholdTests
{
    [Theory]
    [InlineData("p99<250ms", ThresholdMetric.P99, ThresholdOperator.Less, 250)]
    [InlineData("p50 <= 2s", ThresholdMetric.P50, ThresholdOperator.LessOrEqual, 2000)]
    [InlineData("p90<800us", ThresholdMetric.P90, ThresholdOperator.Less, 0.8)]
    [InlineData("p99.9<1s", ThresholdMetric.P999, ThresholdOperator.Less, 1000)]
    [InlineData("max<5s", ThresholdMetric.Max, ThresholdOperator.Less, 5000)]
    [InlineData("errors<1%", ThresholdMetric.Errors, ThresholdOperator.Less, 0.01)]
    [InlineData("errors<0.05", ThresholdMetric.Errors, ThresholdOperator.Less, 0.05)]
    [InlineData("rate>400/s", ThresholdMetric.Rate, ThresholdOperator.Greater, 400)]
    [InlineData("rate>=60/m", ThresholdMetric.Rate, ThresholdOperator.GreaterOrEqual, 1)]
    public void Thresholds_parse(string text, ThresholdMetric metric, ThresholdOperator op, double limit)
    {
        var t = Threshold.Parse(text);
        Assert.Equal(metric, t.Metric);
        Assert.Equal(op, t.Operator);
        Assert.Equal(limit, t.Limit, 9);
        Assert.Null(t.Journey);
    }

    [Fact]
    public void Scoped_thresholds_name_a_journey_or_a_step()
    {
        var journey = Threshold.Parse("checkout:p99<1s");
        Assert.Equal("checkout", journey.Journey);
        Assert.Null(journey.Step);

        var step = Threshold.Parse("browse/search:errors<2%");
        Assert.Equal(("browse", "search"), (step.Journey, step.Step));
        Assert.Equal(0.02, step.Limit, 9);
    }

    [Theory]
    [InlineData("p99 below 250ms")]
    [InlineData("p98<1s")]
    [InlineData("errors<1ms")]
    [InlineData("p99<5%")]
    [InlineData("rate>5ms")]
    public void Bad_thresholds_are_usage_errors(string text)
    {
        var e = Assert.Throws<LoadException>(() => Threshold.Parse(text));
        Assert.Equal(LoadExitCodes.UsageError, e.ExitCode);
        Assert.Contains("threshold", e.Message);
    }

    [Fact]
    public void Evaluation_compares_in_the_thresholds_units_and_fails_without_data()
    {
        var stats = new StatsReport(1000, 50, 20, 0.02, new LatencyReport(10, 20, 25, 40, 90, 120, 12), new Dictionary<string, long>(), new Dictionary<string, long>());
        var journeys = new List<JourneyReport> { new("browse", stats, stats, [new StepReport("search", stats)]) };

        Assert.True(ReportBuilder.Evaluate(Threshold.Parse("p99<50ms"), stats, journeys).Passed);
        Assert.False(ReportBuilder.Evaluate(Threshold.Parse("p99<0.03s"), stats, journeys).Passed);
        var errors = ReportBuilder.Evaluate(Threshold.Parse("errors<1%"), stats, journeys);
        Assert.False(errors.Passed);
        Assert.Equal("2%", errors.ActualText);
        Assert.True(ReportBuilder.Evaluate(Threshold.Parse("rate>=50/s"), stats, journeys).Passed);
        Assert.True(ReportBuilder.Evaluate(Threshold.Parse("browse/search:max<=120ms"), stats, journeys).Passed);
        Assert.True(ReportBuilder.Evaluate(Threshold.Parse("p95<26ms"), stats, journeys).Passed);

        var none = ReportBuilder.Evaluate(Threshold.Parse("cart:p99<1s"), stats, journeys);
        Assert.False(none.Passed);
        Assert.Equal("no data", none.ActualText);
    }
}
