using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Lab.Cli.Launch;

/// <summary>One lab process: started with its settings, its output in a log file, stopped politely then firmly.</summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private static readonly TimeSpan GracefulStop = TimeSpan.FromSeconds(5);
    private const int SigTerm = 15;

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Func<ChildProcess> _startAgain;

    private ChildProcess(string name, Process process, StreamWriter log, string logPath, Func<ChildProcess> startAgain)
    {
        Name = name;
        _process = process;
        _log = log;
        LogPath = logPath;
        _startAgain = startAgain;
        Id = process.Id;
    }

    public string Name { get; }
    public string LogPath { get; }

    /// <summary>The process id (still readable after the process is gone, for logs and restart records).</summary>
    public int Id { get; }

    public bool HasExited => _disposed || _process.HasExited;
    public int? ExitCode => _disposed ? _exitCode : _process.HasExited ? _process.ExitCode : null;

    private bool _disposed;
    private int? _exitCode;

    public static ChildProcess Start(string name, string executable, IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string> environment, string workingDirectory, string logDirectory) =>
        Start(name, executable, arguments, environment, workingDirectory, logDirectory, appendLog: false);

    /// <summary>The same program with the same settings, as a new process (after this one exited); its log goes on in the same file.</summary>
    public ChildProcess StartAgain() => _startAgain();

    private static ChildProcess Start(string name, string executable, IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string> environment, string workingDirectory, string logDirectory, bool appendLog)
    {
        if (!File.Exists(executable))
        {
            throw new LaunchException($"{name}: {executable} does not exist. Build the solution first (dotnet build Lab.sln).");
        }

        Directory.CreateDirectory(logDirectory);
        var logPath = Path.Combine(logDirectory, $"{name}.log");
        var log = new StreamWriter(logPath, append: appendLog) { AutoFlush = true };
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        start.Environment["LAB_PARENT_PID"] = Environment.ProcessId.ToString();
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ChildProcess(name, process, log, logPath,
            () => Start(name, executable, arguments, environment, workingDirectory, logDirectory, appendLog: true));
    }

    /// <summary>The last lines of the log, to show why a process failed to start.</summary>
    public string Tail(int lines = 15)
    {
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        if (!OperatingSystem.IsWindows())
        {
            // SIGTERM lets the host stop gracefully and flush its telemetry.
            _ = Kill(_process.Id, SigTerm);
        }

        using var wait = new CancellationTokenSource(GracefulStop);
        try
        {
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        await StopAsync();
        _exitCode = _process.ExitCode;
        _disposed = true;
        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            if (log.BaseStream.CanWrite)
            {
                log.WriteLine(line);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

/// <summary>A launch problem with a message for the user (no stack trace).</summary>
public sealed class LaunchException(string message) : Exception(message);
