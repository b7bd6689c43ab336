using System.Diagnostics;

namespace Lab.Cli.Launch;

/// <summary>
/// DATA_DIR/processes lists the lab's children while they run. If the launcher itself is killed outright, the
/// lab processes stop on their own (they watch it), but the telemetry viewer cannot; the next start stops what
/// the list still shows running.
/// </summary>
internal static class ProcessRegistry
{
    private const string FileName = "processes";

    /// <summary>The first line names the launcher that owns the lab: its pid and its start time (pids are reused).</summary>
    private const string Launcher = "launcher";

    private static readonly string Self = $"{Environment.ProcessId} {Launcher} {StartTicks(Process.GetCurrentProcess())}";

    public static void Record(string dataDirectory, IEnumerable<ChildProcess> processes) =>
        File.WriteAllLines(Path.Combine(dataDirectory, FileName),
            [Self, .. processes.Where(process => !process.HasExited).Select(process => $"{process.Id} {process.Name}")]);

    /// <summary>
    /// Stops what an earlier run left running. A launcher that still runs is no leftover: it supervises its processes and
    /// would start them again, so two labs would fight over one directory and its ports; that is refused.
    /// </summary>
    /// <exception cref="LaunchException">Another launcher runs a lab from <paramref name="dataDirectory"/>.</exception>
    public static IEnumerable<string> StopLeftovers(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path))
        {
            return [];
        }

        var lines = File.ReadAllLines(path);
        if (lines.Select(line => line.Split(' ')).FirstOrDefault(parts => parts is [_, Launcher, _]) is [var launcherPid, _, var ticks]
            && int.TryParse(launcherPid, out var owner) && owner != Environment.ProcessId && TryGetRunning(owner) is { } running)
        {
            using (running)
            {
                if (StartTicks(running).ToString(System.Globalization.CultureInfo.InvariantCulture) == ticks)
                {
                    throw new LaunchException($"A lab is already running from {dataDirectory} (its launcher is process {owner}). Stop it first " +
                                              $"(Ctrl+C where it runs, or kill {owner}), or give this one another --data-dir and other ports.");
                }
            }
        }

        var stopped = new List<string>();
        foreach (var line in lines)
        {
            var parts = line.Split(' ', 2);
            if (parts.Length != 2 || parts[1].StartsWith(Launcher, StringComparison.Ordinal) || !int.TryParse(parts[0], out var pid)
                || TryGetRunning(pid) is not { } process)
            {
                continue;
            }

            using (process)
            {
                // Only a process that still looks like the one recorded (pids are reused).
                var expected = parts[1] == "aspire-dashboard" ? "Aspire." : "Lab.";
                if (process.ProcessName.StartsWith(expected, StringComparison.Ordinal) || process.ProcessName.StartsWith(parts[1], StringComparison.Ordinal))
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(TimeSpan.FromSeconds(5));
                    stopped.Add($"{parts[1]} (pid {pid})");
                }
            }
        }

        File.Delete(path);
        return stopped;
    }

    /// <summary>
    /// When the process started, as a number that reads the same from any process: Linux's start time in clock ticks since
    /// boot (Process.StartTime is derived from it with the boot time, which two readings compute a few milliseconds apart).
    /// </summary>
    private static long StartTicks(Process process)
    {
        var stat = $"/proc/{process.Id}/stat";
        if (File.Exists(stat))
        {
            var text = File.ReadAllText(stat);
            // Fields after the command name (in parentheses, which may hold spaces): state is field 3, starttime field 22.
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[19], System.Globalization.CultureInfo.InvariantCulture);
        }

        return process.StartTime.ToUniversalTime().Ticks / TimeSpan.TicksPerSecond;
    }

    private static Process? TryGetRunning(int pid)
    {
        try
        {
            var process = Process.GetProcessById(pid);
            if (!process.HasExited)
            {
                return process;
            }

            process.Dispose();
            return null;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
