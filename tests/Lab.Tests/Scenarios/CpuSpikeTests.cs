using System.Diagnostics;
using System.Globalization;
using Lab.Scenarios.Catalog;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// cpu-spike on the real lab: the targeted silo's process burns a core with one worker thread; the other silo has none. The
/// burn is read where it happens, from the worker thread's own CPU time.
/// </summary>
[ScenarioTest(CpuSpikeScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class CpuSpikeTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const string WorkerName = "lab-cpu-spike-0";
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task The_targeted_silo_burns_about_one_core_more_and_stops_on_disable()
    {
        await fixture.ResetEverywhereAsync();

        await fixture.EnableEverywhereAsync("cpu-spike", """{"parameters":{"cores":1,"duration":"20s"},"target":{"service":"silo-1"},"ttl":"1m"}""");
        var worker = await Eventually.GetAsync(() => Task.FromResult(FindThread("silo-1", WorkerName)), tid => tid is not null,
            TimeSpan.FromSeconds(5), "silo-1 runs the cpu-spike worker thread");
        Assert.Null(FindThread("silo-2", WorkerName));

        // What one busy thread can get on this (shared) machine right now: a reference spinner in this process,
        // over the same window. On a quiet machine that is a full core; under load, the fair share.
        var workerStart = ThreadCpu(fixture.ProcessId("silo-1"), worker!.Value);
        var workerClock = Stopwatch.StartNew();
        var reference = Task.Factory.StartNew(() => SpinAndMeasure(Window), TaskCreationOptions.LongRunning);
        var (during1, during2) = await CoresOverAsync(Window);
        var referenceCores = await reference;
        // Over the time really elapsed between the two readings: awaiting the spinner can take longer than the window.
        var workerCores = (ThreadCpu(fixture.ProcessId("silo-1"), worker.Value) - workerStart) / workerClock.Elapsed;

        await fixture.DisableEverywhereAsync("cpu-spike");
        await Eventually.GetAsync(() => Task.FromResult(FindThread("silo-1", WorkerName)), tid => tid is null,
            TimeSpan.FromSeconds(5), "the worker thread is gone after disable");
        output.WriteLine($"cores used by silo-1 / silo-2 while on: {during1:0.00} / {during2:0.00}; the worker {workerCores:0.00}, a reference spinner " +
                         $"{referenceCores:0.00}; load {File.ReadAllText("/proc/loadavg").Trim()}");

        // The worker burns what a busy thread can get (a core when one is free; a share of one as fair as a spinner of this
        // process gets beside it), never more than the configured core. (How the whole processes add up depends on what else
        // they run: reported above.)
        Assert.InRange(workerCores, referenceCores * 0.3, 1.1);
    }

    /// <summary>CPU time of each silo's process over a window, in cores (from /proc/PID/stat).</summary>
    private async Task<(double Silo1, double Silo2)> CoresOverAsync(TimeSpan window)
    {
        var start1 = fixture.CpuTime("silo-1");
        var start2 = fixture.CpuTime("silo-2");
        var clock = Stopwatch.StartNew();
        await Task.Delay(window);
        var elapsed = clock.Elapsed;
        return ((fixture.CpuTime("silo-1") - start1) / elapsed, (fixture.CpuTime("silo-2") - start2) / elapsed);
    }

    private int? FindThread(string service, string name)
    {
        var pid = fixture.ProcessId(service);
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).Trim() == name)
                {
                    return int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
                // The thread ended while we looked.
            }
        }

        return null;
    }

    private static TimeSpan ThreadCpu(int pid, int tid) => StatCpu(File.ReadAllText($"/proc/{pid}/task/{tid}/stat"));

    private static double SpinAndMeasure(TimeSpan window)
    {
        var start = StatCpu(File.ReadAllText("/proc/thread-self/stat"));
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < window)
        {
            Thread.SpinWait(64);
        }

        return (StatCpu(File.ReadAllText("/proc/thread-self/stat")) - start) / clock.Elapsed;
    }

    /// <summary>utime + stime (fields 14 and 15, clock ticks of 10 ms) of a /proc stat line.</summary>
    private static TimeSpan StatCpu(string stat)
    {
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return TimeSpan.FromMilliseconds((long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10);
    }
}
