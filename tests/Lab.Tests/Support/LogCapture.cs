using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Support;

/// <summary>
/// A logger provider for the in-process cluster's silos: a test subscribes for the duration of a measurement and receives
/// the structured state of the shop's log entries (by category), so it can pick out its own orders among every other
/// test's in the collection.
/// </summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentDictionary<Subscription, byte> _subscriptions = new();

    /// <summary>Receives the entries of <paramref name="category"/> until the returned subscription is disposed.</summary>
    public IDisposable Subscribe(string category, Action<IReadOnlyDictionary<string, object?>> onEntry)
    {
        var subscription = new Subscription(this, category, onEntry);
        _subscriptions[subscription] = 0;
        return subscription;
    }

    public ILogger CreateLogger(string categoryName) => new CategoryLogger(this, categoryName);

    public void Dispose() => _subscriptions.Clear();

    private sealed class CategoryLogger(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information && !capture._subscriptions.IsEmpty;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel) || state is not IReadOnlyList<KeyValuePair<string, object?>> fields)
            {
                return;
            }

            Dictionary<string, object?>? entry = null;
            foreach (var subscription in capture._subscriptions.Keys)
            {
                if (subscription.Category == category)
                {
                    entry ??= fields.ToDictionary(field => field.Key, field => field.Value);
                    subscription.OnEntry(entry);
                }
            }
        }
    }

    private sealed class Subscription(LogCapture capture, string category, Action<IReadOnlyDictionary<string, object?>> onEntry) : IDisposable
    {
        public string Category { get; } = category;

        public Action<IReadOnlyDictionary<string, object?>> OnEntry { get; } = onEntry;

        public void Dispose() => capture._subscriptions.TryRemove(this, out _);
    }
}
