namespace Lab.Load;

/// <summary>Process exit codes of <c>lab load</c>; scripts and CI branch on them.</summary>
public static class LoadExitCodes
{
    public const int Success = 0;

    /// <summary>The run failed for a reason other than a threshold (e.g. an error while running).</summary>
    public const int RunFailed = 1;

    /// <summary>Bad command line: rate, duration, mix, threshold or timeline syntax.</summary>
    public const int UsageError = 2;

    /// <summary>Nothing answered at the target address.</summary>
    public const int TargetUnreachable = 3;

    /// <summary>The run completed but at least one threshold failed (same code as k6).</summary>
    public const int ThresholdsFailed = 99;

    public const int Cancelled = 130;
}

/// <summary>
/// A problem the user can fix (bad syntax, unknown journey, target down). The message is meant to be
/// printed as is, without a stack trace.
/// </summary>
public sealed class LoadException(string message, int exitCode = LoadExitCodes.UsageError, Exception? innerException = null)
    : Exception(message, innerException)
{
    public int ExitCode { get; } = exitCode;

    internal static LoadException Usage(string message) => new(message, LoadExitCodes.UsageError);
}
