using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Lab.Load.Engine;

namespace Lab.Load.Transport;

/// <summary>
/// Plain HTTP/1.1 over sockets, one keep-alive connection per worker. A worker runs one journey at a time, so
/// its requests never need a pool, locks or HttpRequestMessage objects; on this kind of machine that is what
/// lets a .NET client keep up with wrk (HttpClient tops out well below it). http:// only.
/// </summary>
public sealed class RawHttpTransport : ILoadTransport
{
    private readonly ConcurrentBag<RawHttpConnection> _idle = [];
    private readonly EndPoint _endPoint;
    private readonly byte[] _host;

    public RawHttpTransport(Uri baseAddress)
    {
        if (baseAddress.Scheme != Uri.UriSchemeHttp)
        {
            throw new ArgumentException("The raw transport speaks plain http:// only.", nameof(baseAddress));
        }

        _endPoint = IPAddress.TryParse(baseAddress.DnsSafeHost, out var ip)
            ? new IPEndPoint(ip, baseAddress.Port)
            : new DnsEndPoint(baseAddress.DnsSafeHost, baseAddress.Port);
        _host = Encoding.ASCII.GetBytes(baseAddress.Authority);
    }

    public ILoadTransport ForWorker() => new RawHttpConnection(_endPoint, _host);

    /// <summary>Shared use (not per worker): borrows an idle connection or opens one.</summary>
    public async ValueTask<TransportResponse> SendAsync(TransportRequest request, CancellationToken cancellationToken)
    {
        var connection = _idle.TryTake(out var c) ? c : new RawHttpConnection(_endPoint, _host);
        try
        {
            return await connection.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _idle.Add(connection);
        }
    }

    public void Dispose()
    {
        while (_idle.TryTake(out var c))
        {
            c.Dispose();
        }
    }
}

/// <summary>One keep-alive HTTP/1.1 connection, used by one caller at a time; reconnects after any failure.</summary>
internal sealed class RawHttpConnection(EndPoint endPoint, byte[] host) : ILoadTransport
{
    private const int MaxHeaderBytes = 64 * 1024;
    private static readonly byte[] CrLf = "\r\n"u8.ToArray();
    private static readonly byte[] HeaderEnd = "\r\n\r\n"u8.ToArray();

