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

    public static void Record(string dataDirectory, IEnumerable<ChildProcess> processes) =>
        File.WriteAllLines(Path.Combine(dataDirectory, FileName),
            processes.Where(process => !process.HasExited).Select(process => $"{process.Id} {process.Name}"));

    public static IEnumerable<string> StopLeftovers(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path))
        {
            return [];
        }

        var stopped = new List<string>();
        foreach (var line in File.ReadAllLines(path))
        {
            var parts = line.Split(' ', 2);
            if (parts.Length != 2 || !int.TryParse(parts[0], out var pid) || TryGetRunning(pid) is not { } process)
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
