using System.Buffers.Binary;
using System.Diagnostics;

namespace Lab.Load.Engine;

/// <summary>A W3C trace id kept as two numbers, formatted only when a report needs it.</summary>
public readonly record struct TraceId(ulong High, ulong Low)
{
    public static TraceId From(ActivityTraceId id)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.CopyTo(bytes);
        return new TraceId(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
    }

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, High);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], Low);
        return Convert.ToHexStringLower(bytes);
    }

    internal static ulong SpanIdOf(Activity activity)
    {
        Span<byte> bytes = stackalloc byte[8];
        activity.SpanId.CopyTo(bytes);
        return BinaryPrimitives.ReadUInt64BigEndian(bytes);
    }

    internal static TraceId NewRandom(Random random) => new(NewSpanId(random), NewSpanId(random));

    /// <summary>A random, valid (non-zero) 64-bit span id.</summary>
    internal static ulong NewSpanId(Random random)
    {
        ulong value;
        do
        {
            value = (ulong)random.NextInt64() ^ ((ulong)random.Next(2) << 63);
        }
        while (value == 0);
        return value;
    }

    internal static string Format(TraceId traceId, ulong spanId) =>
        string.Create(55, (traceId, spanId), static (chars, state) =>
        {
            Span<byte> bytes = stackalloc byte[24];
            BinaryPrimitives.WriteUInt64BigEndian(bytes, state.traceId.High);
            BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], state.traceId.Low);
            BinaryPrimitives.WriteUInt64BigEndian(bytes[16..], state.spanId);
            "00-".CopyTo(chars);
            Convert.TryToHexStringLower(bytes[..16], chars[3..], out _);
            chars[35] = '-';
            Convert.TryToHexStringLower(bytes[16..], chars[36..], out _);
            "-01".CopyTo(chars[52..]);
        });
}

/// <summary>The W3C traceparent of one request: version 00, the journey's trace id, the request's span id, sampled.</summary>
public readonly record struct TraceParent(TraceId TraceId, ulong SpanId)
{
    /// <summary>Length of the header value: "00-" 32 hex "-" 16 hex "-01".</summary>
    public const int Length = 55;

    public override string ToString() => TraceId.Format(TraceId, SpanId);

    /// <summary>Writes the header value as ASCII; returns <see cref="Length"/>.</summary>
    public int Write(Span<byte> destination)
    {
        Span<byte> id = stackalloc byte[24];
        BinaryPrimitives.WriteUInt64BigEndian(id, TraceId.High);
        BinaryPrimitives.WriteUInt64BigEndian(id[8..], TraceId.Low);
        BinaryPrimitives.WriteUInt64BigEndian(id[16..], SpanId);
        "00-"u8.CopyTo(destination);
        Convert.TryToHexStringLower(id[..16], destination[3..], out _);
        destination[35] = (byte)'-';
        Convert.TryToHexStringLower(id[16..], destination[36..], out _);
        "-01"u8.CopyTo(destination[52..]);
        return Length;
    }

    public static TraceParent Parse(string text)
    {
        var parts = text.Split('-');
        if (parts is not ["00", { Length: 32 } trace, { Length: 16 } span, _])
        {
            throw new FormatException($"not a W3C traceparent: '{text}'");
        }

        return new TraceParent(
            new TraceId(Convert.ToUInt64(trace[..16], 16), Convert.ToUInt64(trace[16..], 16)),
            Convert.ToUInt64(span, 16));
    }
}
