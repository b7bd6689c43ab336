using Lab.Load.Engine;

namespace Lab.Load.Transport;

/// <summary>Sends one HTTP request for a journey step. Implementations are shared by all workers and thread-safe.</summary>
public interface ILoadTransport : IDisposable
{
    ValueTask<TransportResponse> SendAsync(TransportRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// A transport for one worker, used for one request at a time (it may own a connection). Disposed with the
    /// worker when it is not this instance.
    /// </summary>
    ILoadTransport ForWorker() => this;
}

/// <param name="Method">HTTP method.</param>
/// <param name="PathAndQuery">Path and query, resolved against the target.</param>
/// <param name="JsonBody">Request body sent as application/json; empty for none.</param>
/// <param name="TraceParent">W3C traceparent header value.</param>
/// <param name="ReadBody">False when the journey ignores the body: it is drained, not kept.</param>
/// <param name="Authorization">Authorization header value (the back office's Bearer token), or null for none.</param>
public readonly record struct TransportRequest(HttpMethod Method, string PathAndQuery, ReadOnlyMemory<byte> JsonBody, TraceParent TraceParent, bool ReadBody,
    string? Authorization = null);

public readonly record struct TransportResponse(int StatusCode, ReadOnlyMemory<byte> Body);

/// <summary>Headers every request carries besides traceparent.</summary>
public static class LoadHeaders
{
    /// <summary>W3C baggage marking the traffic as synthetic, so services and dashboards can tell it from real users.</summary>
    public const string Baggage = "lab.synthetic=true";

    public const string UserAgent = "lab-load/1";
}
