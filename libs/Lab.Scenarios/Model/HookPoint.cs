namespace Lab.Scenarios;

/// <summary>The places in the shop where a scenario can act.</summary>
public enum HookPoint
{
    /// <summary>A grain call arriving at a grain (incoming grain call filter, on the silo that hosts the grain).</summary>
    GrainIncoming,

    /// <summary>A grain call leaving a silo or client (outgoing grain call filter, on the caller's side).</summary>
    GrainOutgoing,

    /// <summary>A database command going through the shop's repository pipeline.</summary>
    Repository,

    /// <summary>An HTTP request arriving at an ASP.NET service (storefront, payments).</summary>
    HttpServer,

    /// <summary>An HTTP request sent by an HttpClient (e.g. the payments client).</summary>
    HttpClient,

    /// <summary>A lookup in the shop's cache layer.</summary>
    Cache,

    /// <summary>An event published to an Orleans stream.</summary>
    StreamProduce,

    /// <summary>An event delivered to a stream consumer.</summary>
    StreamConsume,

    /// <summary>The process itself (CPU, memory, threads, handles, disk): acted on by workers, not per call.</summary>
    Process,
}

/// <summary>What kind of process a hook runs in.</summary>
public enum ServiceKind
{
    Silo,
    Storefront,
    Payments,
    Other,
}

/// <summary>Who this process is, as scenario targets name it ("silo-1", "storefront", "payments").</summary>
/// <param name="Name">Unique within the lab; what <c>--target service=NAME</c> matches.</param>
/// <param name="Kind">The kind of process; <c>--target service=silo</c> matches every silo.</param>
[GenerateSerializer, Immutable]
public sealed record ServiceIdentity([property: Id(0)] string Name, [property: Id(1)] ServiceKind Kind)
{
    public override string ToString() => Name;
}
