using System.Text.Json;
using Spectre.Console;

namespace Lab.Cli;

/// <summary>
/// <c>--output json</c> for a command that also starts a lab and shows progress: while it runs, everything written for
/// people goes to stderr, and stdout receives one JSON document (the result, or <c>{"error"}</c>) and nothing else.
/// </summary>
public sealed class JsonOutput : IDisposable
{
    private static JsonOutput? s_current;

    private readonly TextWriter _stdout;
    private readonly IAnsiConsole _console;
    private bool _written;

    private JsonOutput()
    {
        _stdout = Console.Out;
        _console = AnsiConsole.Console;
        Console.SetOut(Console.Error);
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
    }

    /// <summary>Sends people's output to stderr until disposed.</summary>
    public static JsonOutput Begin() => s_current = new JsonOutput();

    /// <summary>Prints <paramref name="json"/> on stdout when JSON output is on (the document a script reads).</summary>
    public static void Document(string json)
    {
        if (s_current is { } current)
        {
            current._stdout.WriteLine(json);
            current._written = true;
        }
    }

    /// <summary>Reports an error to people (stderr in JSON mode) and, in JSON mode, as <c>{"error"}</c> on stdout.</summary>
    /// <returns>2, the exit code of a usage error or of a lab that could not start.</returns>
    public static int Error(string message)
    {
        AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {message}");
        Document(JsonSerializer.Serialize(new { error = message }));
        return 2;
    }

    /// <summary>A command that ended without a document (the lab failed to start, Ctrl+C) still prints one.</summary>
    public void End(int exitCode)
    {
        if (!_written)
        {
            Document(JsonSerializer.Serialize(new { error = exitCode == 130 ? "interrupted" : $"no result (exit code {exitCode}); see the messages on stderr" }));
        }
    }

    public void Dispose()
    {
        Console.SetOut(_stdout);
        AnsiConsole.Console = _console;
        s_current = null;
    }
}
