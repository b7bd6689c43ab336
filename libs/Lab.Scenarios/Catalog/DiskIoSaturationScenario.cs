using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Lab.Scenarios.Catalog;

/// <summary>
/// A background writer in the targeted process (a log shipper, a backup, a compaction) writes blocks to a file on the
/// lab's disk and forces each to the device with fsync, as fast as the disk takes them. Everything else that waits for
/// that disk, above all a database committing its log, queues behind it. Bounded in bytes (the file wraps) and in time.
/// </summary>
public sealed class DiskIoSaturationScenario : Scenario
{
    public const string Name = "disk-io-saturation";

    private static readonly ConcurrentDictionary<string, Writer> Running = new(StringComparer.Ordinal);

    private static readonly Counter<long> Written = ScenarioTelemetry.Meter.CreateCounter<long>(
        "lab.scenario.disk_io.written", "By", "Bytes the disk-io-saturation writer wrote and forced to the device.");

    private static readonly Histogram<double> SyncDuration = ScenarioTelemetry.Meter.CreateHistogram(
        "lab.scenario.disk_io.sync.duration", "s", "How long each write and fsync of the disk-io-saturation writer took: the disk's own queue.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2] });

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "resources",
        Description: "A writer thread in the targeted process writes 'block' bytes at a time to a file in the lab's scenario directory and fsyncs each " +
                     "write, without pause, wrapping at 'file-size' so the disk use stays bounded (ResourceCaps.MaxDiskBytes). The file is deleted at disable, " +
                     "reset or expiry.",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Bytes("block", "1MB", "Bytes per write; each write is forced to the device.", min: "4KB", max: "64MB"),
            ParameterSpec.Bytes("file-size", "64MB", "Size of the file the writer cycles through.", min: "1MB", cap: ResourceCapKind.DiskBytes),
            ParameterSpec.Bool("fsync", true, "Force each block to the device (fsync); off, the writes only fill the page cache until the kernel flushes them."),
            ParameterSpec.Duration("duration", "60s", "How long the writer runs; it also stops at disable, reset or TTL.", min: "1s", max: "60m"),
        ],
        Signature: "lab.scenario.disk_io.written climbs and lab.scenario.disk_io.sync.duration shows the disk's queue; the database's commits wait on the " +
                   "same device, so lab.db.call.duration of writes rises (most on PostgreSQL, which forces its log at every commit; SQLite in WAL mode forces it only at checkpoints).",
        Cure: null,
        Runbook: new Runbook(
            Break: "lab scenario enable disk-io-saturation --set block=4MB --target service=payments",
            Hint: "Writes got slower everywhere that shares one disk, reads hardly. What else is writing to it?",
            Verify: "iostat -x (or /proc/diskstats) shows the device busy; lab.scenario.disk_io.written climbs in the payments process; db write spans are slower than before.",
            Restore: "lab scenario disable disk-io-saturation (or reset): the writer stops within one block and its file is deleted."));

    /// <summary>The file the writer of <paramref name="service"/> uses (for tests: it must be gone after reset).</summary>
    public static string FilePath(ResourceCaps caps, string service) => Path.Combine(caps.LabDirectory, $"disk-io-{service}.bin");

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        Stop(process.Service.Name);
        Directory.CreateDirectory(process.Caps.LabDirectory);
        var path = FilePath(process.Caps, process.Service.Name);
        var fileSize = Math.Min(activation.GetBytes("file-size"), process.Caps.MaxDiskBytes);
        var block = (int)Math.Min(activation.GetBytes("block"), fileSize);
        var writer = new Writer(new CancellationTokenSource(activation.GetDuration("duration"), process.Time), path);
        Running[process.Service.Name] = writer;
        writer.Thread = new Thread(() => Write(path, block, fileSize, activation.GetBool("fsync"), process.Service, writer.Stop.Token))
        {
            IsBackground = true,
            Name = "lab-disk-io",
        };
        writer.Thread.Start();
        return Task.CompletedTask;
    }

    public override Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        Stop(process.Service.Name);
        return Task.CompletedTask;
    }

    private static void Stop(string service)
    {
        if (!Running.TryRemove(service, out var writer))
        {
            return;
        }

        writer.Stop.Cancel();
        // One block at most: a write to a saturated disk can take a while, but the file must be gone when reset returns.
        writer.Thread?.Join(TimeSpan.FromSeconds(10));
        File.Delete(writer.Path);
    }

    private static void Write(string path, int block, long fileSize, bool fsync, ServiceIdentity service, CancellationToken stop)
    {
        var data = new byte[block];
        Random.Shared.NextBytes(data); // incompressible, as a backup or a log of real data is
        var tags = new TagList { { "service", service.Name } };
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0, FileOptions.WriteThrough);
        while (!stop.IsCancellationRequested)
        {
            if (file.Position + block > fileSize)
            {
                file.Position = 0;
            }

            var started = Stopwatch.GetTimestamp();
            file.Write(data);
            if (fsync)
            {
                file.Flush(flushToDisk: true);
            }

            SyncDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
            Written.Add(block, tags);
        }
    }

    private sealed class Writer(CancellationTokenSource stop, string path)
    {
        public CancellationTokenSource Stop { get; } = stop;
        public string Path { get; } = path;
        public Thread? Thread { get; set; }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var written = new SignatureFigure("bytes forced to disk", "MB", "lab.scenario.disk_io.written, every process",
                m => m.Delta("", "lab_scenario_disk_io_written_bytes_total") / (1 << 20), LowerIsBetter: false);
            var writes = new SignatureFigure("db write mean", "ms", "lab.db.call.duration of order.update-status, silos",
                m => SignatureFigure.Ratio(1000 * m.Delta("silo", "lab_db_call_duration_seconds_sum", ("db_operation", "order.update-status")),
                    m.Delta("silo", "lab_db_call_duration_seconds_count", ("db_operation", "order.update-status"))));
            return new ExperimentSpec(Name, [written, writes],
                [SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500)), SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.AtBaseline(writes)])
            {
                Mix = "checkout=100",
                Fault = new Dictionary<string, string> { ["block"] = "4MB", ["duration"] = "10m" },
                Target = new Dictionary<string, string> { ["service"] = "silo-1" },
            };
        }
    }
}
