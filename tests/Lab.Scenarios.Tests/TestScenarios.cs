using Lab.Scenarios;

namespace Lab.Scenarios.Tests;

/// <summary>A process scenario for tests: capped parameters and observable start/stop.</summary>
public sealed class TestHogScenario : Scenario
{
    private static int s_running;

    public static int Running => Volatile.Read(ref s_running);

    public static long RetainedBytes { get; private set; }

    private static byte[][]? s_retained;

    public override ScenarioMeta Meta { get; } = new(
        "test-hog",
        "resources",
        "Retains memory in the targeted process (tests only).",
        [HookPoint.Process],
        [
            ParameterSpec.Bytes("memory", "1MB", "Bytes retained.", min: "0B", cap: ResourceCapKind.MemoryBytes),
            ParameterSpec.Int("threads", 1, "Threads (not started; validates the cap).", min: 0, cap: ResourceCapKind.Threads),
            ParameterSpec.Double("cores", 0.5, "Cores (not used; validates the cap).", min: 0, cap: ResourceCapKind.BusyCores),
            ParameterSpec.Bool("verbose", false, "A flag."),
            ParameterSpec.Enum("mode", "steady", "How it grows.", "steady", "burst"),
        ],
        "Heap grows by the configured bytes.",
        null,
        new Runbook("enable", "look at the heap", "heap metric", "disable"));

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        var bytes = Math.Min(activation.GetBytes("memory"), process.Caps.MaxMemoryBytes);
        s_retained = [new byte[bytes]];
        RetainedBytes = bytes;
        Interlocked.Increment(ref s_running);
        return Task.CompletedTask;
    }

    public override Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        s_retained = null;
        RetainedBytes = 0;
        Interlocked.Decrement(ref s_running);
        return Task.CompletedTask;
    }

    public override void Validate(ScenarioActivation candidate, ResourceCaps caps, ValidationErrors errors)
    {
        if (candidate.GetString("mode") == "burst" && candidate.GetInt("threads") == 0)
        {
            errors.Add("threads", "'burst' mode needs at least one thread.");
        }
    }
}
