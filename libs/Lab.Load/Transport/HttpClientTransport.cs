using System.Net;
using System.Net.Http.Headers;

namespace Lab.Load.Transport;

/// <summary>
/// Transport over one shared <see cref="SocketsHttpHandler"/>: HTTP/1.1, a connection limit, and everything a
/// load client does not need switched off (proxy, cookies, decompression, redirects, the handler's own trace
/// propagation, since the client writes traceparent itself).
/// </summary>
public sealed class HttpClientTransport : ILoadTransport
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly HttpMessageInvoker _invoker;
    private readonly Uri _baseAddress;

    public HttpClientTransport(Uri baseAddress, int maxConnections)
    {
        _baseAddress = baseAddress;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = Math.Max(1, maxConnections),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            ActivityHeadersPropagator = null,
        };
        _invoker = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    public async ValueTask<TransportResponse> SendAsync(TransportRequest request, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(request.Method, new Uri(_baseAddress, request.PathAndQuery))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        message.Headers.TryAddWithoutValidation("traceparent", request.TraceParent.ToString());
        message.Headers.TryAddWithoutValidation("baggage", LoadHeaders.Baggage);
        message.Headers.TryAddWithoutValidation("User-Agent", LoadHeaders.UserAgent);
        if (request.Authorization is { } authorization)
        {
            message.Headers.TryAddWithoutValidation("Authorization", authorization);
        }
        if (!request.JsonBody.IsEmpty)
        {
            message.Content = new ReadOnlyMemoryContent(request.JsonBody);
            message.Content.Headers.ContentType = Json;
        }

        using var response = await _invoker.SendAsync(message, cancellationToken).ConfigureAwait(false);
        if (request.ReadBody)
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            return new TransportResponse((int)response.StatusCode, body);
        }

        await response.Content.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
        return new TransportResponse((int)response.StatusCode, ReadOnlyMemory<byte>.Empty);
    }

    public void Dispose() => _invoker.Dispose();
}
