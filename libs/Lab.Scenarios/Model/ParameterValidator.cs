using System.Collections.Immutable;
using System.Globalization;

namespace Lab.Scenarios;

/// <summary>Validates user-supplied parameter text against a scenario's schema and the resource caps.</summary>
public static class ParameterValidator
{
    /// <summary>
    /// Merges <paramref name="supplied"/> over <paramref name="baseline"/> (defaults, or the current values on a change),
    /// validating each supplied value. Unknown keys, wrong types, out-of-range values and values over a cap are
    /// reported under the parameter's name. Returns the complete, canonical parameter map.
    /// </summary>
    public static ImmutableDictionary<string, string> Merge(
        ScenarioMeta meta,
        IReadOnlyDictionary<string, string>? baseline,
        IReadOnlyDictionary<string, string>? supplied,
        ResourceCaps caps,
        ValidationErrors errors)
    {
        var result = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var p in meta.Parameters)
        {
            result[p.Name] = baseline is not null && baseline.TryGetValue(p.Name, out var current) ? current : p.Default;
        }

        foreach (var (key, value) in supplied ?? ImmutableDictionary<string, string>.Empty)
        {
            var spec = meta.FindParameter(key);
            if (spec is null)
            {
                var known = meta.Parameters.Count == 0 ? "it takes none" : "known: " + string.Join(", ", meta.Parameters.Select(p => p.Name));
                errors.Add(key, $"Unknown parameter '{key}' for scenario '{meta.Name}' ({known}).");
                continue;
            }

            if (CheckValue(spec, value, caps) is { } problem)
            {
                errors.Add(spec.Name, problem);
                continue;
            }

            result[spec.Name] = Canonical(spec, value);
        }

        return result.ToImmutable();
    }

    /// <summary>The problem with <paramref name="value"/> for <paramref name="spec"/>, or null when it is valid.</summary>
    public static string? CheckValue(ParameterSpec spec, string? value, ResourceCaps? caps)
    {
        if (value is null)
        {
            return $"'{spec.Name}' needs a value: {ParameterParser.Expectation(spec.Type)}.";
        }

        switch (spec.Type)
        {
            case ParameterType.String:
                return null;
            case ParameterType.Bool:
                return ParameterParser.TryParseBool(value, out _) ? null : $"'{spec.Name}' must be true or false, not '{value}'.";
            case ParameterType.Enum:
                var allowed = spec.AllowedValues ?? [];
                return allowed.Contains(value.Trim(), StringComparer.OrdinalIgnoreCase)
                    ? null
                    : $"'{spec.Name}' must be one of {string.Join(", ", allowed)}, not '{value}'.";
        }

        if (!ParameterParser.TryParseComparable(spec.Type, value, out var v))
        {
            return $"'{spec.Name}' must be {ParameterParser.Expectation(spec.Type)}, not '{value}'.";
        }

        if (spec.Min is not null && ParameterParser.TryParseComparable(spec.Type, spec.Min, out var min) && v < min)
        {
            return $"'{spec.Name}' is {value}, below the minimum {spec.Min}.";
        }

        if (spec.Max is not null && ParameterParser.TryParseComparable(spec.Type, spec.Max, out var max) && v > max)
        {
            return $"'{spec.Name}' is {value}, above the maximum {spec.Max}.";
        }

        if (caps is not null && spec.Cap != ResourceCapKind.None && v > caps.Limit(spec.Cap))
        {
            return $"'{spec.Name}' is {value}, over the hard resource cap of {caps.Describe(spec.Cap)}.";
        }

        return null;
    }

    // Keep what the user wrote (it reads better in history) except where case or spacing could vary.
    private static string Canonical(ParameterSpec spec, string value) => spec.Type switch
    {
        ParameterType.Enum => spec.AllowedValues!.First(a => string.Equals(a, value.Trim(), StringComparison.OrdinalIgnoreCase)),
        ParameterType.Bool => ParameterParser.TryParseBool(value, out var b) && b ? "true" : "false",
        ParameterType.String => value,
        _ => value.Trim().ToString(CultureInfo.InvariantCulture),
    };
}
