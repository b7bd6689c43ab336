using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Lab.Scenarios;

/// <summary>
/// The lab's own telemetry: every injection tags the current span and counts in a metric, so a user can
/// tell the injected cause from the emergent effect. Register <see cref="MeterName"/> and
/// <see cref="ActivitySourceName"/> with OpenTelemetry.
/// </summary>
public static class ScenarioTelemetry
{
    public const string MeterName = "Lab.Scenarios";
    public const string ActivitySourceName = "Lab.Scenarios";

    /// <summary>Span attribute naming the scenario(s) that perturbed the span's operation.</summary>
    public const string ScenarioTag = "lab.scenario";

    /// <summary>Span event written at each injection; its tags carry the hook and the parameters.</summary>
    public const string InjectedEvent = "lab.scenario.injected";

    public static readonly ActivitySource ActivitySource = new(ActivitySourceName);

    /// <summary>The engine's meter, for the figures a scenario reports of its own work (bytes written, handles held).</summary>
    public static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Injections = Meter.CreateCounter<long>(
        "lab.scenario.injections", unit: "{injection}", description: "Calls perturbed by a scenario, by scenario, hook and service.");

    private static readonly Counter<long> Regressions = Meter.CreateCounter<long>(
        "lab.scenario.seam_regressions", unit: "{call}",
        description: "Calls that ran a scenario's variant of a shop seam instead of the shop's own, by scenario, seam and service.");

    /// <summary>Span attribute naming the seam(s) a scenario regressed for the span's operation.</summary>
    public const string SeamTag = "lab.seam";

    private static readonly string[] HookNames = Enum.GetNames<HookPoint>();

    static ScenarioTelemetry()
    {
        Meter.CreateObservableGauge(
            "lab.scenario.active",
            () => ScenarioRuntime.ActiveCount,
            unit: "{scenario}",
            description: "Scenarios active (not expired) in this process's current snapshot.");

        // One series per active scenario, so dashboards can name what is on and mark when it switched.
        Meter.CreateObservableGauge(
            "lab.scenario.activation",
            () => ScenarioRuntime.LiveNames().Select(name => new Measurement<int>(1, new KeyValuePair<string, object?>("scenario", name))),
            unit: "{scenario}",
            description: "1 for each scenario active (not expired) in this process, by scenario.");
    }

    /// <summary>Creates the instruments (the gauge must exist before the first injection); idempotent.</summary>
    internal static void EnsureRegistered()
    {
        // Calling any static member runs the static constructor exactly once.
    }

    internal static string HookName(HookPoint point) => HookNames[(int)point];

    internal static void RecordProcessStart(ServiceIdentity service, ScenarioActivation activation) =>
        Injections.Add(
            1,
            new KeyValuePair<string, object?>("scenario", activation.Name),
            new KeyValuePair<string, object?>("hook", HookName(HookPoint.Process)),
            new KeyValuePair<string, object?>("service", service.Name));

    internal static void RecordRegression(Seam seam, ServiceIdentity service, ScenarioActivation activation)
    {
        Regressions.Add(
            1,
            new KeyValuePair<string, object?>("scenario", activation.Name),
            new KeyValuePair<string, object?>("seam", seam.Name),
            new KeyValuePair<string, object?>("service", service.Name));
        if (Activity.Current is { } activity)
        {
            AppendTag(activity, ScenarioTag, activation.Name);
            AppendTag(activity, SeamTag, seam.Name);
        }
    }

    private static void AppendTag(Activity activity, string tag, string value)
    {
        var existing = activity.GetTagItem(tag) as string;
        if (existing is null || (existing != value && !existing.Split(',').Contains(value)))
        {
            activity.SetTag(tag, existing is null ? value : $"{existing},{value}");
        }
    }

    /// <summary>The span attribute that holds how long a latency injection delayed the call (summed when several did).</summary>
    public const string DelayTag = "lab.scenario.delay_ms";

    /// <summary>Adds <paramref name="delay"/> to the current span's injected delay, so the cause can be told from the effect.</summary>
    internal static void RecordDelay(TimeSpan delay)
    {
        if (Activity.Current is { } activity)
        {
            var before = activity.GetTagItem(DelayTag) as double? ?? 0;
            activity.SetTag(DelayTag, before + delay.TotalMilliseconds);
        }
    }

    internal static void RecordInjection(HookContext ctx, ScenarioActivation activation)
    {
        var hook = HookName(ctx.Point);
        Injections.Add(
            1,
            new KeyValuePair<string, object?>("scenario", activation.Name),
            new KeyValuePair<string, object?>("hook", hook),
            new KeyValuePair<string, object?>("service", ctx.Service.Name));

        var activity = Activity.Current;
        if (activity is null)
        {
            return;
        }

        AppendTag(activity, ScenarioTag, activation.Name);

        var tags = new ActivityTagsCollection
        {
            [ScenarioTag] = activation.Name,
            ["lab.scenario.hook"] = hook,
            ["lab.scenario.service"] = ctx.Service.Name,
            ["lab.scenario.version"] = activation.Version,
        };
        foreach (var (key, value) in activation.Parameters)
        {
            tags["lab.scenario.param." + key] = value;
        }

        activity.AddEvent(new ActivityEvent(InjectedEvent, tags: tags));
    }
}
