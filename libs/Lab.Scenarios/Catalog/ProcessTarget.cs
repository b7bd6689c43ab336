using System.Diagnostics;

namespace Lab.Scenarios.Catalog;

/// <summary>
/// Rules shared by scenarios that stop, kill or freeze a whole process: the target names one process, and a process
/// started after the activation (the one the lab started in place of the victim) is left alone.
/// </summary>
public static class ProcessTarget
{
    /// <summary>
    /// Orleans membership that declares a silent silo dead within seconds (probes of a second, two missed, one vote): what
    /// the experiments of these scenarios run with, so the whole failure and recovery fits in a phase.
    /// </summary>
    public static IReadOnlyDictionary<string, string> QuickMembership { get; } = new Dictionary<string, string>
    {
        ["Orleans__Membership__ProbeTimeout"] = "00:00:01",
        ["Orleans__Membership__NumMissedProbesLimit"] = "2",
        ["Orleans__Membership__NumVotesForDeathDeclaration"] = "1",
        ["Shop__OrderRecoveryAfter"] = "00:00:05",
    };

    /// <summary>When this process started, on the control plane's clock (both read the machine's clock).</summary>
    public static DateTimeOffset StartedAt { get; } = new(Process.GetCurrentProcess().StartTime.ToUniversalTime());

    /// <summary>True for the process that was running when <paramref name="activation"/> was made, false for one started since.</summary>
    public static bool WasRunningAt(ScenarioActivation activation) => StartedAt < activation.ActivatedAt;

    /// <summary>Requires a target that names exactly one process of the given kind (e.g. "silo-2"), never a kind or a prefix.</summary>
    public static void RequireOne(ScenarioActivation candidate, ServiceKind kind, ValidationErrors errors)
    {
        var service = candidate.Target.Service;
        var kindName = kind.ToString().ToLowerInvariant();
        if (string.IsNullOrWhiteSpace(service) || service.EndsWith('*') || service.Equals(kindName, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add("target.service", $"'{candidate.Name}' acts on one process: name it, e.g. {{\"service\":\"{kindName}-2\"}} " +
                                         $"(a kind or a prefix would take down every {kindName} at once).");
        }
        else if (!service.StartsWith(kindName, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add("target.service", $"'{candidate.Name}' acts on a {kindName} process, not on '{service}'.");
        }
    }
}
