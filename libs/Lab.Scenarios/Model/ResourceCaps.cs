namespace Lab.Scenarios;

/// <summary>
/// Hard limits for process-resource scenarios. A parameter whose spec names a cap cannot exceed it:
/// the control plane rejects the request, and workers clamp to it again in the process they run in.
/// </summary>
public sealed class ResourceCaps
{
    /// <summary>Most memory a scenario may retain in one process.</summary>
    public long MaxMemoryBytes { get; set; } = 512L << 20;

    /// <summary>Most cores a scenario may keep busy in one process.</summary>
    public double MaxBusyCores { get; set; } = 1;

    /// <summary>Most bytes a scenario may write under <see cref="LabDirectory"/>.</summary>
    public long MaxDiskBytes { get; set; } = 256L << 20;

    /// <summary>Most file or socket handles a scenario may hold open in one process.</summary>
    public int MaxHandles { get; set; } = 1000;

    /// <summary>Most threads a scenario may start or block in one process.</summary>
    public int MaxThreads { get; set; } = 64;

    /// <summary>The only directory resource scenarios write to; created on demand, emptied on deactivation.</summary>
    public string LabDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "lab-scenarios");

    /// <summary>The cap for <paramref name="kind"/> on the scale <see cref="ParameterParser.TryParseComparable"/> uses.</summary>
    public double Limit(ResourceCapKind kind) => kind switch
    {
        ResourceCapKind.MemoryBytes => MaxMemoryBytes,
        ResourceCapKind.BusyCores => MaxBusyCores,
        ResourceCapKind.DiskBytes => MaxDiskBytes,
        ResourceCapKind.Handles => MaxHandles,
        ResourceCapKind.Threads => MaxThreads,
        _ => double.PositiveInfinity,
    };

    public string Describe(ResourceCapKind kind) => kind switch
    {
        ResourceCapKind.MemoryBytes => $"{ParameterParser.FormatBytes(MaxMemoryBytes)} (MaxMemoryBytes)",
        ResourceCapKind.BusyCores => $"{MaxBusyCores} cores (MaxBusyCores)",
        ResourceCapKind.DiskBytes => $"{ParameterParser.FormatBytes(MaxDiskBytes)} (MaxDiskBytes)",
        ResourceCapKind.Handles => $"{MaxHandles} handles (MaxHandles)",
        ResourceCapKind.Threads => $"{MaxThreads} threads (MaxThreads)",
        _ => "none",
    };
}
