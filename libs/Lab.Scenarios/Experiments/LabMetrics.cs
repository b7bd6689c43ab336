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

/// <summary>
/// The /metrics of every process of a lab at one moment, by service name (storefront, payments, silo-1...). A process that
/// did not answer (frozen, or being restarted) is left out and named in <see cref="Missing"/>.
/// </summary>
public sealed class LabMetrics(IReadOnlyDictionary<string, PrometheusSamples> byService, DateTimeOffset at)
{
    /// <summary>
    /// How long a scrape keeps asking a process that does not answer: longer than a silo takes to restart, and than a
    /// starved process (its thread pool blocked) takes to answer at all.
    /// </summary>
    public static readonly TimeSpan UnansweredBound = TimeSpan.FromSeconds(30);

    public IReadOnlyDictionary<string, PrometheusSamples> ByService { get; } = byService;

    public DateTimeOffset At { get; } = at;

    /// <summary>The services whose /metrics did not answer within <see cref="UnansweredBound"/>.</summary>
    public IReadOnlyList<string> Missing { get; init; } = [];

    public static async Task<LabMetrics> ScrapeAsync(IReadOnlyDictionary<string, Uri> services, HttpClient http, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + UnansweredBound;
        var scraped = await Task.WhenAll(services.Select(async service =>
            KeyValuePair.Create(service.Key, await GetUntilAnsweredAsync(http, new Uri(service.Value, "/metrics"), deadline, cancellationToken))));
        return new LabMetrics(
            scraped.Where(s => s.Value is not null).ToDictionary(s => s.Key, s => PrometheusSamples.Parse(s.Value!)), DateTimeOffset.UtcNow)
        {
            Missing = [.. scraped.Where(s => s.Value is null).Select(s => s.Key)],
        };
    }

    /// <summary>
    /// GETs <paramref name="url"/> from a process that may be frozen, restarting or starved: a refused, reset or failed
    /// request is asked again, a slow one may take until <paramref name="deadline"/>. Null when it has not answered by then.
    /// </summary>
    public static async Task<string?> GetUntilAnsweredAsync(HttpClient http, Uri url, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        while (true)
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, (deadline - DateTimeOffset.UtcNow).Ticks)));
            try
            {
                return await http.GetStringAsync(url, attempt.Token);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                if (DateTimeOffset.UtcNow >= deadline)
                {
                    return null;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
        }
    }

    /// <summary>Sum over the services whose name starts with <paramref name="servicePrefix"/> ("silo" = every silo).</summary>
    public double Sum(string servicePrefix, string metric, params (string Key, string Value)[] labels) =>
        ByService.Where(s => s.Key.StartsWith(servicePrefix, StringComparison.Ordinal)).Sum(s => s.Value.Sum(metric, labels));

    /// <summary>When the service's process started (lab.process.start_time), or null when it does not say.</summary>
    public double? StartTime(string service) =>
        ByService.TryGetValue(service, out var samples) && samples.Samples.FirstOrDefault(s => s.Name == LabMetricNames.ProcessStartTime) is { } sample
            ? sample.Value
            : null;

    /// <summary>The services whose process is not the one <paramref name="earlier"/> scraped: it was restarted in between.</summary>
    public IReadOnlyList<string> RestartedSince(LabMetrics earlier) =>
        [.. ByService.Keys.Where(service => earlier.ByService.ContainsKey(service) && StartTime(service) is { } now
                                            && earlier.StartTime(service) is { } then && now != then)];
}
