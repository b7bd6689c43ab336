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
