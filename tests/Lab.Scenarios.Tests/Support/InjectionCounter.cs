using System.Diagnostics.Metrics;
using Lab.Scenarios;

namespace Lab.Scenarios.Tests.Support;

/// <summary>
/// Counts the injections this process records (the engine's <c>lab.scenario.injections</c>) while it lives, per scenario.
/// The tests of this assembly run one at a time, so what it counts is what the test's own calls met.
/// </summary>
public sealed class InjectionCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, long> _counts = [];
    private readonly Lock _gate = new();

    public InjectionCounter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == ScenarioTelemetry.MeterName && instrument.Name == "lab.scenario.injections")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "scenario", Value: string scenario })
                {
                    lock (_gate)
                    {
                        _counts[scenario] = _counts.GetValueOrDefault(scenario) + value;
                    }
                }
            }
        });
        _listener.Start();
    }

    /// <summary>Injections of <paramref name="scenario"/> recorded so far.</summary>
    public long Of(string scenario)
    {
        lock (_gate)
        {
            return _counts.GetValueOrDefault(scenario);
        }
    }

    public void Dispose() => _listener.Dispose();
}
