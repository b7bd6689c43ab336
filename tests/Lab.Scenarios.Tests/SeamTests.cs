using System.Collections.Immutable;
using System.Diagnostics;
using Lab.Scenarios;

namespace Lab.Scenarios.Tests;

/// <summary>
/// Seams: the shop's own variant unless a live activation regresses the seam, for the services and subjects it names;
/// a scenario can regress only the seams its meta declares; parameter names are kebab-case.
/// </summary>
public sealed class SeamTests : IDisposable
{
    private static readonly Seam<string> Loading = new("test-loading", "How the test loads. The shop's own: batched.");
    private static readonly ServiceIdentity Silo1 = new("silo-1", ServiceKind.Silo);
    private static readonly ServiceIdentity Silo2 = new("silo-2", ServiceKind.Silo);

    public SeamTests() => ScenarioRuntime.Clear();

    public void Dispose() => ScenarioRuntime.Clear();

    [Fact]
    public void Idle_the_shop_s_own_variant_is_resolved()
    {
        Assert.Equal("batched", Loading.Resolve(Silo1, "batched"));
        Assert.False(Loading.TryResolveRegressed(Silo1, out _));
    }

    [Fact]
    public void A_live_regression_applies_to_the_targeted_service_and_subjects_only_and_tags_the_span()
    {
        var scenario = new Regressing(declares: true);
        Apply(scenario, new TargetFilter(Service: "silo-1"), TimeSpan.FromMinutes(1));
        using var source = new ActivitySource("seam-test");
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == "seam-test",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        using (var span = source.StartActivity("call"))
        {
            Assert.Equal("one-by-one", Loading.Resolve(Silo1, "batched", subject: "SKU-00001"));
            Assert.Equal("test-regressing", span!.GetTagItem(ScenarioTelemetry.ScenarioTag));
            Assert.Equal("test-loading", span.GetTagItem(ScenarioTelemetry.SeamTag));
        }

        Assert.Equal("batched", Loading.Resolve(Silo1, "batched", subject: "SKU-00999"));
        Assert.Equal("batched", Loading.Resolve(Silo2, "batched", subject: "SKU-00001"));
    }

    [Fact]
    public void An_expired_activation_regresses_nothing()
    {
        Apply(new Regressing(declares: true), TargetFilter.Everywhere, TimeSpan.FromMilliseconds(-1));
        Assert.Equal("batched", Loading.Resolve(Silo1, "batched", subject: "SKU-00001"));
    }

    [Fact]
    public void A_scenario_may_not_regress_a_seam_its_meta_does_not_declare()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Apply(new Regressing(declares: false), TargetFilter.Everywhere, TimeSpan.FromMinutes(1)));
        Assert.Contains("without declaring it", error.Message);
    }

    [Fact]
    public async Task The_control_plane_refuses_a_scenario_that_regresses_an_undeclared_seam_and_keeps_the_set()
    {
        var core = new ScenarioControlCore(new ScenarioRegistry([new Regressing(declares: false)]), new InMemoryScenarioStore(),
            new LabScenarioOptions { ServiceName = "test" }, TimeProvider.System);
        var result = await core.EnableAsync(new ScenarioRequest("test-regressing", ImmutableDictionary<string, string>.Empty,
            ImmutableDictionary<string, string>.Empty, Ttl: "1m", Actor: "test"), default);

        Assert.Equal(ControlOutcome.Invalid, result.Outcome);
        Assert.Contains("without declaring it", Assert.Single(result.Errors!["scenario"]));
        Assert.Empty((await core.GetActiveAsync(default)).Activations);
    }

    [Theory]
    [InlineData("hotSkus")]
    [InlineData("pool_size")]
    [InlineData("Delay")]
    public void The_registry_refuses_a_parameter_name_that_is_not_kebab_case(string name)
    {
        var error = Assert.Throws<InvalidOperationException>(() => new ScenarioRegistry([new Regressing(declares: true, parameter: name)]));
        Assert.Contains("kebab-case", error.Message);
    }

    private static void Apply(Scenario scenario, TargetFilter target, TimeSpan ttl)
    {
        var now = DateTimeOffset.UtcNow;
        var parameters = scenario.Meta.Parameters.ToImmutableDictionary(p => p.Name, p => p.Default);
        var activation = new ScenarioActivation(scenario.Meta.Name, parameters, target, 1, now, now + ttl, 1, "test");
        ScenarioRuntime.Apply(new ActiveScenarioSet(1, [activation]), new ScenarioRegistry([scenario]), TimeProvider.System);
    }

    /// <summary>Regresses the test seam for SKU-00001 (no public parameterless constructor: the registry's scan skips it).</summary>
    private sealed class Regressing(bool declares, string parameter = "hot-skus") : Scenario
    {
        public override ScenarioMeta Meta { get; } = new(
            "test-regressing", "tests", "Regresses a test seam.", [HookPoint.Repository],
            [ParameterSpec.Int(parameter, 1, "Hot SKUs.", min: 0)],
            "The test seam's naive variant.", null, new Runbook("enable", "look", "the seam", "disable"))
        {
            Seams = declares ? [new SeamUse("test-loading", "one-by-one", CureRestores: false)] : [],
        };

        public override void Regress(ScenarioActivation activation, SeamRegressions seams) =>
            seams.Set(Loading, "one-by-one", subject => subject == "SKU-00001");
    }
}
