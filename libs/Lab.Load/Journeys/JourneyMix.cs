using System.Globalization;

namespace Lab.Load.Journeys;

/// <summary>Relative weights of the journeys in a run, e.g. browse=60,cart=25,checkout=10,history=5.</summary>
public sealed record JourneyMix
{
    public JourneyMix(IReadOnlyList<JourneyWeight> weights)
    {
        if (weights.Count == 0 || weights.Any(w => w.Weight < 0 || !double.IsFinite(w.Weight)) || weights.Sum(w => w.Weight) <= 0)
        {
            throw LoadException.Usage("A journey mix needs at least one journey with a positive weight.");
        }

        Weights = weights;
    }

    public IReadOnlyList<JourneyWeight> Weights { get; }

    public static JourneyMix Default => Presets["default"];

    /// <summary>Named mixes for <c>--preset</c>.</summary>
    public static IReadOnlyDictionary<string, JourneyMix> Presets => PresetTable.Value;

    private static readonly Lazy<IReadOnlyDictionary<string, JourneyMix>> PresetTable = new(() =>
        new Dictionary<string, JourneyMix>(StringComparer.OrdinalIgnoreCase)
        {
            ["default"] = Of(("browse", 60), ("cart", 25), ("checkout", 10), ("history", 5)),
            ["read-heavy"] = Of(("browse", 85), ("history", 15)),
            ["checkout-heavy"] = Of(("browse", 30), ("cart", 20), ("checkout", 45), ("history", 5)),
            ["cart-heavy"] = Of(("browse", 30), ("cart", 60), ("checkout", 10)),
            ["browse"] = Of(("browse", 100)),
            ["checkout"] = Of(("checkout", 100)),
            ["ping"] = Of(("get", 100)),
        });

    /// <summary>Parses "browse=60,cart=25,..." and checks every name against <paramref name="known"/>.</summary>
    public static JourneyMix Parse(string text, IReadOnlyCollection<string> known)
    {
        var weights = new List<JourneyWeight>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var i = part.IndexOf('=');
            var name = (i < 0 ? part : part[..i]).Trim().ToLowerInvariant();
            if (!known.Contains(name))
            {
                throw LoadException.Usage($"Unknown journey '{name}' in --mix. Known journeys: {string.Join(", ", known)}.");
            }

            var weight = 1.0;
            if (i >= 0 && (!double.TryParse(part[(i + 1)..].Trim().TrimEnd('%'), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out weight) || weight < 0))
            {
                throw LoadException.Usage($"Invalid weight in --mix '{part}': use NAME=WEIGHT with a non-negative number, e.g. browse=60.");
            }

            if (weights.Any(w => w.Journey == name))
            {
                throw LoadException.Usage($"Journey '{name}' appears twice in --mix '{text}'.");
            }

            weights.Add(new JourneyWeight(name, weight));
        }

        if (weights.Count == 0 || weights.Sum(w => w.Weight) <= 0)
        {
            throw LoadException.Usage($"Invalid --mix '{text}': give at least one journey a positive weight, e.g. browse=60,cart=25,checkout=10,history=5.");
        }

        return new JourneyMix(weights.Where(w => w.Weight > 0).ToList());
    }

    public static JourneyMix Preset(string name) =>
        Presets.TryGetValue(name, out var mix)
            ? mix
            : throw LoadException.Usage($"Unknown preset '{name}'. Presets: {string.Join(", ", Presets.Keys)}.");

    public override string ToString() =>
        string.Join(",", Weights.Select(w => $"{w.Journey}={w.Weight.ToString("0.##", CultureInfo.InvariantCulture)}"));

    public bool Equals(JourneyMix? other) => other is not null && ToString() == other.ToString();

    public override int GetHashCode() => ToString().GetHashCode(StringComparison.Ordinal);

    private static JourneyMix Of(params (string Name, double Weight)[] weights) =>
        new(weights.Select(w => new JourneyWeight(w.Name, w.Weight)).ToList());
}

public sealed record JourneyWeight(string Journey, double Weight);

/// <summary>Picks journey indexes with the mix's proportions; one cumulative table, one binary search per draw.</summary>
public sealed class JourneyPicker
{
    private readonly double[] _cumulative;

    public JourneyPicker(IReadOnlyList<double> weights)
    {
        _cumulative = new double[weights.Count];
        double sum = 0;
        for (var i = 0; i < weights.Count; i++)
        {
            sum += weights[i];
            _cumulative[i] = sum;
        }

        for (var i = 0; i < _cumulative.Length; i++)
        {
            _cumulative[i] /= sum;
        }
    }

    public int Pick(Random random)
    {
        var u = random.NextDouble();
        var i = Array.BinarySearch(_cumulative, u);
        i = i >= 0 ? i + 1 : ~i;
        return Math.Min(i, _cumulative.Length - 1);
    }
}
