using System.Diagnostics;

namespace Lab.Scenarios.Tests.Support;

public static class Waits
{
    /// <summary>Polls <paramref name="condition"/> every 20 ms until true; fails after <paramref name="timeout"/>.</summary>
    public static async Task<TimeSpan> UntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds:0.#}s waiting for {what}.");
            }

            await Task.Delay(20);
        }

        return watch.Elapsed;
    }

    /// <summary>Polls the async <paramref name="condition"/> every 20 ms until true; fails after <paramref name="timeout"/>.</summary>
    public static async Task<TimeSpan> UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            if (watch.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds:0.#}s waiting for {what}.");
            }

            await Task.Delay(20);
        }

        return watch.Elapsed;
    }

    public static async Task<TimeSpan> TimeAsync(Func<Task> action)
    {
        var watch = Stopwatch.StartNew();
        await action();
        return watch.Elapsed;
    }
}
