namespace Lab.Shop;

/// <summary>
/// What a restart takes from a process, without killing it: the process registers how its in-memory state is dropped
/// (activations, caches, pooled connections) and warmed again, so the lab can start it cold while it keeps its
/// address, its compiled code and its place in the cluster.
/// </summary>
public static class ProcessRestart
{
    private static volatile Func<CancellationToken, Task>? s_restart;

    /// <summary>Registers this process's restart (the last registration wins; null removes it).</summary>
    public static void Register(Func<CancellationToken, Task>? restart) => s_restart = restart;

    /// <summary>Drops this process's state and warms it as a start would; nothing when the process registered none.</summary>
    public static Task RestartAsync(CancellationToken cancellationToken) =>
        s_restart is { } restart ? restart(cancellationToken) : Task.CompletedTask;
}
