using System.Diagnostics;

namespace Lab.Tests.Support;

/// <summary>Polls a condition with a bounded deadline: for effects that arrive asynchronously (streams, exporters).</summary>
public static class Eventually
{
    public static async Task<T> GetAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        T last;
        do
        {
            last = await probe();
            if (done(last))
            {
                return last;
            }

            await Task.Delay(100);
        }
        while (clock.Elapsed < timeout);

        throw new TimeoutException($"Not within {timeout.TotalSeconds:0.#} s: {what}. Last value: {last}");
    }
}
