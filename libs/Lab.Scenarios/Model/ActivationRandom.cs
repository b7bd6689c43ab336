namespace Lab.Scenarios;

/// <summary>
/// Deterministic, lock-free random for one activation: the n-th draw is a pure function of (seed, n),
/// so the same seed gives the same sequence of decisions (and, with sequential traffic, the same
/// calls perturbed). Safe to share between threads; never allocates.
/// </summary>
public sealed class ActivationRandom(long seed)
{
    /// <summary>Used before the runtime assigns an activation's random; seeded from the clock.</summary>
    public static ActivationRandom Unseeded { get; } = new(Environment.TickCount64);

    private long _counter;

    public long Seed { get; } = seed;

    /// <summary>How many draws were made so far.</summary>
    public long Draws => Interlocked.Read(ref _counter);

    /// <summary>A double in [0, 1).</summary>
    public double NextDouble()
    {
        var n = Interlocked.Increment(ref _counter);
        return (Mix((ulong)Seed + ((ulong)n * 0x9E3779B97F4A7C15UL)) >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>True with probability <paramref name="rate"/> (0..1).</summary>
    public bool Chance(double rate) => rate >= 1 || (rate > 0 && NextDouble() < rate);

    // SplitMix64 finaliser: a good 64-bit mix of a counter.
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
