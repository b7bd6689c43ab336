using System.Data;
using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Lab.Shop;
using Orleans.Concurrency;

namespace Lab.Grains;

/// <summary>Runs the back office's reports, each in one read transaction at the report-isolation seam's level.</summary>
[StatelessWorker]
[Reentrant]
public sealed class ReportGrain(ReportRepository reports, ServiceIdentity identity) : Grain, IReportGrain
{
    public Task<SalesReport> SalesAsync(DateTimeOffset since) =>
        reports.SalesAsync(since, ShopSeams.ReportIsolation.Resolve(identity, IsolationLevel.RepeatableRead));
}
