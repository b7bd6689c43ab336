using System.Text.Json.Serialization;

namespace Lab.Scenarios;

/// <summary>The type of a scenario parameter; values always travel as text and are parsed by <see cref="ParameterParser"/>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ParameterType>))]
public enum ParameterType
{
    /// <summary>Whole number, e.g. "3".</summary>
    Int,

    /// <summary>Real number, e.g. "1.5".</summary>
    Double,

    /// <summary>Time span with a unit: "250ms", "2s", "5m", "1h".</summary>
    Duration,

    /// <summary>"true" or "false".</summary>
    Bool,

    /// <summary>Free text.</summary>
    String,

    /// <summary>One of <see cref="ParameterSpec.AllowedValues"/>.</summary>
    Enum,

    /// <summary>A rate: "25%" or "0.25"; parsed to a fraction 0..1.</summary>
    Percent,

    /// <summary>A size: "512", "64KB", "64MB", "1GB" (powers of 1024).</summary>
    Bytes,
}

/// <summary>Which hard resource cap (see <see cref="ResourceCaps"/>) bounds a parameter, if any.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ResourceCapKind>))]
public enum ResourceCapKind
{
    None,
    MemoryBytes,
    BusyCores,
    DiskBytes,
    Handles,
    Threads,
}

/// <summary>Schema of one scenario parameter. Default, Min and Max are written in the parameter's own text format.</summary>
/// <param name="Name">Key used in <c>--set name=value</c> and in the API's "parameters" object.</param>
/// <param name="Type">How the value is parsed and compared.</param>
/// <param name="Default">Value used when the user gives none; must itself be valid.</param>
/// <param name="Description">One line for the catalog and <c>lab scenario show</c>.</param>
/// <param name="Min">Inclusive lower bound (numeric types), or null.</param>
/// <param name="Max">Inclusive upper bound (numeric types), or null.</param>
/// <param name="Unit">Unit shown to the user, e.g. "ms", "cores", "bytes".</param>
/// <param name="AllowedValues">The values an <see cref="ParameterType.Enum"/> accepts.</param>
/// <param name="Cap">Hard resource cap that bounds the value in addition to Max.</param>
public sealed record ParameterSpec(
    string Name,
    ParameterType Type,
    string Default,
    string Description,
    string? Min = null,
    string? Max = null,
    string? Unit = null,
    IReadOnlyList<string>? AllowedValues = null,
    ResourceCapKind Cap = ResourceCapKind.None)
{
    public static ParameterSpec Int(string name, long @default, string description, long? min = null, long? max = null, string? unit = null, ResourceCapKind cap = ResourceCapKind.None) =>
        new(name, ParameterType.Int, Invariant(@default), description, min is null ? null : Invariant(min.Value), max is null ? null : Invariant(max.Value), unit, null, cap);

    public static ParameterSpec Double(string name, double @default, string description, double? min = null, double? max = null, string? unit = null, ResourceCapKind cap = ResourceCapKind.None) =>
        new(name, ParameterType.Double, Invariant(@default), description, min is null ? null : Invariant(min.Value), max is null ? null : Invariant(max.Value), unit, null, cap);

    public static ParameterSpec Duration(string name, string @default, string description, string? min = null, string? max = null) =>
        new(name, ParameterType.Duration, @default, description, min, max, "duration");

    public static ParameterSpec Percent(string name, string @default, string description, string min = "0%", string max = "100%") =>
        new(name, ParameterType.Percent, @default, description, min, max, "%");

    public static ParameterSpec Bytes(string name, string @default, string description, string? min = null, string? max = null, ResourceCapKind cap = ResourceCapKind.None) =>
        new(name, ParameterType.Bytes, @default, description, min, max, "bytes", null, cap);

    public static ParameterSpec Bool(string name, bool @default, string description) =>
        new(name, ParameterType.Bool, @default ? "true" : "false", description);

    public static ParameterSpec String(string name, string @default, string description) =>
        new(name, ParameterType.String, @default, description);

    public static ParameterSpec Enum(string name, string @default, string description, params string[] allowed) =>
        new(name, ParameterType.Enum, @default, description, AllowedValues: allowed);

    private static string Invariant(IFormattable value) => value.ToString(null, System.Globalization.CultureInfo.InvariantCulture);
}
