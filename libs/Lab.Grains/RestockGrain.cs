using System.Diagnostics;
using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Lab.ServiceDefaults;
using Lab.Shop;
using Orleans.Concurrency;

namespace Lab.Grains;

/// <summary>
/// Receives a delivery and adds its lines to the stock, as the restock-writes seam says. The shop's own: each line through
/// its SKU's inventory grain, the one writer of that row, so a restock and a reservation never overwrite each other. A
/// reentrant stateless worker: deliveries are independent and may be received on any silo, as many at once as arrive.
/// </summary>
[StatelessWorker]
[Reentrant]
public sealed class RestockGrain(InventoryRepository inventory, ServiceIdentity identity) : Grain, IRestockGrain
{
    private const string UnknownSku = "no such SKU";

    public async Task<RestockReport> RestockAsync(IReadOnlyList<RestockLine> lines)
    {
        var writing = ShopSeams.RestockWrites.Resolve(identity, RestockWriting.ThroughGrain);
        Activity.Current?.SetTag("lab.restock.writer", writing.ToString());
        return writing.Writer == RestockWriter.InventoryGrain
            ? await ThroughGrainsAsync(lines)
            : await ReadModifyWriteAsync(lines, writing);
    }

    private async Task<RestockReport> ThroughGrainsAsync(IReadOnlyList<RestockLine> lines)
    {
        var levels = await Task.WhenAll(lines.Select(line => GrainFactory.GetGrain<IInventoryGrain>(line.Sku).RestockAsync(line.Quantity)));
        return new RestockReport(lines.Select((line, i) => new RestockedLine(line.Sku, levels[i], levels[i] is null ? UnknownSku : null)).ToList(),
            RestockWriter.InventoryGrain.ToString(), 0);
    }

    /// <summary>
    /// The job as a naive one is written: read every level in one query, then line by line look the product up (a delivery
    /// note may name a SKU the shop does not sell) and write its level back with the units added. What changed a row
    /// between the read and its write (a reservation, a sale) is overwritten, unless the write checks the row's version;
    /// then it re-reads that row and tries again, up to the policy's attempts.
    /// </summary>
    private async Task<RestockReport> ReadModifyWriteAsync(IReadOnlyList<RestockLine> lines, RestockWriting writing)
    {
        var versionChecked = writing.Writer == RestockWriter.VersionChecked;
        var read = (await inventory.ReadLevelsAsync(lines.Select(l => l.Sku).Distinct().ToList())).ToDictionary(r => r.Stock.Sku);
        var written = new List<RestockedLine>(lines.Count);
        var conflicts = 0;
        foreach (var line in lines)
        {
            if (!read.TryGetValue(line.Sku, out var row) || await GrainFactory.GetGrain<IProductGrain>(line.Sku).GetAsync() is null)
            {
                written.Add(new RestockedLine(line.Sku, null, UnknownSku));
                continue;
            }

            string? failure = null;
            for (var attempt = 1; ; attempt++)
            {
                var level = row.Stock with { InitialStock = row.Stock.InitialStock + line.Quantity, Available = row.Stock.Available + line.Quantity };
                if (await inventory.WriteLevelAsync(line.Sku, level.InitialStock, level.Available, versionChecked ? row.Version : null))
                {
                    row = new VersionedStock(level, row.Version + 1);
                    break;
                }

                conflicts++;
                LabTelemetry.WriteConflicts.Add(1, new KeyValuePair<string, object?>("db.operation", ShopOperations.InventoryWriteLevelVersioned));
                Activity.Current?.AddEvent(new ActivityEvent("lab.db.write_conflict", tags: new ActivityTagsCollection { ["sku"] = line.Sku, ["attempt"] = attempt }));
                if (attempt >= writing.Attempts || (await inventory.ReadLevelsAsync([line.Sku])).SingleOrDefault() is not { } fresh)
                {
                    failure = $"the row changed under each of {attempt} version-checked writes";
                    break;
                }

                row = fresh;
            }

            written.Add(new RestockedLine(line.Sku, failure is null ? row.Stock : null, failure));
        }

        return new RestockReport(written, writing.Writer.ToString(), conflicts);
    }
}
