using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestFramework("Lab.Tests.Support.RunOrderFramework", "Lab.Tests")]

namespace Lab.Tests.Support;

/// <summary>
/// xunit's own framework, with one switch: LAB_TEST_ORDER=reverse runs the collections, the classes within each collection and
/// the tests within each class in the reverse of their usual order. A test that passes both ways does not depend on what ran
/// before it in its shared lab.
/// </summary>
public sealed class RunOrderFramework(IMessageSink messageSink) : XunitTestFramework(messageSink)
{
    public const string Variable = "LAB_TEST_ORDER";

    public static bool Reversed => string.Equals(Environment.GetEnvironmentVariable(Variable), "reverse", StringComparison.OrdinalIgnoreCase);

    protected override ITestFrameworkExecutor CreateExecutor(AssemblyName assemblyName) =>
        new Executor(assemblyName, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Executor(AssemblyName assemblyName, ISourceInformationProvider sourceInformation, IMessageSink diagnostics)
        : XunitTestFrameworkExecutor(assemblyName, sourceInformation, diagnostics)
    {
        protected override async void RunTestCases(IEnumerable<IXunitTestCase> testCases, IMessageSink executionMessageSink,
            ITestFrameworkExecutionOptions executionOptions)
        {
            using var runner = new AssemblyRunner(TestAssembly, testCases, DiagnosticMessageSink, executionMessageSink, executionOptions);
            await runner.RunAsync();
        }
    }

    private sealed class AssemblyRunner(ITestAssembly assembly, IEnumerable<IXunitTestCase> testCases, IMessageSink diagnostics,
        IMessageSink executionMessageSink, ITestFrameworkExecutionOptions executionOptions)
        : XunitTestAssemblyRunner(assembly, testCases, diagnostics, executionMessageSink, executionOptions)
    {
        protected override async Task AfterTestAssemblyStartingAsync()
        {
            await base.AfterTestAssemblyStartingAsync();
            if (Reversed)
            {
                TestCollectionOrderer = new ReverseCollections(TestCollectionOrderer);
                TestCaseOrderer = new ReverseCases(TestCaseOrderer);
            }
        }

        // The classes of a collection run in the order their test cases arrive here.
        protected override Task<RunSummary> RunTestCollectionAsync(IMessageBus messageBus, ITestCollection testCollection,
            IEnumerable<IXunitTestCase> testCases, CancellationTokenSource cancellationTokenSource) =>
            base.RunTestCollectionAsync(messageBus, testCollection,
                Reversed ? testCases.GroupBy(c => c.TestMethod.TestClass.Class.Name).Reverse().SelectMany(c => c) : testCases,
                cancellationTokenSource);
    }

    private sealed class ReverseCollections(ITestCollectionOrderer usual) : ITestCollectionOrderer
    {
        public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
            usual.OrderTestCollections(testCollections).Reverse();
    }

    private sealed class ReverseCases(ITestCaseOrderer usual) : ITestCaseOrderer
    {
        public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
            where TTestCase : ITestCase =>
            usual.OrderTestCases(testCases).Reverse();
    }
}
