using System.Diagnostics;

namespace Lab.Tests.Support;

/// <summary>Polls a condition with a bounded deadline: for effects that arrive asynchronously (streams, exporters).</summary>
public static class Eventually
{
    /// <summary>
    /// Probes until <paramref name="done"/> holds. A probe that cannot reach its process (refused, reset or timed out: a process
    /// the launcher is restarting, or one at a resource limit) counts as not yet, until the deadline.
    /// </summary>
    public static async Task<T> GetAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        var last = default(T);
        Exception? unreachable = null;
        do
        {
            try
            {
                last = await probe();
                unreachable = null;
                if (done(last))
                {
                    return last;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                unreachable = ex;
            }

            await Task.Delay(100);
        }
        while (clock.Elapsed < timeout);

        throw unreachable is null
            ? new TimeoutException($"Not within {timeout.TotalSeconds:0.#} s: {what}. Last value: {last}")
            : new TimeoutException($"Not within {timeout.TotalSeconds:0.#} s: {what}. The last probe failed: {unreachable.Message}", unreachable);
    }
}
