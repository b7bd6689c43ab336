using System.Diagnostics;

namespace Lab.Scenarios;

/// <summary>
/// A write-only stream that passes bytes on no faster than a given rate, as a narrow link would: each write goes out in
/// slices, each slice after the time the bytes before it take at that rate.
/// </summary>
public sealed class ThrottledStream(Stream inner, long bytesPerSecond) : Stream
{
    /// <summary>Small enough that a response of a few kilobytes is paced, not sent in one burst.</summary>
    private const int SliceBytes = 1024;

    private readonly long _started = Stopwatch.GetTimestamp();
    private long _sent;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            var slice = buffer[..Math.Min(SliceBytes, buffer.Length)];
            // When these bytes may leave: after all the bytes before them at the link's rate.
            var due = TimeSpan.FromSeconds((double)_sent / bytesPerSecond) - Stopwatch.GetElapsedTime(_started);
            if (due > TimeSpan.Zero)
            {
                await inner.FlushAsync(cancellationToken);
                await Task.Delay(due, cancellationToken);
            }

            await inner.WriteAsync(slice, cancellationToken);
            _sent += slice.Length;
            buffer = buffer[slice.Length..];
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
