namespace Lab.Tests.Support;

/// <summary>
/// A way to see .ci/run's rerun work: with LAB_CI_FLAKE_MARKER set to a file path, the one test that calls
/// <see cref="FailOnce"/> fails the first time (and writes the file) and passes when it runs again. Unset, it does nothing.
/// </summary>
public static class InjectedFlake
{
    public const string Variable = "LAB_CI_FLAKE_MARKER";

    public static void FailOnce()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } marker && !File.Exists(marker))
        {
            File.WriteAllText(marker, DateTimeOffset.UtcNow.ToString("O"));
            Assert.Fail($"failed once on purpose ({Variable}={marker}); its rerun passes");
        }
    }
}
