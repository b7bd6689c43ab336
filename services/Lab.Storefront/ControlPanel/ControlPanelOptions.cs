using Microsoft.Extensions.Options;

namespace Lab.Storefront.ControlPanel;

/// <summary>The control panel's settings, bound from "Lab" (environment: <c>Lab__ReportsDirectory</c> and so on).</summary>
public sealed class ControlPanelOptions
{
    public const string Section = "Lab";

    /// <summary>Where <c>lab load</c> writes its reports (each run in its own folder); the launcher sets DATA_DIR/reports. Null: no reports.</summary>
    public string? ReportsDirectory { get; set; }

    /// <summary>Base URL of the Aspire dashboard, for links to traces (<c>/traces/detail/{traceId}</c>).</summary>
    public Uri? TelemetryViewerUrl { get; set; }

    /// <summary>Base URL of the Jaeger UI, for links to traces (<c>/trace/{traceId}</c>).</summary>
    public Uri? JaegerUrl { get; set; }

    /// <summary>How far back the live view reaches (per-second figures of the shop's requests).</summary>
    public TimeSpan LiveWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Most recent failed requests kept (with trace ids).</summary>
    public int RecentFailures { get; set; } = 20;

    /// <summary>Most slow requests listed (the slowest of each second, then the slowest of those).</summary>
    public int SlowestRequests { get; set; } = 8;

    /// <summary>Most reports listed, newest first.</summary>
    public int MaxReports { get; set; } = 20;

    /// <summary>Link template with "{traceId}", as the load client's reports write them, or null.</summary>
    public string? AspireTraceLink => TelemetryViewerUrl is null ? null : $"{TelemetryViewerUrl.AbsoluteUri.TrimEnd('/')}/traces/detail/{{traceId}}";

    public string? JaegerTraceLink => JaegerUrl is null ? null : $"{JaegerUrl.AbsoluteUri.TrimEnd('/')}/trace/{{traceId}}";
}

internal sealed class ControlPanelOptionsValidator : IValidateOptions<ControlPanelOptions>
{
    public ValidateOptionsResult Validate(string? name, ControlPanelOptions o)
    {
        var failures = new List<string>();
        if (o.LiveWindow < TimeSpan.FromSeconds(10) || o.LiveWindow > TimeSpan.FromHours(1))
        {
            failures.Add("Lab:LiveWindow must be between 10 s and 1 h.");
        }

        foreach (var (key, url) in new[] { ("TelemetryViewerUrl", o.TelemetryViewerUrl), ("JaegerUrl", o.JaegerUrl) })
        {
            if (url is not null && (!url.IsAbsoluteUri || url.Scheme is not ("http" or "https")))
            {
                failures.Add($"Lab:{key} must be an absolute http(s) URL, not '{url}'.");
            }
        }

        if (o.RecentFailures is < 1 or > 1000 || o.SlowestRequests is < 1 or > 1000 || o.MaxReports is < 1 or > 1000)
        {
            failures.Add("Lab:RecentFailures, SlowestRequests and MaxReports must be between 1 and 1000.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
