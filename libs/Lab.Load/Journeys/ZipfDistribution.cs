namespace Lab.Load.Journeys;

/// <summary>
/// Draws ranks 1..n with P(k) proportional to 1/k^s, so a few keys are hot (rank 1 is the most popular).
/// The cumulative table is built once; a draw is one binary search.
/// </summary>
public sealed class ZipfDistribution
{
    private readonly double[] _cumulative;

    public ZipfDistribution(int count, double exponent)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(exponent);
        _cumulative = new double[count];
        double sum = 0;
        for (var k = 1; k <= count; k++)
        {
            sum += 1.0 / Math.Pow(k, exponent);
            _cumulative[k - 1] = sum;
        }

        for (var i = 0; i < count; i++)
        {
            _cumulative[i] /= sum;
        }

        _cumulative[^1] = 1.0;
        Exponent = exponent;
    }

    public int Count => _cumulative.Length;

    public double Exponent { get; }

    /// <summary>Probability of rank <paramref name="rank"/> (1-based).</summary>
    public double Probability(int rank) =>
        rank == 1 ? _cumulative[0] : _cumulative[rank - 1] - _cumulative[rank - 2];

    public int Sample(Random random)
    {
        var u = random.NextDouble();
        var i = Array.BinarySearch(_cumulative, u);
        return (i >= 0 ? i : ~i) + 1;
    }
}
