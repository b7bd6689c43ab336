namespace Lab.Load.Journeys;

/// <summary>
/// One kind of user visit: a short sequence of dependent requests. Each request is a named step; the
/// report gives figures per journey and per step.
/// </summary>
public interface IJourney
{
    /// <summary>Name used in <c>--mix</c> and in reports (lower-case, kebab-case).</summary>
    string Name { get; }

    /// <summary>Every step name the journey may send, in order; fixed so per-step figures can be preallocated.</summary>
    IReadOnlyList<string> Steps { get; }

    ValueTask RunAsync(JourneyContext context, CancellationToken cancellationToken);
}

/// <summary>The journeys a run can draw from.</summary>
public sealed class JourneyCatalog
{
    private readonly Dictionary<string, IJourney> _journeys;

    public JourneyCatalog(IEnumerable<IJourney> journeys)
    {
        _journeys = journeys.ToDictionary(j => j.Name, StringComparer.Ordinal);
    }

    /// <summary>The shop's journeys plus "get", which requests the target URL itself (for benchmarks).</summary>
    public static JourneyCatalog Shop { get; } = new(
    [
        new BrowseJourney(),
        new CartJourney(),
        new CheckoutJourney(),
        new HistoryJourney(),
        new WishListJourney(),
        new RestockJourney(),
        new PriceChangeJourney(),
        new ReportJourney(),
        new GetJourney(),
    ]);

    public IReadOnlyCollection<string> Names => _journeys.Keys;

    public IJourney Get(string name) =>
        _journeys.TryGetValue(name, out var journey)
            ? journey
            : throw LoadException.Usage($"Unknown journey '{name}'. Known journeys: {string.Join(", ", _journeys.Keys)}.");
}
