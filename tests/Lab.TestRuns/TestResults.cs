using System.Globalization;
using System.Xml.Linq;

namespace Lab.TestRuns;

/// <summary>One test's result as a .trx file records it.</summary>
/// <param name="Assembly">The test assembly's path (what a rerun passes to dotnet test).</param>
/// <param name="FullName">Class and method: what <c>--filter FullyQualifiedName=</c> matches (every case of a theory).</param>
/// <param name="DisplayName">The name with a theory's arguments.</param>
public sealed record TestResult(string Assembly, string FullName, string ClassName, string DisplayName, string Outcome, TimeSpan Duration, string Message)
{
    public bool Failed => Outcome == "Failed";

    public bool Passed => Outcome == "Passed";

    /// <summary>The first line of the failure message, on one line, short enough for a summary.</summary>
    public string FirstLine
    {
        get
        {
            var line = Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
            line = line.Replace('\t', ' ');
            return line.Length > 300 ? line[..300] + "..." : line;
        }
    }
}

/// <summary>What one .trx file says: its results, its counters, and the tests a hang or crash of the test host cut off.</summary>
public sealed record TestRun(string File, IReadOnlyList<TestResult> Results, int Passed, int Failed, IReadOnlyList<string> Aborted)
{
    private static readonly XNamespace Trx = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";

    // What the test platform writes when a test host died: the blame collector's inactivity timeout (a hang), the run's
    // abort, and the test that was running at a crash. Whole phrases, matched case-sensitively on lines that are not the
    // adapter's own "[xUnit.net ...]" echo of a test's output or name (a test named "..._changed_..." is not a hang).
    private static readonly string[] AbortMarkers =
    [
        "The specified inactivity time of",
        "The active test run was aborted",
        "Test host process crashed",
        "The test running when the crash occurred",
    ];

    public static TestRun Read(string file)
    {
        var document = XDocument.Load(file);
        var root = document.Root ?? throw new InvalidDataException($"{file}: not a test results file");
        var methods = root.Descendants(Trx + "UnitTest").ToDictionary(
            test => (string)test.Attribute("id")!,
            test => test.Element(Trx + "TestMethod")!);
        var results = new List<TestResult>();
        foreach (var result in root.Descendants(Trx + "UnitTestResult"))
        {
            var method = methods[(string)result.Attribute("testId")!];
            var className = (string)method.Attribute("className")!;
            var message = result.Descendants(Trx + "Message").FirstOrDefault()?.Value ?? "";
            var duration = result.Attribute("duration") is { } d ? TimeSpan.Parse(d.Value, CultureInfo.InvariantCulture) : TimeSpan.Zero;
            results.Add(new TestResult(
                (string)method.Attribute("codeBase")!,
                $"{className}.{(string)method.Attribute("name")!}",
                className,
                (string)result.Attribute("testName")!,
                (string)result.Attribute("outcome")!,
                duration,
                message));
        }

        var counters = root.Descendants(Trx + "Counters").FirstOrDefault();
        var aborted = root.Descendants(Trx + "RunInfo")
            .Select(info => info.Element(Trx + "Text")?.Value ?? "")
            .Where(IsAbort)
            .ToList();
        return new TestRun(file, results, Count(counters, "passed"), Count(counters, "failed"), aborted);
    }

    /// <summary>Whether a run message says a test host died (hung or crashed) rather than echoing a test's output.</summary>
    public static bool IsAbort(string text) =>
        text.Split('\n').Any(line =>
            !line.TrimStart().StartsWith("[xUnit.net", StringComparison.Ordinal)
            && AbortMarkers.Any(marker => line.Contains(marker, StringComparison.Ordinal)));

    /// <summary>Every .trx file under <paramref name="directory"/> (none when it does not exist).</summary>
    public static IReadOnlyList<TestRun> ReadAll(string directory) =>
        Directory.Exists(directory)
            ? Directory.EnumerateFiles(directory, "*.trx", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(Read).ToList()
            : [];

    private static int Count(XElement? counters, string name) =>
        counters?.Attribute(name) is { } value ? int.Parse(value.Value, CultureInfo.InvariantCulture) : 0;
}
