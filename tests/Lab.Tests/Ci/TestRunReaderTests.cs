using Lab.TestRuns;
using Lab.Tests.Support;

namespace Lab.Tests.Ci;

/// <summary>
/// .ci/run reruns each failed test and fails the run for a test host that died; the reader of the .trx files must tell the
/// two apart. A CI run once counted a flaky test that passed on its rerun as an abort as well, because its name
/// ("..._changed_...") held the word "hang".
/// </summary>
[Trait(TestStore.Trait, TestStore.Independent)]
public sealed class TestRunReaderTests
{
    private const string FailedTest = "Lab.Tests.Panel.ControlPanelTests.A_scenario_enabled_in_the_form_shows_in_the_live_view_then_is_changed_disabled_and_reset";

    [Fact]
    public void A_failed_test_whose_name_or_output_says_hang_or_aborted_is_a_failure_to_rerun_not_an_aborted_host()
    {
        var run = Read(
            $"[xUnit.net 00:03:05.70]     {FailedTest} [FAIL]",
            "[xUnit.net 00:03:06.01]       Output: the request was aborted by the client; the hang-up was expected");

        Assert.Equal(FailedTest, Assert.Single(run.Results, r => r.Failed).FullName);
        Assert.Empty(run.Aborted);
    }

    [Theory]
    [InlineData("The specified inactivity time of 5 minutes has elapsed. Collecting hang dumps from testhost and its child processes")]
    [InlineData("The active test run was aborted. Reason: Test host process crashed : Fatal error.")]
    [InlineData("The test running when the crash occurred:\nLab.Tests.Scenarios.SiloCrashTests.A_test")]
    public void A_host_killed_by_the_hang_timeout_or_a_crash_is_an_aborted_run(string message)
    {
        var run = Read(message);

        Assert.Equal(message, Assert.Single(run.Aborted));
    }

    private static TestRun Read(params string[] runMessages)
    {
        var file = Path.Combine(Path.GetTempPath(), $"lab-testruns-{Guid.NewGuid():N}.trx");
        var infos = string.Concat(runMessages.Select(message =>
            $"""<RunInfo computerName="vm" outcome="Error" timestamp="2026-12-08T00:00:00Z"><Text>{System.Security.SecurityElement.Escape(message)}</Text></RunInfo>"""));
        File.WriteAllText(file, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
              <Results>
                <UnitTestResult testId="t1" testName="{FailedTest}" outcome="Failed" duration="00:00:12.5">
                  <Output><ErrorInfo><Message>Locator expected to be visible</Message></ErrorInfo></Output>
                </UnitTestResult>
              </Results>
              <TestDefinitions>
                <UnitTest id="t1" name="{FailedTest}">
                  <TestMethod codeBase="/tmp/Lab.Tests.dll" className="Lab.Tests.Panel.ControlPanelTests" name="A_scenario_enabled_in_the_form_shows_in_the_live_view_then_is_changed_disabled_and_reset" />
                </UnitTest>
              </TestDefinitions>
              <ResultSummary outcome="Failed">
                <Counters total="1" executed="1" passed="0" failed="1" />
                <RunInfos>{infos}</RunInfos>
              </ResultSummary>
            </TestRun>
            """);
        try
        {
            return TestRun.Read(file);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
