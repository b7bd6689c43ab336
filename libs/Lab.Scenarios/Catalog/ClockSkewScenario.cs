namespace Lab.Scenarios.Catalog;

/// <summary>
/// Shifts one service's wall clock. Acts through <see cref="ScenarioTimeProvider"/>, which the shop
/// injects wherever wall-clock time decides something (reservation expiry, event timestamps).
/// </summary>
public sealed class ClockSkewScenario : Scenario, IClockSkewScenario
{
    public const string Name = "clock-skew";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "time",
        Description: "Shifts the wall clock of the targeted service (ScenarioTimeProvider.GetUtcNow) by a fixed offset; monotonic timestamps and timers are untouched.",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Duration("skew", "-30s", "Offset added to the wall clock (negative: the clock runs behind).", min: "-24h", max: "24h"),
        ],
        Signature: "Timestamps written by the skewed service are off by the skew: reservations expire early or late, and events it stamps go backwards relative to the others.",
        Cure: "Logical clocks or sequence numbers for ordering; server-side (single authority) time for expiry decisions.",
        Runbook: new Runbook(
            Break: "lab scenario enable clock-skew --set skew=-2m --target service=silo-1",
            Hint: "Compare the timestamps of events for one order across services. Do they always move forward?",
            Verify: "Reservations made on silo-1 expire 2 minutes late (or early for a positive skew); order events stamped by silo-1 are 2 minutes behind those of silo-2 in the projection; the process log shows the clock-skew activation for silo-1 only.",
            Restore: "lab scenario disable clock-skew; new timestamps are correct again, records written while skewed stay as written."));

    public TimeSpan GetSkew(ScenarioActivation activation) => activation.GetDuration("skew");

    // One silo's clock, so the orders its grains stamp can be told from the other's.
    public override ExperimentSpec Experiment => ExperimentSpec.Default(this) with
    {
        Mix = "checkout=70,browse=30",
        Target = new Dictionary<string, string> { ["service"] = "silo-1" },
    };

    public override void Validate(ScenarioActivation candidate, ResourceCaps caps, ValidationErrors errors)
    {
        // A lab-wide skew would shift every clock alike and show nothing; insist on one service (or kind).
        if (candidate.Target.Service is null)
        {
            errors.Add("target.service", "clock-skew needs a target service, e.g. --target service=silo-1.");
        }
    }
}
