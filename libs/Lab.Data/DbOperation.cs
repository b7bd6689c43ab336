namespace Lab.Data;

/// <summary>
/// One logical database call: a stable name for targeting and metrics (e.g. "inventory.reserve"),
/// the SQL it runs, and the OpenTelemetry database attributes derived from it.
/// </summary>
public sealed record DbOperation(string Name, string Collection, string Verb, string Statement)
{
    /// <summary>Span name per the database conventions: "{operation} {collection}".</summary>
    public string SpanName { get; } = $"{Verb} {Collection}";

    /// <summary>The statement split at ';', for calls that run its parts one by one in a transaction.</summary>
    public IReadOnlyList<string> Parts { get; } =
        Statement.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// Representative parameters of the statement's first part, so its query plan can be read (EXPLAIN) for a query
    /// whose speed rests on an index; null for the others.
    /// </summary>
    public object? PlanSample { get; init; }
}
