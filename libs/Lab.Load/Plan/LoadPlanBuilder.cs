using Lab.Load.Journeys;

namespace Lab.Load.Plan;

/// <summary>The command line's raw values; <see cref="LoadPlanBuilder.Build"/> checks and turns them into a plan.</summary>
public sealed record LoadArguments
{
    public string? Target { get; init; }

    public string? Rate { get; init; }

    public string? Ramp { get; init; }

    public int? Users { get; init; }

    public string? Think { get; init; }

    public string? Duration { get; init; }

    public string? Mix { get; init; }

    public string? Preset { get; init; }

    /// <summary>Each mark as its words ("20s", "enable", "NAME") and the --set pairs that followed it.</summary>
    public IReadOnlyList<(IReadOnlyList<string> Words, IReadOnlyList<string> Settings)> Marks { get; init; } = [];

    public IReadOnlyList<string> Thresholds { get; init; } = [];

    public string? Token { get; init; }

    public int? Seed { get; init; }

    public int? MaxInFlight { get; init; }

    public int? Slowest { get; init; }

    public string? AspireUrl { get; init; }

    public string? JaegerUrl { get; init; }

    public string? Timeout { get; init; }

    public string? WarmUp { get; init; }

    public string? Transport { get; init; }
}

/// <summary>Builds a <see cref="LoadPlan"/> from command-line text, with a clear message for every mistake.</summary>
public static class LoadPlanBuilder
{
    public const double DefaultRate = 100;
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(30);

    /// <exception cref="LoadException">Something in <paramref name="args"/> is invalid.</exception>
    public static LoadPlan Build(LoadArguments args, JourneyCatalog? catalog = null)
    {
        catalog ??= JourneyCatalog.Shop;
        var target = ParseTarget(args.Target ?? "http://127.0.0.1:5100");
        var duration = args.Duration is null ? DefaultDuration : LoadSyntax.ParseDuration(args.Duration, "--duration");
        if (duration <= TimeSpan.Zero)
        {
            throw LoadException.Usage($"Invalid --duration '{args.Duration}': it must be positive, e.g. 30s.");
        }

        if (args.Rate is not null && args.Ramp is not null)
        {
            throw LoadException.Usage("Use either --rate (constant) or --ramp (from:to), not both.");
        }

        if (args.Users is not null && (args.Rate is not null || args.Ramp is not null))
        {
            throw LoadException.Usage("Use either --rate/--ramp (open model: arrivals per second) or --users (closed model: virtual users), not both.");
        }

        if (args.Think is not null && args.Users is null)
        {
            throw LoadException.Usage("--think only applies to the closed model; add --users N.");
        }

        LoadModel model;
        if (args.Users is { } users)
        {
            if (users < 1)
            {
                throw LoadException.Usage($"Invalid --users {users}: give at least 1.");
            }

            var think = args.Think is null ? TimeSpan.Zero : LoadSyntax.ParseDuration(args.Think, "--think");
            model = new ClosedModel(users, think);
        }
        else if (args.Ramp is not null)
        {
            var (start, end) = LoadSyntax.ParseRamp(args.Ramp);
            model = new OpenModel(start, end);
        }
        else
        {
            model = OpenModel.Constant(args.Rate is null ? DefaultRate : LoadSyntax.ParseRate(args.Rate, "--rate"));
        }

        if (args.Mix is not null && args.Preset is not null)
        {
            throw LoadException.Usage("Use either --mix or --preset, not both.");
        }

        var mix = args.Mix is not null ? JourneyMix.Parse(args.Mix, catalog.Names)
            : args.Preset is not null ? JourneyMix.Preset(args.Preset)
            : JourneyMix.Default;

        if (args.MaxInFlight is < 1)
        {
            throw LoadException.Usage($"Invalid --max-in-flight {args.MaxInFlight}: give at least 1.");
        }

        if (args.Slowest is < 0)
        {
            throw LoadException.Usage($"Invalid --slowest {args.Slowest}: give 0 or more.");
        }

        var plan = new LoadPlan
        {
            Target = target,
            Model = model,
            Duration = duration,
            Mix = mix,
            Timeline = args.Marks.Select(m => LoadSyntax.ParseTimelineMark(m.Words, m.Settings)).OrderBy(m => m.At).ToList(),
            Thresholds = args.Thresholds.Select(Threshold.Parse).ToList(),
            Seed = args.Seed ?? Random.Shared.Next(1, int.MaxValue),
            ControlToken = args.Token,
        };
        plan = plan with
        {
            MaxInFlight = args.MaxInFlight ?? plan.MaxInFlight,
            SlowestCount = args.Slowest ?? plan.SlowestCount,
            AspireUrl = args.AspireUrl ?? plan.AspireUrl,
            JaegerUrl = args.JaegerUrl ?? plan.JaegerUrl,
            Transport = args.Transport?.ToLowerInvariant() switch
            {
                null or "auto" => TransportKind.Auto,
                "raw" => TransportKind.Raw,
                "httpclient" => TransportKind.HttpClient,
                _ => throw LoadException.Usage($"Invalid --transport '{args.Transport}': use auto, raw or httpclient."),
            },
            WarmUp = args.WarmUp is null ? TimeSpan.Zero : LoadSyntax.ParseDuration(args.WarmUp, "--warmup"),
            RequestTimeout = args.Timeout is null ? plan.RequestTimeout : LoadSyntax.ParseDuration(args.Timeout, "--timeout"),
        };

        // Same checks the runner makes, so mistakes surface before anything is sent.
        Engine.LoadRunner.Validate(plan, catalog);
        return plan;
    }

    private static Uri ParseTarget(string text)
    {
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            return uri;
        }

        throw LoadException.Usage($"Invalid --target '{text}': use an http:// URL, e.g. http://127.0.0.1:5100.");
    }
}
