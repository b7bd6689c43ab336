using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Lab.Scenarios;

/// <summary>Every knob of the scenario engine, bound from the configuration section "Lab:Scenarios".</summary>
public sealed class LabScenarioOptions
{
    public const string SectionName = "Lab:Scenarios";

    /// <summary>This process's name as targets name it: "silo-1", "storefront", "payments". Required.</summary>
    public string ServiceName { get; set; } = "";

    /// <summary>This process's kind.</summary>
    public ServiceKind ServiceKind { get; set; } = ServiceKind.Other;

    /// <summary>How often <see cref="ScenarioSync"/> polls the snapshot version.</summary>
    public TimeSpan SyncInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>TTL of an activation enabled without one.</summary>
    public TimeSpan DefaultTtl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Longest TTL a request may ask for.</summary>
    public TimeSpan MaxTtl { get; set; } = TimeSpan.FromMinutes(60);

    /// <summary>Most history lines returned by one history request.</summary>
    public int MaxHistoryPage { get; set; } = 1000;

    /// <summary>Hard caps for process-resource scenarios.</summary>
    public ResourceCaps Caps { get; set; } = new();

    /// <summary>Bearer token the control API requires for mutations. Required where the control API is mapped.</summary>
    public string? ControlToken { get; set; }

    /// <summary>Base address of the process serving the control API (the storefront), for HTTP snapshot sync.</summary>
    public Uri? ControlApiUrl { get; set; }

    /// <summary>
    /// Bypass every hook in this process (for measuring the cost of the idle hooks). Read once at start-up from the
    /// environment variable <see cref="ScenarioRuntime.BypassVariable"/>; this option only mirrors it, and start-up
    /// fails if another configuration source disagrees.
    /// </summary>
    public bool Bypass { get; set; }

    /// <summary>This process's name for targeting: Lab:Scenarios:ServiceName, else Lab:ServiceName, else <paramref name="fallback"/>.</summary>
    public void UseServiceName(IConfiguration configuration, string fallback, ServiceKind kind)
    {
        if (string.IsNullOrWhiteSpace(ServiceName))
        {
            ServiceName = configuration["Lab:ServiceName"] ?? fallback;
        }

        ServiceKind = kind;
    }

    public ServiceIdentity Identity => new(ServiceName, ServiceKind);
}

internal sealed class LabScenarioOptionsValidator : IValidateOptions<LabScenarioOptions>
{
    public ValidateOptionsResult Validate(string? name, LabScenarioOptions o)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(o.ServiceName))
        {
            failures.Add($"{LabScenarioOptions.SectionName}:ServiceName is required (e.g. \"silo-1\", \"storefront\", \"payments\").");
        }

        if (o.SyncInterval <= TimeSpan.Zero || o.SyncInterval > TimeSpan.FromSeconds(1))
        {
            failures.Add("SyncInterval must be positive and at most 1s (a change must take effect within one second).");
        }

        if (o.DefaultTtl <= TimeSpan.Zero || o.MaxTtl <= TimeSpan.Zero || o.DefaultTtl > o.MaxTtl)
        {
            failures.Add("DefaultTtl and MaxTtl must be positive, DefaultTtl at most MaxTtl.");
        }

        if (o.MaxHistoryPage <= 0)
        {
            failures.Add("MaxHistoryPage must be positive.");
        }

        if (o.Bypass != ScenarioRuntime.IsBypassed)
        {
            failures.Add($"{LabScenarioOptions.SectionName}:Bypass is {o.Bypass} in the configuration but {ScenarioRuntime.IsBypassed} for the hooks: " +
                         $"it is read once at process start from the environment variable {ScenarioRuntime.BypassVariable}; set it there.");
        }

        var c = o.Caps;
        if (c.MaxMemoryBytes <= 0 || c.MaxDiskBytes <= 0 || c.MaxHandles <= 0 || c.MaxThreads <= 0)
        {
            failures.Add("Caps: MaxMemoryBytes, MaxDiskBytes, MaxHandles and MaxThreads must be positive.");
        }

        if (c.MaxBusyCores <= 0 || c.MaxBusyCores > Environment.ProcessorCount)
        {
            failures.Add($"Caps:MaxBusyCores must be in (0, {Environment.ProcessorCount}] (the machine's cores).");
        }

        if (string.IsNullOrWhiteSpace(c.LabDirectory))
        {
            failures.Add("Caps:LabDirectory is required.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
