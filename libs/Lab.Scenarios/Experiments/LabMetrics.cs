using System.Globalization;

namespace Lab.Scenarios;

/// <summary>The samples of one Prometheus text exposition: <c>name{label="value",...} number</c>.</summary>
public sealed class PrometheusSamples
{
    private readonly List<Sample> _samples = [];

    public IReadOnlyList<Sample> Samples => _samples;

    public static PrometheusSamples Parse(string text)
    {
        var result = new PrometheusSamples();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var nameEnd = line.IndexOfAny(['{', ' ']);
            if (nameEnd <= 0)
            {
                continue;
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            var rest = line[nameEnd..];
            if (line[nameEnd] == '{')
            {
                var close = ReadLabels(line, nameEnd + 1, labels);
                if (close < 0)
                {
                    continue;
                }

                rest = line[(close + 1)..];
            }

            // "value [timestamp]", possibly followed by an exemplar after '#'.
            var valueText = rest.Trim().Split(' ', 2)[0];
            if (double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                result._samples.Add(new Sample(line[..nameEnd], labels, value));
            }
        }

        return result;
    }

    /// <summary>Sum of the samples called <paramref name="metric"/> whose labels include every given pair.</summary>
    public double Sum(string metric, params (string Key, string Value)[] labels) =>
        _samples.Where(s => s.Name == metric && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).Sum(s => s.Value);

    /// <summary>Sums of <paramref name="metric"/> grouped by one label.</summary>
    public IReadOnlyDictionary<string, double> SumBy(string metric, string label) =>
        _samples.Where(s => s.Name == metric && s.Labels.ContainsKey(label))
            .GroupBy(s => s.Labels[label])
            .ToDictionary(g => g.Key, g => g.Sum(s => s.Value));

    // Label values are quoted and may hold escaped quotes, commas and braces (routes such as "/api/carts/{customerId}").
    private static int ReadLabels(string line, int i, Dictionary<string, string> labels)
    {
        while (i < line.Length)
        {
            if (line[i] == '}')
            {
                return i;
            }

            if (line[i] == ',')
            {
                i++;
                continue;
            }

            var eq = line.IndexOf('=', i);
            if (eq < 0 || eq + 1 >= line.Length || line[eq + 1] != '"')
            {
                return -1;
            }

            var key = line[i..eq].Trim();
            var value = new System.Text.StringBuilder();
            var j = eq + 2;
            for (; j < line.Length && line[j] != '"'; j++)
            {
                if (line[j] == '\\' && j + 1 < line.Length)
                {
                    j++;
                    value.Append(line[j] == 'n' ? '\n' : line[j]);
                }
                else
                {
                    value.Append(line[j]);
                }
            }

            labels[key] = value.ToString();
            i = j + 1;
        }

        return -1;
    }

    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);
}

/// <summary>The /metrics of every process of a lab at one moment, by service name (storefront, payments, silo-1...).</summary>
public sealed class LabMetrics(IReadOnlyDictionary<string, PrometheusSamples> byService, DateTimeOffset at)
{
    public IReadOnlyDictionary<string, PrometheusSamples> ByService { get; } = byService;

    public DateTimeOffset At { get; } = at;

    public static async Task<LabMetrics> ScrapeAsync(IReadOnlyDictionary<string, Uri> services, HttpClient http, CancellationToken cancellationToken)
    {
        var scraped = await Task.WhenAll(services.Select(async service =>
        {
            var text = await http.GetStringAsync(new Uri(service.Value, "/metrics"), cancellationToken);
            return KeyValuePair.Create(service.Key, PrometheusSamples.Parse(text));
        }));
        return new LabMetrics(scraped.ToDictionary(), DateTimeOffset.UtcNow);
    }

    /// <summary>Sum over the services whose name starts with <paramref name="servicePrefix"/> ("silo" = every silo).</summary>
    public double Sum(string servicePrefix, string metric, params (string Key, string Value)[] labels) =>
        ByService.Where(s => s.Key.StartsWith(servicePrefix, StringComparison.Ordinal)).Sum(s => s.Value.Sum(metric, labels));
}
