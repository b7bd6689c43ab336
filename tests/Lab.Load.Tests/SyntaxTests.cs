using Lab.Load.Journeys;
using Lab.Load.Plan;

namespace Lab.Load.Tests;

public sealed class SyntaxTests
{
    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("2m", 120_000)]
    [InlineData("500ms", 500)]
    [InlineData("1m30s", 90_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("45", 45_000)]
    public void Durations_parse(string text, double milliseconds) =>
        Assert.Equal(milliseconds, LoadSyntax.ParseDuration(text).TotalMilliseconds, 3);

    [Theory]
    [InlineData("30 seconds")]
    [InlineData("abc")]
    [InlineData("-5s")]
    [InlineData("")]
    public void Bad_durations_say_what_to_write(string text)
    {
        var e = Assert.Throws<LoadException>(() => LoadSyntax.ParseDuration(text, "--duration"));
        Assert.Contains("--duration", e.Message);
        Assert.Contains("30s", e.Message);
        Assert.Equal(LoadExitCodes.UsageError, e.ExitCode);
    }

    [Theory]
    [InlineData("500/s", 500)]
    [InlineData("500", 500)]
    [InlineData("6000/m", 100)]
    [InlineData("3600/h", 1)]
    [InlineData("250rps", 250)]
    [InlineData("0.5/s", 0.5)]
    public void Rates_parse(string text, double perSecond) =>
        Assert.Equal(perSecond, LoadSyntax.ParseRate(text), 6);

    [Theory]
    [InlineData("fast")]
    [InlineData("500/d")]
    [InlineData("0/s")]
    [InlineData("-3/s")]
    [InlineData("500/s/s")]
    public void Bad_rates_are_usage_errors_with_an_example(string text)
    {
        var e = Assert.Throws<LoadException>(() => LoadSyntax.ParseRate(text, "--rate"));
        Assert.Contains($"'{text}'", e.Message);
        Assert.Contains("500/s", e.Message);
    }

    [Fact]
    public void Ramps_parse_and_bad_ramps_are_explained()
    {
        Assert.Equal((100.0, 1000.0), LoadSyntax.ParseRamp("100/s:1000/s"));
        Assert.Equal((10.0, 1.0), LoadSyntax.ParseRamp("10/s..1/s"));
        var e = Assert.Throws<LoadException>(() => LoadSyntax.ParseRamp("100/s"));
        Assert.Contains("100/s:1000/s", e.Message);
    }

    [Fact]
    public void Mix_parses_and_rejects_unknown_journeys_and_bad_weights()
    {
        var known = JourneyCatalog.Shop.Names;
        var mix = JourneyMix.Parse("browse=60,cart=25,checkout=10,history=5", known);
        Assert.Equal(["browse", "cart", "checkout", "history"], mix.Weights.Select(w => w.Journey));
        Assert.Equal(100, mix.Weights.Sum(w => w.Weight));

        var unknown = Assert.Throws<LoadException>(() => JourneyMix.Parse("browse=60,shopping=40", known));
        Assert.Contains("Unknown journey 'shopping'", unknown.Message);
        Assert.Contains("browse", unknown.Message);

        Assert.Contains("weight", Assert.Throws<LoadException>(() => JourneyMix.Parse("browse=lots", known)).Message);
        Assert.Contains("positive weight", Assert.Throws<LoadException>(() => JourneyMix.Parse("browse=0", known)).Message);
        Assert.Contains("twice", Assert.Throws<LoadException>(() => JourneyMix.Parse("browse=1,browse=2", known)).Message);
        Assert.Contains("Unknown preset", Assert.Throws<LoadException>(() => JourneyMix.Preset("nope")).Message);
    }

    [Fact]
    public void Timeline_marks_parse_with_their_settings()
    {
        var mark = LoadSyntax.ParseTimelineMark(["20s", "enable", "slow-payments"], ["delay=200ms", "rate=50%"]);
        Assert.Equal(TimeSpan.FromSeconds(20), mark.At);
        Assert.Equal(TimelineAction.Enable, mark.Action);
        Assert.Equal("slow-payments", mark.Scenario);
        Assert.Equal("200ms", mark.Parameters["delay"]);
        Assert.Equal("50%", mark.Parameters["rate"]);

        Assert.Contains("enable' or 'disable", Assert.Throws<LoadException>(() => LoadSyntax.ParseTimelineMark(["20s", "start", "x"], [])).Message);
        Assert.Contains("--at 20s enable NAME", Assert.Throws<LoadException>(() => LoadSyntax.ParseTimelineMark(["20s", "enable"], [])).Message);
        Assert.Contains("key=value", Assert.Throws<LoadException>(() => LoadSyntax.ParseTimelineMark(["1s", "enable", "x"], ["oops"])).Message);
    }

    [Fact]
    public void Plan_builder_rejects_conflicting_models_with_a_clear_message()
    {
        Assert.Contains("not both", Assert.Throws<LoadException>(() => LoadPlanBuilder.Build(new LoadArguments { Rate = "10/s", Users = 5 })).Message);
        Assert.Contains("not both", Assert.Throws<LoadException>(() => LoadPlanBuilder.Build(new LoadArguments { Rate = "10/s", Ramp = "1/s:2/s" })).Message);
        Assert.Contains("--users", Assert.Throws<LoadException>(() => LoadPlanBuilder.Build(new LoadArguments { Think = "1s" })).Message);
        Assert.Contains("--target", Assert.Throws<LoadException>(() => LoadPlanBuilder.Build(new LoadArguments { Target = "127.0.0.1:5100" })).Message);
        Assert.Contains("outside the run", Assert.Throws<LoadException>(() => LoadPlanBuilder.Build(new LoadArguments
        {
            Duration = "10s",
            Marks = [(["20s", "enable", "x"], [])],
        })).Message);
        Assert.Contains("not in the mix", Assert.Throws<LoadException>(() => LoadPlanBuilder.Build(new LoadArguments
        {
            Mix = "browse=1",
            Thresholds = ["checkout:p99<1s"],
        })).Message);
    }

    [Fact]
    public void Plan_builder_defaults_to_the_open_model_and_default_mix()
    {
        var plan = LoadPlanBuilder.Build(new LoadArguments { Seed = 7 });
        Assert.Equal(OpenModel.Constant(LoadPlanBuilder.DefaultRate), plan.Model);
        Assert.Equal(LoadPlanBuilder.DefaultDuration, plan.Duration);
        Assert.Equal(JourneyMix.Default, plan.Mix);
        Assert.Equal(new Uri("http://127.0.0.1:5100"), plan.Target);

        var closed = LoadPlanBuilder.Build(new LoadArguments { Users = 8, Think = "100ms", Preset = "checkout" });
        Assert.Equal(new ClosedModel(8, TimeSpan.FromMilliseconds(100)), closed.Model);
        Assert.Equal("checkout=100", closed.Mix.ToString());
    }
}
