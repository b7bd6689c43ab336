using System.Globalization;
using Lab.TestRuns;

const string Usage = """
    Reads the .trx files that dotnet test writes (--logger trx), for .ci/run and .ci/soak.

      failed DIR        one line per failed test: assembly, class.method, failed cases, first line of the message (tabs);
                        and a line per test host that was aborted (a hang or a crash), with "aborted" as the name
      passed DIR        exit 0 when DIR's results have a passed test and no failed one (a rerun that passed)
      count DIR...      "PASSED FAILED": the results' counters summed over every DIR
      classes DIR [S]   test classes by time (the sum of their tests), marking those over S seconds (default 15)
      soak DIR [S]      the soak's table: DIR/RUN/STORE/*.trx; per test how often it failed and its slowest time
    """;

if (args.Length < 2 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine(Usage);
    return args.Length == 1 && args[0] is "-h" or "--help" ? 0 : 2;
}

var limit = TimeSpan.FromSeconds(args.Length > 2 && double.TryParse(args[2], CultureInfo.InvariantCulture, out var seconds) ? seconds : 15);
try
{
    switch (args[0])
    {
        case "failed":
            foreach (var run in TestRun.ReadAll(args[1]))
            {
                foreach (var failures in run.Results.Where(r => r.Failed).GroupBy(r => (r.Assembly, r.FullName)))
                {
                    Console.WriteLine($"{failures.Key.Assembly}\t{failures.Key.FullName}\t{failures.Count()}\t{failures.First().FirstLine}");
                }

                foreach (var abort in run.Aborted)
                {
                    Console.WriteLine($"{run.File}\taborted\t0\t{abort.ReplaceLineEndings(" ").Replace('\t', ' ')}");
                }
            }

            return 0;
        case "passed":
            var results = TestRun.ReadAll(args[1]).SelectMany(r => r.Results).ToList();
            return results.Any(r => r.Passed) && !results.Any(r => r.Failed) ? 0 : 1;
        case "count":
            var runs = args.Skip(1).SelectMany(TestRun.ReadAll).ToList();
            Console.WriteLine($"{runs.Sum(r => r.Passed)} {runs.Sum(r => r.Failed)}");
            return 0;
        case "classes":
            var classes = TestRun.ReadAll(args[1]).SelectMany(r => r.Results)
                .GroupBy(r => r.ClassName)
                .Select(g => (Name: g.Key, Time: g.Aggregate(TimeSpan.Zero, (sum, r) => sum + r.Duration), Tests: g.Count()))
                .OrderByDescending(c => c.Time);
            foreach (var (name, time, tests) in classes)
            {
                Console.WriteLine(FormattableString.Invariant($"{(time > limit ? "over " : "     ")}{time.TotalSeconds,7:0.0}s {tests,4} tests  {name}"));
            }

            return 0;
        case "soak":
            Console.Write(SoakReport.Write(args[1], limit));
            return 0;
        default:
            Console.Error.WriteLine($"unknown command '{args[0]}'");
            Console.Error.WriteLine(Usage);
            return 2;
    }
}
catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Xml.XmlException or InvalidDataException)
{
    Console.Error.WriteLine($"lab-testruns: {ex.Message}");
    return 2;
}