    private Socket? _socket;
    private byte[] _buffer = new byte[16 * 1024];
    private byte[] _request = new byte[1024];
    private int _start;
    private int _end;
    private bool _reused;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TransportResponse> SendAsync(TransportRequest request, CancellationToken cancellationToken)
    {
        var length = WriteRequest(request);
        try
        {
            return await ExchangeAsync(length, request.ReadBody, request.Method == HttpMethod.Head, cancellationToken).ConfigureAwait(false);
        }
        catch (StaleConnectionException)
        {
            // The server closed an idle keep-alive connection; one retry on a fresh one, as HttpClient does.
            Close();
            return await ExchangeAsync(length, request.ReadBody, request.Method == HttpMethod.Head, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Close();
            throw;
        }
    }

    public void Dispose() => Close();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TransportResponse> ExchangeAsync(int length, bool readBody, bool head, CancellationToken cancellationToken)
    {
        if (_socket is null)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            _socket = socket;
            _reused = false;
            _start = _end = 0;
        }

        var reused = _reused;
        _reused = true;
        try
        {
            await _socket.SendAsync(_request.AsMemory(0, length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            var headerLength = await ReadHeadersAsync(reused, cancellationToken).ConfigureAwait(false);
            return await ReadResponseAsync(headerLength, readBody, head, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is SocketException or ObjectDisposedException)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (SocketException e) when (reused && e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted)
        {
            throw new StaleConnectionException();
        }
    }

    /// <summary>Reads until the blank line after the headers; returns the header block's length from _start.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadHeadersAsync(bool reused, CancellationToken cancellationToken)
    {
        var gotAny = _end > _start;
        while (true)
        {
            var end = _buffer.AsSpan(_start, _end - _start).IndexOf(HeaderEnd);
            if (end >= 0)
            {
                return end + HeaderEnd.Length;
            }

            if (_end - _start > MaxHeaderBytes)
            {
                throw Protocol("response headers are larger than 64 KiB");
            }

            if (await ReceiveAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                if (!gotAny && reused)
                {
                    throw new StaleConnectionException();
                }

                throw new HttpRequestException(HttpRequestError.ResponseEnded, "the server closed the connection before a complete response");
            }

            gotAny = true;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TransportResponse> ReadResponseAsync(int headerLength, bool readBody, bool head, CancellationToken cancellationToken)
    {
        var headers = _buffer.AsSpan(_start, headerLength - 2);

        // Status line: HTTP/1.x SP 3DIGIT SP reason
        if (headers.Length < 12 || !headers.StartsWith("HTTP/1."u8) || headers[8] != (byte)' ' || !Utf8Parser.TryParse(headers.Slice(9, 3), out int status, out _))
        {
            throw Protocol("not an HTTP/1.x status line");
        }

        long contentLength = -1;
        var chunked = false;
        var close = headers[7] == (byte)'0';
        var lineStart = headers.IndexOf(CrLf) + 2;
        while (lineStart < headers.Length)
        {
            var rest = headers[lineStart..];
            var lineLength = rest.IndexOf(CrLf);
            var line = lineLength < 0 ? rest : rest[..lineLength];
            var colon = line.IndexOf((byte)':');
            if (colon > 0)
            {
                var name = line[..colon];
                var value = line[(colon + 1)..].Trim((byte)' ');
                if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
                {
                    if (!Utf8Parser.TryParse(value, out contentLength, out _))
                    {
                        throw Protocol("bad Content-Length");
                    }
                }
                else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
                {
                    chunked = value.IndexOf("chunked"u8) >= 0;
                }
                else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
                {
                    close = Ascii.EqualsIgnoreCase(value, "close"u8);
                }
            }

            lineStart += lineLength < 0 ? rest.Length : lineLength + 2;
        }

        _start += headerLength;
        ReadOnlyMemory<byte> body = ReadOnlyMemory<byte>.Empty;
        if (head || status is (>= 100 and < 200) or 204 or 304)
        {
            // No body by definition.
        }
        else if (chunked)
        {
            body = await ReadChunkedAsync(readBody, cancellationToken).ConfigureAwait(false);
        }
        else if (contentLength >= 0)
        {
            var target = readBody ? new byte[contentLength] : null;
            await ReadBodyAsync(contentLength, target, 0, cancellationToken).ConfigureAwait(false);
            body = target ?? ReadOnlyMemory<byte>.Empty;
        }
        else
        {
            body = await ReadToEndAsync(readBody, cancellationToken).ConfigureAwait(false);
            close = true;
        }

        if (close)
        {
            Close();
        }

        return new TransportResponse(status, body);
    }

    private async ValueTask<ReadOnlyMemory<byte>> ReadChunkedAsync(bool keep, CancellationToken cancellationToken)
    {
        var output = keep ? new ArrayBufferWriter<byte>(1024) : null;
        while (true)
        {
            var line = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
            var semicolon = line.Span.IndexOf((byte)';');
            var sizeText = (semicolon >= 0 ? line.Span[..semicolon] : line.Span).Trim((byte)' ');
            if (!Utf8Parser.TryParse(sizeText, out long size, out var consumed, 'X') || consumed != sizeText.Length)
            {
                throw Protocol("bad chunk size");
            }

            if (size == 0)
            {
                // Trailers, if any, end with an empty line.
                while ((await ReadLineAsync(cancellationToken).ConfigureAwait(false)).Length > 0)
                {
                }

                return output?.WrittenMemory ?? ReadOnlyMemory<byte>.Empty;
            }

            if (output is not null)
            {
                var span = output.GetMemory((int)size);
                await ReadBodyAsync(size, null, 0, cancellationToken, span).ConfigureAwait(false);
                output.Advance((int)size);
            }
            else
            {
                await ReadBodyAsync(size, null, 0, cancellationToken).ConfigureAwait(false);
            }

            if ((await ReadLineAsync(cancellationToken).ConfigureAwait(false)).Length != 0)
            {
                throw Protocol("chunk not followed by CRLF");
            }
        }
    }

    /// <summary>Consumes <paramref name="count"/> body bytes, copying them into the target if there is one.</summary>
    private async ValueTask ReadBodyAsync(long count, byte[]? target, int offset, CancellationToken cancellationToken, Memory<byte> into = default)
    {
        var copied = 0;
        while (count > 0)
        {
            if (_end == _start && await ReceiveAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                throw new HttpRequestException(HttpRequestError.ResponseEnded, "the server closed the connection in the middle of a body");
            }

            var take = (int)Math.Min(count, _end - _start);
            var source = _buffer.AsSpan(_start, take);
            if (target is not null)
            {
                source.CopyTo(target.AsSpan(offset + copied));
            }
            else if (!into.IsEmpty)
            {
                source.CopyTo(into.Span[copied..]);
            }

            copied += take;
            _start += take;
            count -= take;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadOnlyMemory<byte>> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var i = _buffer.AsSpan(_start, _end - _start).IndexOf(CrLf);
            if (i >= 0)
            {
                var line = _buffer.AsMemory(_start, i);
                _start += i + 2;
                return line;
            }

            if (_end - _start > MaxHeaderBytes)
            {
                throw Protocol("line longer than 64 KiB");
            }

            if (await ReceiveAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                throw new HttpRequestException(HttpRequestError.ResponseEnded, "the server closed the connection in the middle of a chunked body");
            }
        }
    }

    private async ValueTask<ReadOnlyMemory<byte>> ReadToEndAsync(bool keep, CancellationToken cancellationToken)
    {
        var output = keep ? new ArrayBufferWriter<byte>(1024) : null;
        while (true)
        {
            output?.Write(_buffer.AsSpan(_start, _end - _start));
            _start = _end;
            if (await ReceiveAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                return output?.WrittenMemory ?? ReadOnlyMemory<byte>.Empty;
            }
        }
    }

    /// <summary>Receives more bytes after the unread ones, compacting or growing the buffer first.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReceiveAsync(CancellationToken cancellationToken)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            var unread = _end - _start;
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, unread);
            }
            else
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            _start = 0;
            _end = unread;
        }

        var n = await _socket!.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        _end += n;
        return n;
    }

    private int WriteRequest(TransportRequest request)
    {
        var path = request.PathAndQuery.Length == 0 ? "/" : request.PathAndQuery;
        var needed = 160 + host.Length + Encoding.UTF8.GetMaxByteCount(path.Length) + TraceParent.Length + request.JsonBody.Length
                     + (request.Authorization is { } auth ? 20 + Encoding.UTF8.GetMaxByteCount(auth.Length) : 0);
        if (_request.Length < needed)
        {
            _request = new byte[Math.Max(needed, _request.Length * 2)];
        }

        var span = _request.AsSpan();
        var n = Encoding.ASCII.GetBytes(request.Method.Method, span);
        span[n++] = (byte)' ';
        n += Encoding.UTF8.GetBytes(path, span[n..]);
        n += Append(span[n..], " HTTP/1.1\r\nHost: "u8);
        n += Append(span[n..], host);
        n += Append(span[n..], "\r\ntraceparent: "u8);
        n += request.TraceParent.Write(span[n..]);
        n += Append(span[n..], "\r\nbaggage: lab.synthetic=true\r\nUser-Agent: lab-load/1\r\n"u8);
        if (request.Authorization is { } authorization)
        {
            n += Append(span[n..], "Authorization: "u8);
            n += Encoding.UTF8.GetBytes(authorization, span[n..]);
            n += Append(span[n..], "\r\n"u8);
        }
        if (!request.JsonBody.IsEmpty || request.Method == HttpMethod.Post || request.Method == HttpMethod.Put)
        {
            n += Append(span[n..], "Content-Type: application/json\r\nContent-Length: "u8);
            Utf8Formatter.TryFormat(request.JsonBody.Length, span[n..], out var written);
            n += written;
            n += Append(span[n..], "\r\n"u8);
        }

        n += Append(span[n..], "\r\n"u8);
        request.JsonBody.Span.CopyTo(span[n..]);
        return n + request.JsonBody.Length;
    }

    private static int Append(Span<byte> destination, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination);
        return bytes.Length;
    }

    private void Close()
    {
        _socket?.Dispose();
        _socket = null;
        _start = _end = 0;
    }

    private static HttpRequestException Protocol(string message) => new(HttpRequestError.InvalidResponse, $"invalid HTTP response: {message}");

    private sealed class StaleConnectionException : Exception;
}
