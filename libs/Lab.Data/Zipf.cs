namespace Lab.Data;

/// <summary>Draws ranks 1..N with probability proportional to 1/rank^s, so a few keys are hot.</summary>
public sealed class Zipf
{
    private readonly double[] _cumulative;

    public Zipf(int count, double exponent)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _cumulative = new double[count];
        var sum = 0.0;
        for (var rank = 1; rank <= count; rank++)
        {
            sum += 1.0 / Math.Pow(rank, exponent);
            _cumulative[rank - 1] = sum;
        }

        for (var i = 0; i < count; i++)
        {
            _cumulative[i] /= sum;
        }
    }

    public int Count => _cumulative.Length;

    /// <returns>A rank from 1 (hottest) to <see cref="Count"/>.</returns>
    public int Next(Random random)
    {
        var index = Array.BinarySearch(_cumulative, random.NextDouble());
        if (index < 0)
        {
            index = ~index;
        }

        return Math.Min(index, _cumulative.Length - 1) + 1;
    }

    /// <summary>Probability of drawing <paramref name="rank"/>.</summary>
    public double Probability(int rank) =>
        _cumulative[rank - 1] - (rank == 1 ? 0 : _cumulative[rank - 2]);
}
